"""`computemoat dashboard`: the web dashboard (scenario, plan, latency map, catalog)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from computemoat.cli.common import (
    ScenarioArg,
    check_port_free,
    console,
    examples,
    load_scenario_arg,
    require_extra,
    user_errors,
)


def dashboard(
    scenario: ScenarioArg = None,
    plan: Annotated[Path | None, typer.Option("--plan", help="plan JSON from `computemoat plan --out`")] = None,
    solve: Annotated[bool, typer.Option("--solve/--no-solve", help="plan at start-up when no --plan")] = True,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = 8050,
) -> None:
    """Serve the web dashboard: providers and shares vs caps, the plan, a world map with RTTs, the catalog."""
    with user_errors():
        require_extra("web", "dashboard")
        check_port_free(host, port)
    import uvicorn

    from computemoat.web import create_dashboard_app
    from computemoat.web.data import build_dashboard_data

    with user_errors():
        data = build_dashboard_data(load_scenario_arg(scenario), plan_path=plan, solve=solve)
    console.print(f"dashboard for [bold]{data.scenario.name}[/bold] on http://{host}:{port}/")
    uvicorn.run(create_dashboard_app(data), host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    app.command(epilog=examples(
        "computemoat dashboard",
        "computemoat dashboard my.yaml --plan plan.json --port 8051",
        "computemoat dashboard --no-solve"))(dashboard)
