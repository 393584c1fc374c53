"""Gather what the dashboard shows: scenario, RTT matrix, and a plan (loaded from JSON or solved now)."""

from __future__ import annotations

from pathlib import Path

from computemoat.latency import rtt_matrix
from computemoat.model import Plan, Scenario
from computemoat.planner.plan_file import read_plan
from computemoat.web.app import DashboardData


def build_dashboard_data(
    scenario: Scenario, *, plan_path: Path | None = None, solve: bool = True, time_limit_s: float = 60
) -> DashboardData:
    rtt = rtt_matrix(scenario)
    if plan_path is not None:
        plan: Plan | None = read_plan(plan_path, scenario)
    elif solve:
        from computemoat.planner import plan as solve_plan

        plan = solve_plan(scenario, rtt.rtt_ms, time_limit_s=time_limit_s).plan
    else:
        plan = None
    return DashboardData(scenario=scenario, plan=plan, rtt=rtt)
