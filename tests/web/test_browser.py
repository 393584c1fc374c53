"""Every dashboard page in real headless chromium: loads with no console error, no failed request and
nothing fetched from outside 127.0.0.1; its key content is there and agrees with an independent
oracle (the plan/result files themselves, the gateway's own /metrics text, closed-form counts).
Screenshots land in out/screenshots/."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from browsing import visit

from computemoat.catalog import default_scenario
from computemoat.catalog.query import offering_rows
from computemoat.latency import rtt_matrix
from computemoat.model import Plan, Scenario
from computemoat.planner import Change, plan, replan
from computemoat.web import DashboardData, create_dashboard_app
from computemoat.web.results import read_sim_dir, read_sweep_dir
from conftest import SCREENSHOTS, serve_app

EXCLUDED, WITHDRAWN = "lambda", "gcp"
PAGES = ["/", "/plan", "/map", "/catalog", "/simulation", "/sweep", "/replan", "/deal", "/gateway", "/api/docs"]


@dataclass(frozen=True)
class Site:
    url: str
    scenario: Scenario
    before: Plan
    after: Plan
    dirs: dict[str, Path]
    gateway: str


@pytest.fixture(scope="module")
def gateway() -> Iterator[str]:
    """A real gateway in front of two mock backends: 'flaky' (cheaper, always fails) and 'steady'.
    The cheapest policy tries flaky first, so it collects errors and gets ejected; retries land on steady."""
    from computemoat.gateway.app import create_app
    from computemoat.gateway.config import parse_config
    from computemoat.gateway.mock_backend import MockBackend, MockSettings

    with (
        serve_app(MockBackend(MockSettings(name="flaky", fail_rate=1.0), seed=1)) as flaky,
        serve_app(MockBackend(MockSettings(name="steady"), seed=1)) as steady,
    ):
        backends = [
            {"name": name, "url": url, "provider": prov, "site": f"{prov}:x", "lat_deg": 40.0, "lon_deg": -75.0,
             "models": ["m"], "usd_per_hour": price}
            for name, url, prov, price in (("flaky", flaky, "acme", 1.0), ("steady", steady, "globex", 2.0))
        ]
        config = parse_config({"backends": backends, "default_policy": "cheapest"}, "test")
        with serve_app(create_app(config)) as gw:
            yield gw


def _chat(gateway: str, n: int) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": False}
    with httpx.Client(base_url=gateway, timeout=10) as client:
        for _ in range(n):
            assert client.post("/v1/chat/completions", json=body).status_code == 200


@pytest.fixture(scope="module")
def site(result_dirs: dict[str, Path], gateway: str) -> Iterator[Site]:
    """The bundled scenario with one provider excluded by policy, planned; then re-planned with a
    second provider withdrawn (the dashboard shows the re-plan result against the first plan)."""
    base = default_scenario()
    scenario = base.model_copy(update={"policy": base.policy.model_copy(update={"excluded_providers": (EXCLUDED,)})})
    rtt = rtt_matrix(scenario)
    before = plan(scenario, rtt.rtt_ms).plan
    assert WITHDRAWN in before.cost_by_provider()
    result = replan(scenario, before, Change(withdraw_providers=(WITHDRAWN,)), rtt.rtt_ms)
    data = DashboardData(
        scenario=result.scenario, plan=result.plan, rtt=rtt, before=before,
        simulation=read_sim_dir(result_dirs["simulation"]), sweep=read_sweep_dir(result_dirs["sweep"]),
        gateway_url=gateway,
    )
    with serve_app(create_dashboard_app(data)) as url:
        yield Site(url, result.scenario, before, result.plan, result_dirs, gateway)


def _shot(name: str) -> Path:
    return SCREENSHOTS / f"{name.strip('/').replace('/', '-') or 'overview'}.png"


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_clean(browser: Any, site: Site, path: str) -> None:
    with visit(browser, site.url + path, _shot(path)) as (page, problems):
        page.wait_for_selector("main, .swagger-ui")
        assert problems.all() == []
        assert len(problems.requests) >= 2  # the page and at least its stylesheet/scripts
        # nothing runs off the page sideways (a wide table scrolls inside its own box)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_overview_shows_shares_beside_caps(browser: Any, site: Site) -> None:
    cost, gpus = site.after.cost_by_provider(), site.after.gpus_by_provider()
    with visit(browser, site.url + "/", _shot("overview")) as (page, problems):
        rows = page.eval_on_selector_all(
            "#providers tr:not(:first-child)", "rs => rs.map(r => [...r.cells].map(c => c.textContent.trim()))"
        )
    assert problems.all() == []
    by_name = {r[0].split()[0]: r for r in rows}
    assert set(by_name) == {p.name for p in site.scenario.providers}
    for name, r in by_name.items():  # columns: ... GPU share, GPU cap, cost, spend share, spend cap
        assert r[5] == f"{gpus.get(name, 0) / sum(gpus.values()):.1%}"
        assert r[6] == "cap 85%"  # the bundled policy: max_provider_share_gpus 0.85
        assert r[8] == f"{cost.get(name, 0.0) / sum(cost.values()):.1%}"
        assert r[9] == "no cap"  # no max_provider_share_spend in the bundled policy
    assert "excluded" in by_name[EXCLUDED][0] and "excluded" in by_name[WITHDRAWN][0]


def test_plan_assignments_filter_and_count(browser: Any, site: Site) -> None:
    query = "London"
    expected = sum(query.lower() in f"{a.service_id} {a.region} {a.site_id}".lower() for a in site.after.assignments)
    assert 0 < expected < len(site.after.assignments)
    with visit(browser, site.url + "/plan", _shot("plan-filtered")) as (page, problems):
        assert page.text_content('[data-count="assignments"]') == str(len(site.after.assignments))
        page.fill('input[data-filter="assignments"]', query)
        visible = page.eval_on_selector_all("#assignments tr.row", "rs => rs.filter(r => r.offsetParent).length")
        assert visible == expected
        assert page.text_content('[data-count="assignments"]') == str(expected)
    assert problems.all() == []


def test_catalog_count_follows_filter_and_sources_wrap(browser: Any, site: Site) -> None:
    rows = offering_rows(site.scenario)
    query = "h100"
    fields = ("provider", "region", "city", "accelerator", "source")
    expected = sum(any(query in str(getattr(r, f)).lower() for f in fields) for r in rows)
    assert 0 < expected < len(rows)
    with visit(browser, site.url + "/catalog", _shot("catalog-filtered"), width=1100) as (page, problems):
        assert page.text_content("#count") == str(len(rows))
        widest = page.eval_on_selector_all(
            "td.source", "cs => Math.max(...cs.map(c => c.getBoundingClientRect().right))"
        )
        assert widest <= page.evaluate("window.innerWidth")  # long sources wrap inside the page
        page.fill("#filter", query)
        assert page.text_content("#count") == str(expected)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert problems.all() == []


def test_map_leaves_out_excluded_providers(browser: Any, site: Site) -> None:
    with visit(browser, site.url + "/map", _shot("map")) as (page, problems):
        page.wait_for_selector("#map .main-svg")
        names = page.evaluate("document.getElementById('map').data.map(t => t.name)")
        hidden = page.text_content("#hidden-providers")
        heat_sites = page.evaluate("document.getElementById('rtt').data[0].x")
    assert problems.all() == []
    provider_of = {s.id: s.provider for s in site.scenario.sites}
    assert heat_sites and not {provider_of[s] for s in heat_sites} & {EXCLUDED, WITHDRAWN}
    shown = {n.split(" (")[0] for n in names}
    allowed = {p.name for p in site.scenario.providers} - {EXCLUDED, WITHDRAWN}
    assert allowed <= shown and not {EXCLUDED, WITHDRAWN} & shown
    assert EXCLUDED in hidden and WITHDRAWN in hidden


def test_api_docs_render_offline(browser: Any, site: Site) -> None:
    with visit(browser, site.url + "/api/docs", _shot("api-docs")) as (page, problems):
        page.wait_for_selector(".swagger-ui .opblock")
        title = page.text_content(".swagger-ui .info .title")
        ops = page.eval_on_selector_all(".opblock-summary-path", "es => es.map(e => e.textContent)")
    assert problems.all() == [] and problems.external == []
    assert "computemoat dashboard" in (title or "")
    assert {"/api/plan", "/api/replan", "/api/gateway"} <= {o.replace("\u200b", "") for o in ops}


def test_favicon(browser: Any, site: Site) -> None:
    with visit(browser, site.url + "/", _shot("overview")) as (page, problems):
        href = page.get_attribute("link[rel=icon]", "href")
        r = page.request.get(site.url + href)
        assert r.status == 200 and r.headers["content-type"].startswith("image/svg+xml")
        assert page.request.get(site.url + "/favicon.ico").status == 200
    assert problems.all() == []


def test_simulation_page_matches_the_files(browser: Any, site: Site) -> None:
    d = site.dirs["simulation"]
    summary = json.loads((d / "summary.json").read_text())
    jobs = pd.read_parquet(d / "jobs.parquet")
    services = pd.read_parquet(d / "services.parquet")
    with visit(browser, site.url + "/simulation", _shot("simulation")) as (page, problems):
        assert page.text_content("#sim-total") == f"${summary['total_cost_usd']:,.0f}"
        goodput = page.eval_on_selector_all("#sim-jobs tr.row td:nth-child(3)", "cs => cs.map(c => c.textContent)")
        shown = page.eval_on_selector_all(
            "#sim-services tr.row", "rs => rs.map(r => [...r.cells].slice(0, 4).map(c => c.textContent))"
        )
    assert problems.all() == []
    assert goodput == [f"{g:.5f}" for g in jobs["goodput"]]
    expected = [[r.service_id, r.region, f"{r.demand_rps:,.2f}" if r.demand_rps % 1 else f"{r.demand_rps:,.0f}",
                 f"{r.availability:.5f}"] for r in services.itertuples()]
    assert sorted(shown) == sorted(expected)  # every (service, region) row of the file, with its availability
    n_all = int((services["region"] == "*").sum())
    assert all(r[1] == "*" for r in shown[:n_all])  # every-region rows first, then the worst regions first
    assert [float(r[3]) for r in shown[n_all:]] == sorted(float(r[3]) for r in shown[n_all:])


def test_sweep_page_shows_intervals_and_frontier(browser: Any, site: Site) -> None:
    records = json.loads((site.dirs["sweep"] / "summary.json").read_text())
    worst = [r for r in records if r["metric"] == "availability_min"]
    plan_cost = {(r["k"], r["cap"]): r["mean"] for r in records if r["metric"] == "plan_cost_usd"}
    with visit(browser, site.url + "/sweep", _shot("sweep")) as (page, problems):
        page.wait_for_selector("#frontier .main-svg")
        traces = page.evaluate("document.getElementById('frontier').data.map(t => [t.name, t.x, t.text])")
        key = page.eval_on_selector_all(
            "#sweep-key tr.row", "rs => rs.map(r => [r.cells[0].textContent, r.cells[1].textContent, "
            "r.querySelector('[data-metric=availability_min] .mean').textContent, "
            "r.querySelector('[data-metric=availability_min] .ci').textContent])"
        )
        every = page.eval_on_selector_all(
            "#sweep-all tr.row", "rs => rs.map(r => [...r.cells].map(c => c.textContent.trim()))"
        )
    assert problems.all() == []
    # the frontier: one trace per k; every (k, cap) point at its plan cost, caps with the same plan merged
    for name, xs, texts in traces:
        k = int(name.removeprefix("k = "))
        caps = [1.0 if t == "no cap" else float(c) for t in texts for c in t.split(" ", 1)[1].split(", ")]
        assert sorted(caps) == sorted(r["cap"] for r in worst if r["k"] == k)
        assert sorted(xs) == pytest.approx(sorted({plan_cost[(k, c)] for c in caps}))

    def cap(v: float) -> str:
        return f"{v:g}"

    # the key table: worst-service availability per point, with the bootstrap interval (the preferred one)
    assert sorted(key) == sorted(
        [f"{r['k']}", cap(r["cap"]), f"{r['mean']:.5f}", f"[{r['bootstrap_low']:.5f}, {r['bootstrap_high']:.5f}]"]
        for r in worst
    )
    # every metric: both intervals, as [lo, hi]
    rows = {(r[0], r[1]): r for r in every if r[2] == "availability_min"}
    for r in worst:
        row = rows[(f"{r['k']}", cap(r["cap"]))]
        assert f"[{r['normal_low']:.5f}, {r['normal_high']:.5f}]" in row
        assert f"[{r['bootstrap_low']:.5f}, {r['bootstrap_high']:.5f}]" in row


def _moves(before: Plan, after: Plan) -> set[tuple[str, str]]:
    """Independent oracle: (workload, offering) pairs placed before and not after."""
    def pairs(p: Plan) -> set[tuple[str, str]]:
        return {(t.job_id, t.offering_id) for t in p.training} | {(i.service_id, i.offering_id) for i in p.inference}

    return pairs(before) - pairs(after)


def test_replan_page_says_what_moved_and_why(browser: Any, site: Site) -> None:
    left = _moves(site.before, site.after)
    off_withdrawn = {
        (w, o) for w, o in left
        if any(p.offering_id == o and p.provider == WITHDRAWN for p in (*site.before.training, *site.before.inference))
    }
    assert off_withdrawn  # the withdrawn provider carried something
    with visit(browser, site.url + "/replan", _shot("replan")) as (page, problems):
        rows = page.eval_on_selector_all(
            "#moves tr.row", "rs => rs.map(r => [...r.cells].map(c => c.textContent.trim()))"
        )
        delta = page.text_content("#cost-delta")
    assert problems.all() == []
    shown_from = {(r[0], r[2]) for r in rows if r[2] != "—"}
    assert shown_from == left
    for r in rows:
        if (r[0], r[2]) in off_withdrawn:
            assert f"provider {WITHDRAWN} is excluded by policy.excluded_providers" in r[7]
    assert delta == f"{site.after.total_cost_usd - site.before.total_cost_usd:+,.0f} USD"


def _metric(text: str, metric: str, **labels: str) -> float:
    """A sample from the gateway's Prometheus text, read with a regex (not the dashboard's parser)."""
    total = 0.0
    for line in text.splitlines():
        m = re.match(rf"{metric}\{{(.*)\}} ([0-9.e+]+)$", line)
        if m and all(f'{k}="{v}"' in m.group(1) for k, v in labels.items()):
            total += float(m.group(2))
    return total


def test_gateway_page_follows_the_live_gateway(browser: Any, site: Site) -> None:
    _chat(site.gateway, 10)
    text = httpx.get(site.gateway + "/metrics").text
    ok = _metric(text, "gateway_requests_total", status="200")
    flaky_errors = _metric(text, "gateway_upstream_errors_total", backend="flaky")
    assert ok >= 10 and flaky_errors >= 1  # the flaky backend failed at least once, every request still served
    with visit(browser, site.url + "/gateway", _shot("gateway")) as (page, problems):
        page.wait_for_function("Number(document.getElementById('gw-backends').dataset.polls || 0) >= 1")
        rows = {
            r[0]: r for r in page.eval_on_selector_all(
                "#gw-backends tr.row", "rs => rs.map(r => [...r.cells].map(c => c.textContent.trim()))"
            )
        }
        # columns: backend, attempts/s, responses, errors, error kinds, mean TTFB, p95 TTFB, ejections, in flight
        assert rows["flaky"][3] == f"{flaky_errors:,.0f}"
        ejected = _metric(text, "gateway_ejections_total", scope="backend", name="flaky")
        assert ejected >= 1 and rows["flaky"][7] == f"{ejected:,.0f}"  # ejected after consecutive errors
        assert rows["steady"][2] == f"{_metric(text, 'gateway_upstream_ttfb_seconds_count', backend='steady'):,.0f}"
        total_before = int(page.text_content("#gw-total").replace(",", ""))
        _chat(site.gateway, 5)  # traffic between two polls: the rate is positive and the total follows
        page.wait_for_function(
            f"Number(document.getElementById('gw-total').textContent.replace(/,/g, '')) >= {total_before + 5}"
        )
        assert float(page.text_content("#gw-rps").replace(",", "")) > 0
    assert problems.all() == []


@pytest.fixture(scope="module")
def empty_site() -> Iterator[str]:
    with serve_app(create_dashboard_app(DashboardData(scenario=default_scenario()))) as url:
        yield url


@pytest.mark.parametrize("path", ["/plan", "/simulation", "/sweep", "/replan", "/deal", "/gateway"])
def test_pages_without_data_say_how_to_get_it(browser: Any, empty_site: str, path: str) -> None:
    with visit(browser, empty_site + path, _shot(f"empty{path}")) as (page, problems):
        heading = page.text_content("h1") or ""
        hint = page.text_content("main") or ""
    assert problems.all() == []
    assert heading.startswith("No ") and "computemoat " in hint
