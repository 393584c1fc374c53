"""Why the plan looks the way it does: binding constraints, the price of each policy, and for every
workload the next-best alternative and why it lost."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from computemoat.model import InfeasibleError
from computemoat.planner.flatten import TIERS
from computemoat.planner.infeasible import relaxations
from computemoat.planner.solve import PlanResult, solve_flat

BINDING_FAMILIES = ("capacity", "power", "spend_cap", "gpus_cap")


@dataclass(frozen=True)
class PolicyPrice:
    policy: str
    cost_without_usd: float | None  # None: still infeasible or not solved in time without it
    delta_usd: float | None
    delta_pct: float | None


@dataclass(frozen=True)
class Alternative:
    workload_id: str
    chosen: str
    next_best: str | None
    next_best_cost_usd: float | None
    reason: str


@dataclass(frozen=True)
class Explanation:
    binding: tuple[str, ...]
    policy_prices: tuple[PolicyPrice, ...]
    alternatives: tuple[Alternative, ...]


def explain(result: PlanResult, *, time_limit_s: float = 20, mip_gap: float = 0.01) -> Explanation:
    """Inspect a solved plan; re-solves once per policy the scenario uses (to price it), all of
    them together within ``time_limit_s``."""
    return Explanation(
        binding=binding_constraints(result),
        policy_prices=policy_prices(result, time_limit_s=time_limit_s, mip_gap=mip_gap),
        alternatives=training_alternatives(result),
    )


def binding_constraints(result: PlanResult, rel_tol: float = 1e-6) -> tuple[str, ...]:
    """Capacity, power and concentration-cap rows at their bound in the solution, with the bound."""
    out: list[str] = []
    m = result.model
    for family in BINDING_FAMILIES:
        rows = m.rows.get(family)
        if rows is None:
            continue
        act, hi = result.row_value[rows], m.row_upper[rows]
        scale = np.maximum(1.0, np.abs(hi))
        if family.endswith("_cap"):  # rows are spend_p - cap*T <= 0: report the share
            scale = np.maximum(1.0, result.col_value[m.cols["T" if family == "spend_cap" else "G"]][0])
        for k in np.flatnonzero(np.abs(hi - act) <= rel_tol * scale + 1e-7):
            name = m.row_names[rows.start + k]
            out.append(f"{name} at its bound {hi[k]:g}" if not family.endswith("_cap") else f"{name} at the cap")
    return tuple(out)


def policy_prices(result: PlanResult, *, time_limit_s: float, mip_gap: float) -> tuple[PolicyPrice, ...]:
    """For each policy: plan cost without it, and what it adds ("N+1 redundancy costs $X, +Y%").
    The re-solves share ``time_limit_s``: each gets an equal part of what is left."""
    import time

    from computemoat.planner.flatten import flatten

    deadline = time.perf_counter() + time_limit_s
    base = result.plan.total_cost_usd
    out: list[PolicyPrice] = []
    todo = relaxations(result.flat.scenario, capacity=False)
    for k, (what, relax) in enumerate(todo):
        share = (deadline - time.perf_counter()) / (len(todo) - k)
        if share < 0.2:
            out.append(PolicyPrice(what, None, None, None))
            continue
        try:
            relaxed = solve_flat(
                flatten(relax(result.flat.scenario), result.flat.rtt_ms),
                time_limit_s=share,
                mip_gap=mip_gap,
                diagnose=False,
            )
        except InfeasibleError:
            out.append(PolicyPrice(what, None, None, None))
            continue
        cost = relaxed.plan.total_cost_usd
        out.append(PolicyPrice(what, cost, base - cost, (base - cost) / cost * 100 if cost > 0 else None))
    return tuple(out)


def training_alternatives(result: PlanResult) -> tuple[Alternative, ...]:
    """Per training job: the cheapest other (offering, tier) and why the solver did not take it."""
    flat, m = result.flat, result.model
    x = result.col_value[m.cols["x"]] > 0.5
    y = np.rint(result.col_value[m.cols["y"]])
    used = np.zeros(len(flat.offering_ids))
    np.add.at(used, flat.t_off[x], flat.t_gpus[x])
    np.add.at(used, flat.r_off, y * flat.r_gpus_per_replica)
    site_mw = defaultdict(float)
    for o in range(len(flat.offering_ids)):
        site_mw[flat.off_site[o]] += used[o] * flat.off_mw_per_gpu[o]
    out: list[Alternative] = []
    for j, job_id in enumerate(flat.job_ids):
        cands = np.flatnonzero(flat.t_job == j)
        chosen = cands[x[cands]][0]
        others = cands[cands != chosen]
        label = f"{flat.offering_ids[flat.t_off[chosen]]} ({TIERS[flat.t_tier[chosen]].value})"
        if len(others) == 0:
            out.append(Alternative(job_id, label, None, None, "no other offering is allowed"))
            continue
        alt = others[np.argmin(flat.t_cost_usd[others])]
        o, o_now = flat.t_off[alt], flat.t_off[chosen]
        alt_label = f"{flat.offering_ids[o]} ({TIERS[flat.t_tier[alt]].value})"
        delta = flat.t_cost_usd[alt] - flat.t_cost_usd[chosen]
        if delta >= 0:
            reason = f"costs ${delta:,.0f} more"
        else:
            free_gpus = flat.off_capacity_gpus[o] - used[o] + (flat.t_gpus[chosen] if o == o_now else 0)
            s = flat.off_site[o]
            free_mw = flat.site_power_cap_mw[s] - site_mw[s]
            if free_gpus < flat.t_gpus[alt]:
                reason = f"${-delta:,.0f} cheaper but only {free_gpus:.0f} GPUs left there"
            elif free_mw < flat.t_gpus[alt] * flat.off_mw_per_gpu[o]:
                reason = f"${-delta:,.0f} cheaper but the site has only {free_mw:.2f} MW of power left"
            else:
                reason = f"${-delta:,.0f} cheaper but breaks a provider cap or N+k elsewhere"
        out.append(Alternative(job_id, label, alt_label, float(flat.t_cost_usd[alt]), reason))
    return tuple(out)
