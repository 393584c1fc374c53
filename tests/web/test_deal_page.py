"""The deal page in real headless chromium, on a deal.json the real CLI wrote (tests/web/deal_case).

Oracles: the file itself read with json (not the page's reader), identities between its parts (per-period
savings add up to the plans' totals; shares recomputed from the per-provider spend and GPUs), and the
closed form of the stranded upfront: upfront x committed GPUs x (1 - (m - first) / term)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browsing import visit

from computemoat.catalog import load_scenario
from computemoat.web import DashboardData, create_dashboard_app
from computemoat.web.data import build_dashboard_data
from conftest import DEAL_CASE, SCREENSHOTS, serve_app

UPFRONT_USD_PER_GPU, FIRST_PERIOD, TERM_PERIODS = 500.0, 2, 9  # tests/web/deal_case/offer.yaml: 2027-03-01, 9 months


def _usd(v: float) -> str:
    return f"-${-v:,.0f}" if v < 0 else f"${v:,.0f}"


@pytest.fixture(scope="module")
def deal_site(deal_file: Path) -> Iterator[str]:
    data = build_dashboard_data(load_scenario(DEAL_CASE / "scenario.yaml"), solve=False, deal_path=deal_file)
    with serve_app(create_dashboard_app(data)) as url:
        yield url


@pytest.fixture(scope="module")
def empty_deal_site() -> Iterator[str]:
    with serve_app(create_dashboard_app(DashboardData(scenario=load_scenario(DEAL_CASE / "scenario.yaml")))) as url:
        yield url


def _rows(page: Any, table: str) -> list[list[str]]:
    cells = "rs => rs.map(r => [...r.cells].map(c => c.textContent.trim()))"
    return page.eval_on_selector_all(f"#{table} tr.row", cells)


def _trace(page: Any, div: str, name: str) -> dict[str, Any]:
    traces = page.evaluate(f"document.getElementById('{div}').data.map(t => ({{name: t.name, x: t.x, y: t.y}}))")
    return next(t for t in traces if t["name"] == name)


def test_deal_page_shows_savings_shares_exposure_and_landlord(browser: Any, deal_site: str, deal_file: Path) -> None:
    d = json.loads(deal_file.read_text())
    n = len(d["periods"])
    with visit(browser, deal_site + "/deal", SCREENSHOTS / "deal.png") as (page, problems):
        page.wait_for_selector("#deal-exposure .main-svg")
        cards = {k: page.text_content(f"#deal-{k}") for k in ("savings", "npv", "breakeven", "committed", "expected")}
        pcts = page.text_content("#deal-pcts")
        pcts_label = page.text_content("#deal-pcts-label") or ""
        faults_card = page.text_content("#deal-faults")
        cumulative = _trace(page, "deal-savings-chart", "cumulative savings")
        spend_with = _trace(page, "deal-spend-chart", "with the offer")
        gpu_b_with = _trace(page, "deal-gpu-share", "b with")
        cap_y = page.evaluate("document.getElementById('deal-gpu-share').layout.shapes.map(s => s.y0)")
        exposure_x = _trace(page, "deal-exposure", "savings left")
        shares = {r[0]: r for r in _rows(page, "deal-shares")}
        exposure = _rows(page, "deal-exposure-table")
        landlord = _rows(page, "deal-landlord")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert problems.all() == [] and problems.external == []

    assert cards["savings"] == _usd(d["savings_usd"]) and cards["npv"] == _usd(d["savings_npv_usd"])
    assert cards["breakeven"] == f"${d['break_even']['usd_per_gpu_hour']:,.2f}/GPU-h"
    assert cards["committed"] == f"{d['committed_gpus']:,} GPUs"
    assert cards["expected"] == _usd(d["expected_savings_usd"])
    mc = d["faults_mc"]  # the fault Monte-Carlo's percentiles, labelled with what was sampled
    assert pcts == " / ".join(_usd(v) for v in mc["savings_p5_p50_p95_usd"])
    sampled = f"Monte-Carlo over withdrawal timing and the simulator's faults, {mc['draws']} draws in-process"
    assert pcts_label == f"savings P5 / P50 / P95 ({sampled})"
    by_plan = (
        f"{_usd(p['overrun_usd_mean'])} ± {_usd((p['overrun_usd_ci95'][1] - p['overrun_usd_ci95'][0]) / 2)} "
        f"({p['deadline_miss_share']:.1%})"
        for p in mc["plans"]
    )
    assert faults_card == " / ".join(by_plan)
    # savings over time: the per-period savings add up to (total without - total with)
    assert cumulative["y"] == pytest.approx(list(itertools.accumulate(d["savings_by_period_usd"])))
    assert cumulative["y"][-1] == pytest.approx(d["without"]["total_usd"] - d["with_offer"]["total_usd"])
    by_period = [sum(v[t] for v in d["with_offer"]["spend_usd_by_provider"].values()) for t in range(n)]
    assert spend_with["y"] == pytest.approx(by_period) and sum(by_period) == pytest.approx(d["with_offer"]["total_usd"])
    # shares per period against the cap (the scenario's max_provider_share_gpus: 0.7)
    (b,) = [s for s in d["shares"] if s["provider"] == "b"]
    assert gpu_b_with["y"] == pytest.approx([100 * v for v in b["gpu_share_with"]]) and cap_y == [70.0]
    # horizon-wide shares, recomputed from the per-provider spend and GPUs of each plan
    for plan_key, col in (("without", 1), ("with_offer", 1)):
        spend = d[plan_key]["spend_usd_by_provider"]
        total = sum(map(sum, spend.values()))
        for p, row in shares.items():
            shown = row[col].split(" → ")[0 if plan_key == "without" else 1]
            assert shown == f"{sum(spend.get(p, [0])) / total:.1%}"
    gpus = d["with_offer"]["gpus_by_provider"]
    assert shares["b"][3].split(" → ")[1] == f"{sum(gpus['b']) / sum(map(sum, gpus.values())):.1%}"
    assert shares["b"][4] == "cap 70%"
    # exposure: one row per withdrawal month; stranded upfront in closed form
    assert exposure_x["x"] == [e["month"] for e in d["exposure"]] and len(exposure) == len(d["exposure"]) > 0
    for row, e in zip(exposure, d["exposure"], strict=True):
        stranded = UPFRONT_USD_PER_GPU * d["committed_gpus"] * (1 - (e["period"] - FIRST_PERIOD) / TERM_PERIODS)
        assert row == [str(e["month"]), e["date"], _usd(stranded), _usd(e["replan_extra_usd"]), _usd(e["savings_usd"])]
        # re-plan extra cost + savings left = the savings without any withdrawal (both against the same plans)
        assert e["replan_extra_usd"] + e["savings_usd"] == pytest.approx(d["savings_usd"])
    # the landlord at the offered and at the break-even price
    for row, key in zip(landlord, ("landlord_offered", "landlord_break_even"), strict=True):
        v = d[key]
        assert row[1:] == [f"${v['usd_per_gpu_hour']:,.2f}/GPU-h", _usd(v["revenue_usd"]), f"{v['committed_gpus']:,}",
                           f"{v['utilization_of_offered']:.1%}", f"{v['utilization_of_committed']:.1%}"]  # fmt: skip


def test_a_deal_file_opened_on_the_page_is_shown(browser: Any, empty_deal_site: str, deal_file: Path) -> None:
    offer = json.loads(deal_file.read_text())["offer"]
    with visit(browser, empty_deal_site + "/deal", SCREENSHOTS / "deal-open.png") as (page, problems):
        assert (page.text_content("h1") or "").startswith("No deal loaded")
        with page.expect_navigation():
            page.set_input_files("#deal-file", str(deal_file))
        page.wait_for_selector("#deal-exposure .main-svg")
        assert page.url.startswith(empty_deal_site + "/deal/")
        assert offer in (page.text_content("h1") or "")
        again = page.url
    assert problems.all() == []
    with visit(browser, again, SCREENSHOTS / "deal-link.png") as (page, problems):  # the link stays valid
        assert page.text_content("#deal-savings") and problems.all() == []


def test_a_timing_only_file_shows_the_timing_label(browser: Any, empty_deal_site: str, deal_file: Path,
                                                    tmp_path: Path) -> None:  # fmt: skip
    """A file written with --fault-draws 0 (or before the fault Monte-Carlo existed) has no faults_mc: the
    page shows the timing-only percentiles, says so, and has no faults card."""
    d = json.loads(deal_file.read_text())
    del d["faults_mc"]
    path = tmp_path / "timing-only.json"
    path.write_text(json.dumps(d))
    with visit(browser, empty_deal_site + "/deal", SCREENSHOTS / "deal-timing-only.png") as (page, problems):
        with page.expect_navigation():
            page.set_input_files("#deal-file", str(path))
        page.wait_for_selector("#deal-pcts")
        label = page.text_content("#deal-pcts-label")
        pcts = page.text_content("#deal-pcts")
        assert page.query_selector("#deal-faults") is None
    assert problems.all() == []
    assert label == "savings P5 / P50 / P95 (Monte-Carlo over withdrawal timing)"
    assert pcts == " / ".join(_usd(v) for v in d["savings_p5_p50_p95_usd"])


def _bad_files(deal_file: Path, tmp: Path) -> dict[str, tuple[Path, str]]:
    d = json.loads(deal_file.read_text())
    n = len(d["periods"])
    cases = {
        "not json": ("{ this is not json", "not valid JSON"),
        "a plan file": (json.dumps(d["without"]), "no 'schema' field: not a `computemoat deal --out` file"),
        "another schema": (json.dumps({**d, "schema": "computemoat.deal/2"}), "schema is 'computemoat.deal/2'"),
        "a series of the wrong length": (json.dumps({**d, "savings_by_period_usd": [1.0, 2.0]}),
                                         f"savings_by_period_usd: has 2 values, the deal has {n} periods"),
        "a missing field": (json.dumps({k: v for k, v in d.items() if k != "exposure"}), "exposure: missing"),
        "a string for a number": (json.dumps({**d, "exposure": [{**d["exposure"][0], "stranded_usd": "lots"}]}),
                                  "exposure[0].stranded_usd: expected a finite number"),
        "a malformed fault Monte-Carlo": (json.dumps({**d, "faults_mc": {**d["faults_mc"], "plans": "two"}}),
                                          "faults_mc.plans: expected a list"),
        "two percentiles for three": (
            json.dumps({**d, "faults_mc": {**d["faults_mc"], "savings_p5_p50_p95_usd": [1, 2]}}),
            "faults_mc.savings_p5_p50_p95_usd: has 2 values, expected 3 (P5, P50, P95)"),
    }  # fmt: skip
    out = {}
    for i, (case, (text, message)) in enumerate(cases.items()):
        path = tmp / f"bad-{i}.json"
        path.write_text(text)
        out[case] = (path, message)
    return out


BAD_CASES = ["not json", "a plan file", "another schema", "a series of the wrong length", "a missing field",
             "a string for a number", "a malformed fault Monte-Carlo", "two percentiles for three"]  # fmt: skip


@pytest.mark.parametrize("case", BAD_CASES)
def test_a_bad_or_foreign_file_is_one_line_on_the_page(
    browser: Any, empty_deal_site: str, deal_file: Path, tmp_path: Path, case: str
) -> None:
    path, message = _bad_files(deal_file, tmp_path)[case]
    shot = SCREENSHOTS / f"deal-error-{BAD_CASES.index(case)}.png"
    with visit(browser, empty_deal_site + "/deal", shot) as (page, problems):
        page.set_input_files("#deal-file", str(path))
        page.wait_for_selector("#deal-error:not([hidden])")
        line = page.text_content("#deal-error") or ""
        assert page.url == empty_deal_site + "/deal"  # stayed put: nothing half-loaded looks like a result
    assert "\n" not in line.strip() and line.startswith(f"{path.name}") and message in line, line
    assert problems.http_errors == [f"422 {empty_deal_site}/api/deal?name={path.name}"]  # a user error, not a 500
    assert all("422" in c for c in problems.console) and problems.page_errors == [] and problems.external == []


def test_an_unknown_deal_link_is_a_404_page_with_one_line(browser: Any, empty_deal_site: str) -> None:
    url = empty_deal_site + "/deal/0123456789abcdef"
    with visit(browser, url, SCREENSHOTS / "deal-unknown.png") as (page, problems):
        line = page.text_content("#deal-error") or ""
    assert problems.http_errors == [f"404 {url}"]
    assert line.startswith("no opened deal '0123456789abcdef'")


def test_a_refused_offer_shows_no_curve_and_says_why(browser: Any, empty_deal_site: str, tmp_path: Path) -> None:
    """At $3.00 (dearer than on demand at a, $2.00, and c, $2.20) the lab commits nothing: the page has no
    exposure chart, says why, and the landlord's revenue at the offered price is $0."""
    from typer.testing import CliRunner

    from computemoat.cli import app

    offer = tmp_path / "offer.yaml"
    offer.write_text((DEAL_CASE / "offer.yaml").read_text().replace("usd_per_gpu_hour: 1.4", "usd_per_gpu_hour: 3.0"))
    out = tmp_path / "refused.json"
    args = ["deal", str(offer), "--scenario", str(DEAL_CASE / "scenario.yaml"), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    d = json.loads(out.read_text())
    assert d["committed_gpus"] == 0 and d["exposure"] == []
    with visit(browser, empty_deal_site + "/deal", SCREENSHOTS / "deal-refused.png") as (page, problems):
        with page.expect_navigation():
            page.set_input_files("#deal-file", str(out))
        page.wait_for_selector("#deal-gpu-share .main-svg")
        assert page.text_content("#deal-committed") == "0 GPUs"
        assert "nothing was committed" in (page.text_content("#deal-no-exposure") or "")
        assert page.query_selector("#deal-exposure") is None
        # every saving is $0: whole-dollar ticks, not SI ones ("$500m" read as half a billion)
        ticks = page.eval_on_selector_all("#deal-savings-chart .ytick text", "els => els.map(e => e.textContent)")
        assert ticks and all(t.replace("−", "-") in ("-$1", "$0", "$1") for t in ticks), ticks
        offered = _rows(page, "deal-landlord")[0]
    assert problems.all() == []
    assert offered[:3] == ["offered price", "$3.00/GPU-h", "$0"]
