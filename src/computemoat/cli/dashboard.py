"""`computemoat dashboard`: the web dashboard (scenario, plan, latency map, catalog, results, gateway)."""

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

PlanOpt = Annotated[Path | None, typer.Option("--plan", help="plan JSON from `computemoat plan --out`")]
BeforeOpt = Annotated[
    Path | None,
    typer.Option("--before", help="earlier plan JSON: the Replan page shows what moved from it to this plan and why"),
]
SimOpt = Annotated[
    Path | None, typer.Option("--simulation", help="directory written by `computemoat simulate --out`")
]
SweepOpt = Annotated[Path | None, typer.Option("--sweep", help="directory written by `computemoat sweep --out`")]
DealOpt = Annotated[Path | None, typer.Option("--deal", help="JSON written by `computemoat deal OFFER.yaml --out`")]
GatewayOpt = Annotated[
    str | None,
    typer.Option("--gateway", help="base URL of a running gateway for the live page, e.g. http://127.0.0.1:8080"),
]


def dashboard(
    scenario: ScenarioArg = None,
    plan: PlanOpt = None,
    solve: Annotated[bool, typer.Option("--solve/--no-solve", help="plan at start-up when no --plan")] = True,
    before: BeforeOpt = None,
    simulation: SimOpt = None,
    sweep: SweepOpt = None,
    gateway: GatewayOpt = None,
    deal: DealOpt = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = 8050,
) -> None:
    """Serve the web dashboard (plan, map, catalog, results, replan diff, deal, live gateway).

    Pages: provider shares beside the caps, the plan, a world map with RTTs, the catalog,
    simulation and sweep results, a replan diff, a deal's result, a live gateway page.
    It loads nothing from the internet."""
    with user_errors():
        require_extra("web", "dashboard")
        check_port_free(host, port)
    import uvicorn

    from computemoat.web import create_dashboard_app
    from computemoat.web.data import build_dashboard_data, check_gateway_url

    with user_errors():
        if gateway is not None:
            check_gateway_url(gateway, field="--gateway")
        data = build_dashboard_data(
            load_scenario_arg(scenario), plan_path=plan, solve=solve, before_path=before,
            simulation_dir=simulation, sweep_dir=sweep, gateway_url=gateway,
            deal_path=deal,
        )
    console.print(f"dashboard for [bold]{data.scenario.name}[/bold] on http://{host}:{port}/")
    uvicorn.run(create_dashboard_app(data), host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    app.command(epilog=examples(
        "computemoat dashboard",
        "computemoat dashboard my.yaml --plan plan.json --port 8051",
        "computemoat dashboard --no-solve",
        "computemoat dashboard --plan new.json --before plan.json --simulation sim-out --sweep sweep-out",
        "computemoat dashboard --plan plan.json --gateway http://127.0.0.1:8080",
        "computemoat dashboard --no-solve --deal deal.json"))(dashboard)
