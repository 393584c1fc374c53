"""`computemoat deal` end to end on a small scenario file (real YAML loader, real latency, real HiGHS), and
every kind of bad input as one `file:line` line with exit code 2."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from computemoat.cli import app

SCENARIO = """\
name: tiny
catalog: {bundled: false}
providers:
  - {name: a, kind: hyperscaler, jurisdiction: US}
  - {name: b, kind: specialized, jurisdiction: US}
sites:
  - {provider: a, region: x, lat_deg: 40.0, lon_deg: -74.0}
  - {provider: b, region: y, lat_deg: 40.5, lon_deg: -74.5}
accelerators:
  - {name: H100, board_power_w: 700, memory_gb: 80}
offerings:
  - {site: "a:x", accelerator: H100, instance_type: h100x8, usd_per_gpu_hour_on_demand: 2.0, capacity_gpus: 64}
user_regions:
  regions:
    - {name: r, lat_deg: 40.7, lon_deg: -74.0}
inference_services:
  - {id: chat, model: m, accelerators: [H100], gpus_per_replica: 8, rps_per_replica: 1, demand_rps: {r: 2},
     latency_slo_ms: 50}
horizon:
  start: 2027-01-01
  periods: 8
"""

OFFER = """\
name: t
provider: b
capacity:
  - {site: "b:y", accelerator: H100, capacity_gpus: 16}
