"""Gather what the dashboard shows: scenario, RTT matrix, a plan (loaded from JSON or solved now), an
earlier plan to compare with, simulation/sweep result directories, a deal result, and a gateway to watch."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from computemoat.latency import rtt_matrix
from computemoat.model import Plan, Scenario, UserError
from computemoat.planner.plan_file import read_plan
from computemoat.web.app import DashboardData
from computemoat.web.deal import read_deal
from computemoat.web.results import read_sim_dir, read_sweep_dir


def check_gateway_url(url: str, field: str = "gateway_url") -> str:
    """The gateway's base URL without a trailing slash; one line naming ``field`` when it is not one."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UserError(f"{field} {url!r}: give the gateway's base URL, e.g. http://127.0.0.1:8080")
    return url.rstrip("/")


def build_dashboard_data(
    scenario: Scenario,
    *,
    plan_path: Path | None = None,
    solve: bool = True,
    time_limit_s: float = 60,
    before_path: Path | None = None,
    simulation_dir: Path | None = None,
    sweep_dir: Path | None = None,
    gateway_url: str | None = None,
    deal_path: Path | None = None,
) -> DashboardData:
    """Read every input first (a bad file fails before any solve), then plan if asked."""
    before = read_plan(before_path, scenario) if before_path is not None else None
    simulation = read_sim_dir(simulation_dir) if simulation_dir is not None else None
    sweep = read_sweep_dir(sweep_dir) if sweep_dir is not None else None
    deal = read_deal(deal_path) if deal_path is not None else None
    gateway = check_gateway_url(gateway_url) if gateway_url is not None else None
    rtt = rtt_matrix(scenario)
    if plan_path is not None:
        plan: Plan | None = read_plan(plan_path, scenario)
    elif solve:
        from computemoat.planner import plan as solve_plan

        plan = solve_plan(scenario, rtt.rtt_ms, time_limit_s=time_limit_s).plan
    else:
        plan = None
    return DashboardData(
        scenario=scenario, plan=plan, rtt=rtt, before=before, simulation=simulation, sweep=sweep, gateway_url=gateway,
        deal=deal,
    )
