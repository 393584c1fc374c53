"""The dashboard app: server-rendered pages (Jinja2) + JSON endpoints, no external assets at run time
(plotly.js, the map, Swagger UI and the favicon are all served from installed packages)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from fastapi_offline import FastAPIOffline

from computemoat.catalog.query import offering_rows
from computemoat.catalog.summary import summarize
from computemoat.latency import RttMatrix
from computemoat.model import Plan, Scenario
from computemoat.web import figures, fmt
from computemoat.web.deal import DealView
from computemoat.web.deal_routes import add_deal_routes
from computemoat.web.diff import plan_diff
from computemoat.web.gateway_live import GatewayUnreachable, snapshot
from computemoat.web.results import (
    SimRun,
    SweepRun,
    frontier_points,
    key_metrics,
    point_table,
    preferred_interval,
)

GATEWAY_REFRESH_MS = 2000


@dataclass(frozen=True)
class DashboardData:
    """What the dashboard shows; computed once at start-up (plans and RTTs are not cheap).
    ``before``: an earlier plan the replan page compares ``plan`` with; ``simulation``/``sweep``: result
    directories read at start-up; ``gateway_url``: a running gateway the live page polls; ``deal``: a
    `deal --out` file read at start-up (more can be opened from the deal page)."""

    scenario: Scenario
    plan: Plan | None = None
    rtt: RttMatrix | None = None
    before: Plan | None = None
    simulation: SimRun | None = None
    sweep: SweepRun | None = None
    gateway_url: str | None = None
    deal: DealView | None = None


def _plotly_js() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def _provider_rows(data: DashboardData) -> list[dict[str, Any]]:
    cost = data.plan.cost_by_provider() if data.plan else {}
    gpus = data.plan.gpus_by_provider() if data.plan else {}
    total_cost = sum(cost.values()) or 1.0
    total_gpus = sum(gpus.values()) or 1
    excluded = figures.excluded_providers(data.scenario)
    policy = data.scenario.policy
    return [
        {
            "name": p.name, "kind": p.kind.value, "jurisdiction": p.jurisdiction, "illustrative": p.illustrative,
            "excluded": excluded.get(p.name),
            "sites": sum(s.provider == p.name for s in data.scenario.sites),
            "cost_usd": cost.get(p.name, 0.0), "cost_share": cost.get(p.name, 0.0) / total_cost,
            "gpus": gpus.get(p.name, 0), "gpu_share": gpus.get(p.name, 0) / total_gpus,
            "spend_cap": policy.max_provider_share_spend, "gpu_cap": policy.max_provider_share_gpus,
        }
        for p in data.scenario.providers
    ]


def _templates() -> tuple[Jinja2Templates, Path]:
    base = Path(str(resources.files("computemoat.web")))
    templates = Jinja2Templates(directory=str(base / "templates"))
    env = templates.env
    env.filters.update(figure=fmt.figure, interval=fmt.interval, pct=fmt.pct, cap=fmt.cap, plural=fmt.plural,
                       idwrap=fmt.idwrap, usd=fmt.usd, price=fmt.price)
    return templates, base


def create_dashboard_app(data: DashboardData) -> FastAPI:
    app = FastAPIOffline(
        title="computemoat dashboard", docs_url="/api/docs", redoc_url=None,
        static_url="/vendor/docs", favicon_url="/static/favicon.svg",
    )
    templates, base = _templates()
    app.mount("/static", StaticFiles(directory=str(base / "static")), name="static")
    plan_json = json.loads(data.plan.model_dump_json()) if data.plan else None
    diff = plan_diff(data.scenario, data.before, data.plan) if data.before and data.plan else None

    def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(
            request, name, {"scenario": data.scenario, "plan": data.plan, "active": name, **context},
            status_code=status_code,
        )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def overview(request: Request) -> HTMLResponse:
        return page(
            request, "overview.html", summary=summarize(data.scenario), providers=_provider_rows(data),
            cost_fig=json.dumps(figures.cost_by_provider(data.scenario, data.plan)) if data.plan else None,
        )

    excluded = figures.excluded_providers(data.scenario)
    excluded_sites = frozenset(s.id for s in data.scenario.sites if s.provider in excluded)

    @app.get("/map", response_class=HTMLResponse, include_in_schema=False)
    def world(request: Request) -> HTMLResponse:
        rtt = data.rtt
        return page(
            request, "map.html", map_fig=json.dumps(figures.world_map(data.scenario, data.plan)), excluded=excluded,
            rtt_fig=json.dumps(figures.rtt_heatmap(rtt, skip_sites=excluded_sites)) if rtt is not None else None,
        )

    @app.get("/plan", response_class=HTMLResponse, include_in_schema=False)
    def plan_page(request: Request) -> HTMLResponse:
        return page(request, "plan.html")

    @app.get("/catalog", response_class=HTMLResponse, include_in_schema=False)
    def catalog_page(request: Request) -> HTMLResponse:
        return page(request, "catalog.html", rows=offering_rows(data.scenario))

    @app.get("/simulation", response_class=HTMLResponse, include_in_schema=False)
    def simulation_page(request: Request) -> HTMLResponse:
        return page(request, "simulation.html", run=data.simulation)

    @app.get("/sweep", response_class=HTMLResponse, include_in_schema=False)
    def sweep_page(request: Request) -> HTMLResponse:
        sweep = data.sweep
        points, interval_name = frontier_points(sweep) if sweep else ([], None)
        metrics = key_metrics(sweep) if sweep else []
        chosen = preferred_interval(sweep.summary.intervals) if sweep else None
        return page(
            request, "sweep.html", sweep=sweep, key_metrics=metrics, interval_name=chosen.name if chosen else None,
            key_rows=point_table(sweep, metrics) if sweep else [],
            frontier_fig=json.dumps(figures.frontier(points, interval_name)) if points else None,
        )

    @app.get("/replan", response_class=HTMLResponse, include_in_schema=False)
    def replan_page(request: Request) -> HTMLResponse:
        return page(request, "replan.html", diff=diff, before=data.before)

    @app.get("/gateway", response_class=HTMLResponse, include_in_schema=False)
    def gateway_page(request: Request) -> HTMLResponse:
        return page(request, "gateway.html", gateway_url=data.gateway_url, refresh_ms=GATEWAY_REFRESH_MS)

    add_deal_routes(app, page, data.deal)

    @app.get("/api/summary")
    def api_summary() -> dict[str, Any]:
        return {"scenario": data.scenario.name, "summary": summarize(data.scenario), "providers": _provider_rows(data)}

    @app.get("/api/plan")
    def api_plan() -> dict[str, Any]:
        if plan_json is None:
            raise HTTPException(404, "no plan loaded (start the dashboard with a plan file, or let it plan)")
        return plan_json

    @app.get("/api/replan")
    def api_replan() -> dict[str, Any]:
        if diff is None:
            raise HTTPException(404, "no earlier plan loaded to compare with (start the dashboard with one)")
        return {**asdict(diff), "cost_delta_usd": diff.cost_delta_usd}

    @app.get("/api/offerings")
    def api_offerings() -> list[dict[str, object]]:
        return [r.as_dict() for r in offering_rows(data.scenario)]

    @app.get("/api/gateway")
    async def api_gateway() -> JSONResponse:
        """The gateway's figures now (cumulative counters; difference two snapshots for rates)."""
        if data.gateway_url is None:
            return JSONResponse({"ok": False, "error": "no gateway URL given to the dashboard"}, status_code=404)
        try:
            return JSONResponse(await snapshot(data.gateway_url))
        except GatewayUnreachable as e:
            return JSONResponse({"ok": False, "error": str(e)}, status_code=502)

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(_plotly_js(), media_type="application/javascript")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(base / "static" / "favicon.svg", media_type="image/svg+xml")

    return app
