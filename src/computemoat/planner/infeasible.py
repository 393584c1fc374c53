"""Why is there no plan? Drop one constraint family at a time and report which drops make it feasible.

The MILP is never silently relaxed: this runs only after HiGHS proved infeasibility, and its output
is the message of the ``InfeasibleError`` the user sees.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from computemoat.model import InfeasibleError, Scenario

Relaxation = tuple[str, Callable[[Scenario], Scenario]]


def relaxations(sc: Scenario, *, capacity: bool = True) -> list[Relaxation]:
    """(what is dropped, how) for every constraint family the scenario actually uses; ``capacity``
    adds a non-policy relaxation (ten times every offering's capacity) for diagnosis."""
    out: list[Relaxation] = []
    pol = sc.policy
    if pol.max_provider_share_spend is not None:
        out.append(
            (
                f"policy.max_provider_share_spend={pol.max_provider_share_spend:g}",
                lambda s: s.model_copy(
                    update={"policy": s.policy.model_copy(update={"max_provider_share_spend": None})}
                ),
            )
        )
    if pol.max_provider_share_gpus is not None:
        out.append(
            (
                f"policy.max_provider_share_gpus={pol.max_provider_share_gpus:g}",
                lambda s: s.model_copy(
                    update={"policy": s.policy.model_copy(update={"max_provider_share_gpus": None})}
                ),
            )
        )
    if any(s.redundancy_k for s in sc.inference_services):
        ids = ", ".join(f"{s.id} (k={s.redundancy_k})" for s in sc.inference_services if s.redundancy_k)
        out.append(
            (
                f"N+k redundancy of {ids}",
                lambda s: s.model_copy(
                    update={
                        "inference_services": tuple(
                            v.model_copy(update={"redundancy_k": 0}) for v in s.inference_services
                        )
                    }
                ),
            )
        )
    if pol.residency:
        out.append(
            (
                "policy.residency",
                lambda s: s.model_copy(update={"policy": s.policy.model_copy(update={"residency": {}})}),
            )
        )
    if pol.excluded_providers or pol.excluded_jurisdictions:
        out.append(
            (
                "policy.excluded_providers/excluded_jurisdictions",
                lambda s: s.model_copy(
                    update={
                        "policy": s.policy.model_copy(update={"excluded_providers": (), "excluded_jurisdictions": ()})
                    }
                ),
            )
        )
    if any(s.power_capacity_mw is not None for s in sc.sites):
        out.append(
            (
                "site power caps (power_capacity_mw)",
                lambda s: s.model_copy(
                    update={"sites": tuple(site.model_copy(update={"power_capacity_mw": None}) for site in s.sites)}
                ),
            )
        )
    if sc.inference_services:
        out.append(
            (
                "inference latency SLOs (latency_slo_ms)",
                lambda s: s.model_copy(
                    update={
                        "inference_services": tuple(
                            v.model_copy(update={"latency_slo_ms": 1e9}) for v in s.inference_services
                        )
                    }
                ),
            )
        )
    if not capacity:
        return out
    out.append(
        (
            "offering capacity (capacity_gpus, x10)",
            lambda s: s.model_copy(
                update={
                    "offerings": tuple(
                        o.model_copy(update={"capacity_gpus": o.capacity_gpus * 10}) for o in s.offerings
                    )
                }
            ),
        )
    )
    return out


def diagnose_infeasible(scenario: Scenario, rtt_ms: np.ndarray, *, time_limit_s: float = 30) -> list[str]:
    """Lines for an ``InfeasibleError``: the verdict, then each single drop that restores a plan.
    All re-solves together stay within ``time_limit_s`` (each gets an equal part of what is left)."""
    import time

    from computemoat.planner.flatten import flatten
    from computemoat.planner.solve import solve_flat

    deadline = time.perf_counter() + time_limit_s
    lines = [f"scenario {scenario.name}: no plan satisfies all constraints together"]
    fixes: list[str] = []
    tried: list[str] = []
    skipped: list[str] = []
    todo = relaxations(scenario)
    for k, (what, relax) in enumerate(todo):
        share = (deadline - time.perf_counter()) / (len(todo) - k)
        if share < 0.2:
            skipped.append(what)
            continue
        tried.append(what)
        try:
            relaxed = relax(scenario)
            result = solve_flat(flatten(relaxed, rtt_ms), time_limit_s=share, mip_gap=0.05, diagnose=False)
        except InfeasibleError:
            continue
        fixes.append(f"dropping {what} makes it feasible (plan cost ${result.plan.total_cost_usd:,.0f})")
    if fixes:
        lines.extend(fixes)
    else:
        lines.append("no single constraint family explains it; tried dropping each of: " + "; ".join(tried))
    if skipped:
        lines.append("not tried for lack of time (raise --time-limit): " + "; ".join(skipped))
    return lines
