"""``plan``: the cost-optimal placement of a scenario, diagnosed when there is none."""

from __future__ import annotations

import time

import numpy as np

from computemoat.model import InfeasibleError, Plan, Scenario
from computemoat.planner.flatten import flatten
from computemoat.planner.greedy import greedy_plan
from computemoat.planner.infeasible import diagnose_infeasible
from computemoat.planner.solve import ModelInfeasible, PlanResult, ProgressFn, SolveProgress, Stage, solve_flat
from computemoat.planner.validate import validate_plan
from computemoat.reliability import FaultModel


def plan(
    scenario: Scenario,
    rtt_ms: np.ndarray,
    *,
    time_limit_s: float = 60,
    mip_gap: float = 0.01,
    progress: ProgressFn | None = None,
    faults: FaultModel | None = None,
) -> PlanResult:
    """Cost-optimal placement of every workload of ``scenario`` (see :mod:`milp` for the model).

    ``rtt_ms`` is [user_regions x sites] in scenario order (np.inf = unreachable); ``faults`` (default:
    the shared FaultModel defaults) gives each job's expected wall-clock hours. Raises
    ``InfeasibleError`` naming the conflicting constraints when no plan exists. The greedy baseline,
    when valid, is the solver's first start, so the result is never costlier than greedy."""
    t0 = time.perf_counter()
    if progress:
        progress(SolveProgress(Stage.flatten, 0.0))
    flat = flatten(scenario, rtt_ms, faults=faults)

    def start() -> Plan | None:  # computed while HiGHS solves the LP relaxation
        g = greedy_plan(scenario, rtt_ms, faults=faults, flat=flat)
        return None if g.unplaced or validate_plan(scenario, g.plan, rtt_ms, faults=faults) else g.plan

    try:
        return solve_flat(flat, time_limit_s=time_limit_s, mip_gap=mip_gap, progress=progress, t0=t0, start=start)
    except ModelInfeasible:
        left = time_limit_s - (time.perf_counter() - t0)
        if left <= 0.5:
            raise
        raise InfeasibleError(*diagnose_infeasible(scenario, rtt_ms, time_limit_s=left, faults=faults)) from None
