"""One "did you mean", one plural rule, one HOURS_PER_MONTH for every floor."""

from __future__ import annotations

import subprocess
from pathlib import Path

from computemoat.model import HOURS_PER_MONTH, closest, did_you_mean
from computemoat.model.text import plural

SRC = Path(__file__).parents[2] / "src" / "computemoat"


def test_did_you_mean() -> None:
    assert did_you_mean("polcy", ["policy", "providers"]) == "did you mean 'policy'?"
    assert did_you_mean("zzz", ["policy"]) == ""
    assert did_you_mean("zzz", ["b", "a"], known=True) == "known: a, b"
    assert closest("Londn", ["London", "Lagos"], cutoff=0.8) == "London"
    assert closest("Paris", ["London"], cutoff=0.8) is None


def test_plural() -> None:
    assert [plural(n, "job") for n in (0, 1, 2, 1000)] == ["0 jobs", "1 job", "2 jobs", "1,000 jobs"]
    assert plural(1, "replica") == "1 replica"


def test_hours_per_month_is_a_twelfth_of_a_365_day_year() -> None:
    assert HOURS_PER_MONTH * 12 == 365 * 24


def test_no_second_copy_in_the_source() -> None:
    """Oracle: the source tree itself; difflib and the 730 literal live in model/ only."""
    for pattern in ("get_close_matches", "= 730.0", "/ 730"):
        hits = subprocess.run(["grep", "-rln", "--include=*.py", pattern, str(SRC)], capture_output=True, text=True)
        files = {Path(p).relative_to(SRC).as_posix() for p in hits.stdout.split()}
        assert files <= {"model/suggest.py", "model/units.py"}, (pattern, files)
