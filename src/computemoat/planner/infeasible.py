"""Why is there no plan? Drop one constraint family at a time, then bisect the deciding numbers.

The MILP is never silently relaxed: this runs only after HiGHS proved infeasibility, and its output
is the message of the ``InfeasibleError`` the user sees. Where one number decides (a share cap, a
site's MW, an offering's capacity) the message gives the smallest value that makes a plan exist.
"""

from __future__ import annotations

import time

import numpy as np

from computemoat.model import Scenario
from computemoat.planner.flatten import caps_set
from computemoat.planner.relax import knobs, relaxations, resolve, smallest_feasible
from computemoat.reliability import FaultModel


def diagnose_infeasible(
    scenario: Scenario, rtt_ms: np.ndarray, *, time_limit_s: float = 30, faults: FaultModel | None = None
) -> list[str]:
    """Lines for an ``InfeasibleError``: the verdict, each single drop that restores a plan, the
    smallest value of each deciding number that does, and whether only idle capacity could meet a cap.
    All re-solves together stay within ``time_limit_s``."""
    deadline = time.perf_counter() + time_limit_s
    lines = [f"scenario {scenario.name}: no plan satisfies all constraints together"]
    if caps_set(scenario):
        left = deadline - time.perf_counter()
        if (
            left > 0.2
            and resolve(scenario, rtt_ms, faults=faults, time_limit_s=left / 4, mip_gap=0.05, anti_dilution=False)
            is not None
        ):
            lines.append(
                "only idle capacity could meet the provider share caps: a plan exists if services may hold "
                "replicas beyond (1 + redundancy_k) x their need, which the anti-dilution rule forbids "
                "(raise the cap or place more real work at other providers)"
            )
    fixes, tried, skipped = _drops(scenario, rtt_ms, faults, deadline)
    lines.extend(fixes or ["no single constraint family explains it; tried dropping each of: " + "; ".join(tried)])
    for knob in knobs(scenario):
        if time.perf_counter() > deadline - 0.2:
            skipped.append(knob.field)
            continue
        best = smallest_feasible(knob, rtt_ms, faults=faults, deadline=deadline)
        if best is not None:
            lines.append(
                f"{knob.field} = {best:,.4g} (now {knob.current:,.4g}) is the smallest value that makes it feasible"
            )
    if skipped:
        lines.append("not tried for lack of time (raise the time limit): " + "; ".join(skipped))
    return lines


def _drops(
    scenario: Scenario, rtt_ms: np.ndarray, faults: FaultModel | None, deadline: float
) -> tuple[list[str], list[str], list[str]]:
    fixes: list[str] = []
    tried: list[str] = []
    skipped: list[str] = []
    todo = relaxations(scenario)
    for k, r in enumerate(todo):
        share = (deadline - time.perf_counter()) / (2 * (len(todo) - k))
        if share < 0.2:
            skipped.append(r.what)
            continue
        tried.append(r.what)
        result = resolve(r.apply(scenario), rtt_ms, faults=faults, time_limit_s=share, mip_gap=0.05)
        if result is not None:
            fixes.append(f"dropping {r.what} makes it feasible (plan cost ${result.plan.total_cost_usd:,.0f})")
    return fixes, tried, skipped
