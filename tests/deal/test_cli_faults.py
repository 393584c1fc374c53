"""`computemoat deal --fault-draws`: the Monte-Carlo over withdrawal timing and the simulator's faults in the
printed result and the JSON (real YAML loader, real HiGHS, the real simulator), and its bad values."""

from __future__ import annotations

import json
from pathlib import Path

from tests.deal.test_cli import OFFER, SCENARIO
from typer.testing import CliRunner

from computemoat.cli import app

# the tiny CLI scenario plus a 500-hour training job that may run in February (the offer's first month)
WITH_JOB = (
    SCENARIO.replace(
        "horizon:\n",
        """training_jobs:
  - {id: train, accelerators: [H100], gpus: 8, hours: 500}
horizon:
""",
    )
    + "  training_windows:\n    - {job: train, earliest_start: 2027-02-01, deadline: 2027-03-01}\n"
)
LABEL = "Monte-Carlo over withdrawal timing and the simulator's faults, 20 draws in-process"


def _run(tmp: Path, *extra: str) -> tuple[int, str, Path]:
    (tmp / "s.yaml").write_text(WITH_JOB)
    (tmp / "o.yaml").write_text(
        OFFER.replace("withdrawal_probability_per_year: 0.0", "withdrawal_probability_per_year: 0.3")
    )
    out = tmp / "deal.json"
    args = ["deal", str(tmp / "o.yaml"), "--scenario", str(tmp / "s.yaml"), "--out", str(out), "--mip-gap", "0"]
    result = CliRunner().invoke(app, [*args, *extra])
    return result.exit_code, result.output, out


def test_fault_draws_print_the_sampled_what_and_write_the_key(tmp_path: Path) -> None:
    code, output, out = _run(tmp_path, "--fault-draws", "20", "--no-ray")
    assert code == 0, output
    doc = json.loads(out.read_text())
    mc = doc["faults_mc"]
    assert (mc["draws"], mc["runner"], mc["first_seed"]) == (20, "in-process", 0)
    assert mc["sampled"] == "withdrawal timing and the simulator's faults"
    assert [p["plan"] for p in mc["plans"]] == ["without", "with_offer"]
    flat = " ".join(output.split())  # the console wraps long lines
    assert LABEL in flat and "(closed form over withdrawal timing)" in flat
    p5, p50, p95 = mc["savings_p5_p50_p95_usd"]
    assert f"P5/P50/P95 ${p5:,.0f} / ${p50:,.0f} / ${p95:,.0f} ({LABEL})" in flat
    # the default fault model acts on the job in both plans (the spread of its overrun is not 0)
    assert len(doc["with_offer"]["training"]) == len(doc["without"]["training"]) == 1
    assert all(p["overrun_usd_p5_p50_p95"][0] < p["overrun_usd_p5_p50_p95"][2] for p in mc["plans"])
    assert "training runs under faults: mean overrun" in flat


def test_zero_fault_draws_keep_the_timing_only_result(tmp_path: Path) -> None:
    code, output, out = _run(tmp_path, "--fault-draws", "0")
    assert code == 0, output
    doc = json.loads(out.read_text())
    assert "faults_mc" not in doc
    p5, p50, p95 = doc["savings_p5_p50_p95_usd"]
    flat = " ".join(output.split())
    pcts = f"P5/P50/P95 ${p5:,.0f} / ${p50:,.0f} / ${p95:,.0f}"
    assert f"{pcts} (Monte-Carlo over withdrawal timing, 10,000 draws)" in flat
    assert "simulator's faults" not in flat


def test_negative_fault_draws_are_one_line_and_exit_2(tmp_path: Path) -> None:
    code, output, out = _run(tmp_path, "--fault-draws", "-1")
    assert code == 2, output
    assert "Traceback" not in output and not out.exists()
    lines = [ln for ln in output.splitlines() if ln.strip()]
    assert lines == ["error: --fault-draws -1: give a number of draws >= 0 (0: withdrawal timing only)"], output


def test_the_cli_default_is_the_library_default() -> None:
    from computemoat.cli.deal import DEFAULT_FAULT_DRAWS
    from computemoat.sim.deal import DEFAULT_DRAWS

    assert DEFAULT_FAULT_DRAWS == DEFAULT_DRAWS
