"""Gather what the dashboard shows: scenario, RTT matrix, and a plan (loaded from JSON or solved now)."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from computemoat.latency import rtt_matrix
from computemoat.model import Plan, Scenario, UserError
from computemoat.web.app import DashboardData


def load_plan_file(path: Path) -> Plan:
    try:
        return Plan.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such plan file (write one with `computemoat plan --out {path}`)") from None
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(map(str, first["loc"])) or "(top level)"
        raise UserError(f"{path}: not a computemoat plan: {where}: {first['msg']}") from None


def build_dashboard_data(
    scenario: Scenario, *, plan_path: Path | None = None, solve: bool = True, time_limit_s: float = 60
) -> DashboardData:
    rtt = rtt_matrix(scenario)
    if plan_path is not None:
        plan: Plan | None = load_plan_file(plan_path)
    elif solve:
        from computemoat.planner import plan as solve_plan

        plan = solve_plan(scenario, rtt.rtt_ms, time_limit_s=time_limit_s).plan
    else:
        plan = None
    return DashboardData(scenario=scenario, plan=plan, rtt=rtt)
