"""The dashboard app: server-rendered pages (Jinja2) + JSON endpoints, no external assets at run time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from computemoat.catalog.query import offering_rows
from computemoat.catalog.summary import summarize
from computemoat.latency import RttMatrix
from computemoat.model import Plan, Scenario
from computemoat.web import figures


@dataclass(frozen=True)
class DashboardData:
    """What the dashboard shows; computed once at start-up (plans and RTTs are not cheap)."""

    scenario: Scenario
    plan: Plan | None = None
    rtt: RttMatrix | None = None


def _plotly_js() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def _provider_rows(data: DashboardData) -> list[dict[str, Any]]:
    cost = data.plan.cost_by_provider() if data.plan else {}
    gpus = data.plan.gpus_by_provider() if data.plan else {}
    total_cost = sum(cost.values()) or 1.0
    total_gpus = sum(gpus.values()) or 1
    return [
        {
            "name": p.name, "kind": p.kind.value, "jurisdiction": p.jurisdiction, "illustrative": p.illustrative,
            "sites": sum(s.provider == p.name for s in data.scenario.sites),
            "cost_usd": cost.get(p.name, 0.0), "cost_share": cost.get(p.name, 0.0) / total_cost,
            "gpus": gpus.get(p.name, 0), "gpu_share": gpus.get(p.name, 0) / total_gpus,
        }
        for p in data.scenario.providers
    ]


def create_dashboard_app(data: DashboardData) -> FastAPI:
    app = FastAPI(title="computemoat dashboard", docs_url="/api/docs", redoc_url=None)
    base = Path(str(resources.files("computemoat.web")))
    templates = Jinja2Templates(directory=str(base / "templates"))
    app.mount("/static", StaticFiles(directory=str(base / "static")), name="static")
    plan_json = json.loads(data.plan.model_dump_json()) if data.plan else None

    def page(request: Request, name: str, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(
            request, name, {"scenario": data.scenario, "plan": data.plan, "active": name, **context}
        )

    @app.get("/", response_class=HTMLResponse)
    def overview(request: Request) -> HTMLResponse:
        return page(
            request, "overview.html", summary=summarize(data.scenario), providers=_provider_rows(data),
            cost_fig=json.dumps(figures.cost_by_provider(data.scenario, data.plan)) if data.plan else None,
        )

    @app.get("/map", response_class=HTMLResponse)
    def world(request: Request) -> HTMLResponse:
        return page(
            request, "map.html", map_fig=json.dumps(figures.world_map(data.scenario, data.plan)),
            rtt_fig=json.dumps(figures.rtt_heatmap(data.rtt)) if data.rtt is not None else None,
        )

    @app.get("/plan", response_class=HTMLResponse)
    def plan_page(request: Request) -> HTMLResponse:
        return page(request, "plan.html")

    @app.get("/catalog", response_class=HTMLResponse)
    def catalog_page(request: Request) -> HTMLResponse:
        return page(request, "catalog.html", rows=offering_rows(data.scenario))

    @app.get("/api/summary")
    def api_summary() -> dict[str, Any]:
        return {"scenario": data.scenario.name, "summary": summarize(data.scenario), "providers": _provider_rows(data)}

    @app.get("/api/plan")
    def api_plan() -> dict[str, Any]:
        if plan_json is None:
            raise HTTPException(404, "no plan loaded (start the dashboard with --plan or let it plan)")
        return plan_json

    @app.get("/api/offerings")
    def api_offerings() -> list[dict[str, object]]:
        return [r.as_dict() for r in offering_rows(data.scenario)]

    @app.get("/vendor/plotly.min.js")
    def plotly_js() -> FileResponse:
        return FileResponse(_plotly_js(), media_type="application/javascript")

    return app