usd_per_gpu_hour: 1.2
term_months: 6
take_or_pay_share: 0.7
min_commit_gpus: 8
start: 2027-02-01
exposure_step_months: 2
withdrawal_probability_per_year: 0.0
"""


def _files(tmp: Path, scenario: str = SCENARIO, offer: str = OFFER) -> tuple[Path, Path]:
    (tmp / "s.yaml").write_text(scenario)
    (tmp / "o.yaml").write_text(offer)
    return tmp / "s.yaml", tmp / "o.yaml"


def test_deal_end_to_end(tmp_path: Path) -> None:
    s, o = _files(tmp_path)
    out = tmp_path / "deal.json"
    result = CliRunner().invoke(app, ["deal", str(o), "--scenario", str(s), "--out", str(out), "--mip-gap", "0"])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    unit = 8 * 730.0
    # hand-worked in tests/deal/test_evaluate.py: months 1-6 move to b at $1.20 instead of $2.00
    assert data["savings_usd"] == pytest.approx(2 * unit * 0.8 * 6)
    assert data["break_even"]["usd_per_gpu_hour"] == pytest.approx(2.0, abs=0.0101)
    assert "break-even price $" in result.output and "If b withdraws" in result.output


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


BAD = {
    "unknown site": ("offer", '"b:y"', '"b:zz"', "capacity[0].site: unknown site 'b:zz'"),
    "unknown accelerator": ("offer", "accelerator: H100", "accelerator: H999", "unknown accelerator 'H999'"),
    "term longer than the horizon": ("offer", "term_months: 6", "term_months: 12", "ends after the horizon"),
    "take-or-pay above 1": ("offer", "take_or_pay_share: 0.7", "take_or_pay_share: 1.5", "take_or_pay_share"),
    "offer starts before the horizon": ("offer", "start: 2027-02-01", "start: 2026-06-01", "before the horizon start"),
    "offer starts after the horizon": ("offer", "start: 2027-02-01", "start: 2035-01-01",
                                       "start: 2035-01-01 is after the horizon"),
    "an impossible date": ("offer", "start: 2027-02-01", "start: 2027-02-30", "'2027-02-30' is not a date"),
    "window deadline before its start": (
        "scenario", "  periods: 8",
        "  periods: 8\n  training_windows:\n    - {job: j, earliest_start: 2027-05-01, deadline: 2027-03-01}",
        "is not after earliest_start",
    ),
    "demand series of the wrong length": (
        "scenario", "  periods: 8", "  periods: 8\n  demand:\n    - {service: chat, scale: [1, 1, 1]}",
        "has 3 values, the horizon has 8 periods",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_with_file_and_line_and_exit_2(case: str, tmp_path: Path) -> None:
    which, old, new, message = BAD[case]
    scenario = SCENARIO.replace(old, new) if which == "scenario" else SCENARIO
    offer = OFFER.replace(old, new) if which == "offer" else OFFER
    s, o = _files(tmp_path, scenario, offer)
    result = CliRunner().invoke(app, ["deal", str(o), "--scenario", str(s)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, result.output
    path, text = (s, scenario) if which == "scenario" else (o, offer)
    expected_line = _line_of(text, new.splitlines()[-1])  # the line the user wrote
    assert f"{path}:{expected_line}:" in lines[0], lines[0]
    assert message in lines[0]


def test_bundled_example_offer_loads_against_the_default_scenario() -> None:
    from computemoat.catalog import default_scenario
    from computemoat.planner.deal import apply_offer, load_offer

    sc = default_scenario()
    offer = load_offer(Path(__file__).parents[2] / "examples" / "deal.yaml", sc)
    applied = apply_offer(sc, offer)
    assert applied.horizon is not None and applied.horizon.periods == 13
    assert any(c.id.startswith("offer:") and c.take_or_pay_share == 0.7 for c in applied.horizon.commitments)


def test_deal_prints_and_writes_the_exposure_curve(tmp_path: Path) -> None:
    """The withdrawal curve is in the printed table and in the JSON, row for row. Oracle for the stranded
    column, by hand: $100/GPU upfront on 16 GPUs over a 6-month term from month 1, withdrawn at month m
    strands 100 x 16 x (1 - (m - 1) / 6): $1,067 at m = 3, $533 at m = 5."""
    s, o = _files(tmp_path, offer=OFFER + "upfront_usd_per_gpu: 100\n")
    out = tmp_path / "deal.json"
    result = CliRunner().invoke(app, ["deal", str(o), "--scenario", str(s), "--out", str(out), "--mip-gap", "0"])
    assert result.exit_code == 0, result.output
    exposure = json.loads(out.read_text())["exposure"]
    assert [(p["month"], p["date"]) for p in exposure] == [(3, "2027-04-01"), (5, "2027-06-01")]
    assert [p["stranded_usd"] for p in exposure] == pytest.approx([100 * 16 * 4 / 6, 100 * 16 * 2 / 6])
    lines = result.output.splitlines()
    for p in exposure:
        (row,) = [ln for ln in lines if ln.strip().startswith(f"{p['month']} ({p['date']})")]
        cells = row.split()[2:]

        def usd(v: float) -> str:
            return f"-${-v:,.0f}" if v < 0 else f"${v:,.0f}"

        assert cells == [usd(p["stranded_usd"]), usd(p["replan_extra_usd"]), usd(p["savings_usd"])], row


def test_a_refused_offer_says_there_is_no_exposure(tmp_path: Path) -> None:
    """At $2.50 (dearer than $2.00 on demand at a) nothing is committed, so there is no curve to show:
    the CLI says so in one line instead of printing nothing, and the JSON's curve is empty."""
    s, o = _files(tmp_path, offer=OFFER.replace("usd_per_gpu_hour: 1.2", "usd_per_gpu_hour: 2.5"))
    out = tmp_path / "deal.json"
    result = CliRunner().invoke(app, ["deal", str(o), "--scenario", str(s), "--out", str(out), "--mip-gap", "0"])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["exposure"] == [] and json.loads(out.read_text())["committed_gpus"] == 0
    assert "no withdrawal exposure: nothing is committed to b at $2.50/GPU-h" in result.output
    assert "If b withdraws" not in result.output


@pytest.mark.parametrize("n", [1, 5, 12, 13, 35, 100])
def test_the_printed_curve_is_compact_and_keeps_both_ends(n: int) -> None:
    from computemoat.cli.deal import EXPOSURE_ROWS, exposure_rows

    rows = exposure_rows(n)
    assert rows[0] == 0 and rows[-1] == n - 1 and len(rows) <= EXPOSURE_ROWS
    assert rows == sorted(set(rows)) and (n > EXPOSURE_ROWS or rows == list(range(n)))
    gaps = {b - a for a, b in itertools.pairwise(rows[:-1])}
    assert len(gaps) <= 1  # evenly spaced up to the last point
