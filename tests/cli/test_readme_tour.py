"""README.md's tour blocks match a fresh run (as docs/cli.md matches --help): a figure in the README
never goes stale. Regenerate with `make readme` (scripts/refresh_readme.py)."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("refresh_readme", ROOT / "scripts" / "refresh_readme.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_blocks_parse_and_abridge() -> None:
    """The machinery on a tiny README: commands, continuations, outputs, elision and masks."""
    rr = _script()
    text = (
        "intro\n<!-- tour {\"elide\": [[\"^b\", \"^d\", \"… {lines} cut …\"]]} -->\n```console\n"
        "$ printf 'a\\nb\\nc\\nd\\n'\na\n… 2 cut …\nd\n$ echo one \\\n  two\none two\n```\nafter\n"
    )
    (block,) = rr.parse(text)
    assert [s.command for s in block.steps] == ["printf 'a\\nb\\nc\\nd\\n'", "echo one \\\n  two"]
    assert rr.abridge(["a", "b", "c", "d"], block.elide) == ["a", "… 2 cut …", "d"]
    assert rr.mask("solver: 0.25 s, month 2026-12") == "solver: <seconds> s, month <month>"
    new, diffs = rr.refreshed(text)
    assert diffs == []  # the block already reads as its fresh run
    assert new.startswith("intro\n") and new.endswith("```\nafter\n")


def test_a_stale_block_is_reported() -> None:
    rr = _script()
    text = "<!-- tour -->\n```console\n$ echo 41\n41\n```\n"
    new, diffs = rr.refreshed(text.replace("41\n```", "42\n```"))
    assert len(diffs) == 1 and "-42" in diffs[0] and "+41" in diffs[0]
    assert new == text


def test_ports_are_swapped_for_free_ones() -> None:
    """A README port that is busy does not stop the tour: the command runs on a free one."""
    rr = _script()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        text = f"<!-- tour -->\n```console\n$ echo --port {busy}\n--port {busy}\n```\n"
        _, diffs = rr.refreshed(text)
    assert diffs == []


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_readme_tour_matches_a_fresh_run() -> None:
    rr = _script()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(rr.parse(readme)) >= 6
    _, diffs = rr.refreshed(readme)
    assert not diffs, "README.md is stale; run `make readme`:\n" + "\n\n".join(diffs)


def test_tour_script_refuses_a_busy_port() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        proc = subprocess.run(["bash", str(ROOT / "scripts" / "tour.sh")], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "MOCK_PORT": str(busy)})
    assert proc.returncode == 1
    assert f"port {busy} is in use" in proc.stderr and "$ computemoat" not in proc.stdout
