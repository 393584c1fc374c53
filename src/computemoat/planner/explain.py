"""Why the plan looks the way it does: binding constraints, the price of each policy, and for every
workload the next-best alternative and why it lost."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from computemoat.model import HOURS_PER_MONTH
from computemoat.planner.columns import Block
from computemoat.planner.flatten import TIERS, key_of_assignment
from computemoat.planner.relax import relaxations, resolve
from computemoat.planner.rules import residency_allows
from computemoat.planner.solve import PlanResult

BINDING_FAMILIES = ("capacity", "power", "spend_cap", "gpus_cap")


@dataclass(frozen=True)
class PolicyPrice:
    policy: str
    cost_without_usd: float | None  # None: still infeasible or not solved in time without it
    delta_usd: float | None
    delta_pct: float | None
    within_gap: bool = False  # |delta| <= what the solver gaps leave unresolved: shown as ≈ 0
    tolerance_usd: float = 0.0  # that unresolved amount

    def line(self) -> str:
        if self.delta_usd is None:
            return f"{self.policy}: no plan without it in the time given"
        if self.within_gap:
            return f"{self.policy}: ≈ $0 (within the solver gap, ±${self.tolerance_usd:,.0f})"
        return f"{self.policy}: ${self.delta_usd:,.0f} ({self.delta_pct or 0.0:+.2f}%)"


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
    alternatives: tuple[Alternative, ...]  # training jobs
    service_alternatives: tuple[Alternative, ...] = ()  # inference services (largest placement each)


def explain(result: PlanResult, *, time_limit_s: float = 20, mip_gap: float = 0.01) -> Explanation:
    """Inspect a solved plan; re-solves once per policy the scenario uses (to price it), all of
    them together within ``time_limit_s``."""
    return Explanation(
        binding=binding_constraints(result),
        policy_prices=policy_prices(result, time_limit_s=time_limit_s, mip_gap=mip_gap),
        alternatives=training_alternatives(result),
        service_alternatives=service_alternatives(result),
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
            scale = np.maximum(1.0, result.col_value[m.cols[Block.T if family == "spend_cap" else Block.G]][0])
        for k in np.flatnonzero(np.abs(hi - act) <= rel_tol * scale + 1e-7):
            name = m.row_names[rows.start + k]
            out.append(f"{name} at its bound {hi[k]:g}" if not family.endswith("_cap") else f"{name} at the cap")
    return tuple(out)


def policy_prices(result: PlanResult, *, time_limit_s: float, mip_gap: float) -> tuple[PolicyPrice, ...]:
    """For each policy: plan cost without it, and what it adds ("N+1 redundancy costs $X, +Y%").
    A price smaller than what the two solves' gaps leave unresolved is noise: ``within_gap`` marks
    it, and it reads ≈ 0. The re-solves share ``time_limit_s``: each gets an equal part of what is left."""
    import time

    deadline = time.perf_counter() + time_limit_s
    base = result.plan.total_cost_usd
    out: list[PolicyPrice] = []
    todo = [r for r in relaxations(result.flat.scenario, capacity=False) if r.is_policy]
    for k, r in enumerate(todo):
        share = (deadline - time.perf_counter()) / (len(todo) - k)
        relaxed = None
        if share >= 0.2:
            relaxed = resolve(
                r.apply(result.flat.scenario),
                result.flat.rtt_ms,
                faults=result.flat.faults,
                time_limit_s=share,
                mip_gap=mip_gap,
            )
        if relaxed is None:
            out.append(PolicyPrice(r.what, None, None, None))
            continue
        cost = relaxed.plan.total_cost_usd
        noise = (result.mip_gap or 0.0) * base + (relaxed.mip_gap or 0.0) * cost
        delta = base - cost
        out.append(
            PolicyPrice(r.what, cost, delta, delta / cost * 100 if cost > 0 else None, abs(delta) <= noise, noise)
        )
    return tuple(out)


def _usage(result: PlanResult) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, float]]:
    """x (chosen training candidates), y (replicas), GPUs used per offering, MW used per site."""
    flat, m = result.flat, result.model
    x = result.col_value[m.cols[Block.x]] > 0.5
    y = np.rint(result.col_value[m.cols[Block.y]])
    used = np.zeros(len(flat.offering_ids))
    np.add.at(used, flat.t_off[x], flat.t_gpus[x])
    np.add.at(used, flat.r_off, y * flat.r_gpus_per_replica)
    site_mw: dict[int, float] = defaultdict(float)
    for o in range(len(flat.offering_ids)):
        site_mw[flat.off_site[o]] += used[o] * flat.off_mw_per_gpu[o]
    return x, y, used, site_mw


def training_alternatives(result: PlanResult) -> tuple[Alternative, ...]:
    """Per training job: the cheapest other (offering, tier) and why the solver did not take it."""
    flat = result.flat
    x, _, used, site_mw = _usage(result)
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


def service_alternatives(result: PlanResult) -> tuple[Alternative, ...]:
    """Per inference service, for its largest placement (by cost): the cheapest other offering the
    service may use within the SLO and residency of at least one region that placement serves, and
    why the solver did not move the placement's replicas there. Reasons, first that applies: dearer
    per replica (USD per replica-month, 730 h); cheaper but out of SLO or barred by residency for a
    region the placement serves; too few GPUs or too little site power left there; N+k coverage
    would break (a provider-loss set leaves fewer replicas than demand needs); a provider's share
    would pass its cap. Pure arithmetic on the solved plan: no re-solve."""
    flat, m = result.flat, result.model
    sc = flat.scenario
    _, y, used, site_mw = _usage(result)
    z = result.col_value[m.cols[Block.z]]
    key_of = key_of_assignment(flat)
    out: list[Alternative] = []
    for s, svc_id in enumerate(flat.service_ids):
        svc = sc.inference_services[s]
        vs = np.flatnonzero((flat.r_svc == s) & (y > 0))
        if len(vs) == 0:
            out.append(Alternative(svc_id, "—", None, None, "not placed"))
            continue
        v_now = vs[np.argmax(y[vs] * flat.r_cost_usd_per_replica[vs])]
        o_now, n = flat.r_off[v_now], int(y[v_now])
        label = f"{flat.offering_ids[o_now]} ({n} replica{'s' if n != 1 else ''})"
        site_now = flat.off_site[o_now]
        # regions this placement's site serves (nominally or under some provider loss)
        served_a = (z > 1e-9) & (flat.a_site == site_now) & (flat.d_svc[flat.a_dem] == s)
        regions = sorted({r for k in key_of[served_a] for r in flat.key_regions[k]})
        if not regions:  # idle replicas (min_replicas): judge against every region of the service
            regions = sorted({int(r) for r in flat.d_region[flat.d_svc == s]})
        cands = [
            v
            for v in np.flatnonzero(flat.r_svc == s)
            if v != v_now and any(_reaches(flat, svc, r, flat.r_off[v]) for r in regions)
        ]
        if not cands:
            out.append(Alternative(svc_id, label, None, None, "no other offering is allowed within SLO"))
            continue
        alt = int(min(cands, key=lambda v: (flat.r_cost_usd_per_replica[v], v)))
        o = flat.r_off[alt]
        cost_alt = float(flat.r_cost_usd_per_replica[alt])
        per_month = (cost_alt - flat.r_cost_usd_per_replica[v_now]) / sc.horizon_hours * HOURS_PER_MONTH
        out.append(
            Alternative(
                svc_id,
                label,
                flat.offering_ids[o],
                cost_alt,
                _service_reason(result, s, v_now, alt, regions, per_month, y, used, site_mw),
            )
        )
    return tuple(out)


def _reaches(flat, svc, r: int, o: int) -> bool:  # type: ignore[no-untyped-def]
    """Offering o may serve region r: within the SLO and allowed by residency."""
    prov = flat.scenario.providers[flat.off_provider[o]]
    return bool(flat.rtt_ms[r, flat.off_site[o]] <= svc.latency_slo_ms) and residency_allows(
        flat.scenario, flat.region_names[r], prov
    )


def _service_reason(  # type: ignore[no-untyped-def]
    result: PlanResult, s: int, v_now: int, alt: int, regions: list[int], per_month: float, y, used, site_mw
) -> str:
    flat = result.flat
    sc = flat.scenario
    svc = sc.inference_services[s]
    o, o_now = flat.r_off[alt], flat.r_off[v_now]
    if per_month >= 0:
        return f"dearer: +${per_month:,.0f} per replica-month"
    head = f"${-per_month:,.0f} per replica-month cheaper but"
    prov = sc.providers[flat.off_provider[o]]
    site = flat.off_site[o]
    far = [r for r in regions if flat.rtt_ms[r, site] > svc.latency_slo_ms]
    if far:
        what = ", ".join(f"{flat.region_names[r]} ({flat.rtt_ms[r, site]:.0f} ms)" for r in far[:3])
        what += f" and {len(far) - 3} more regions" if len(far) > 3 else ""
        return f"{head} out of its {svc.latency_slo_ms:g} ms SLO for {what}"
    barred = [r for r in regions if not residency_allows(sc, flat.region_names[r], prov)]
    if barred:
        what = ", ".join(flat.region_names[r] for r in barred[:3])
        what += f" and {len(barred) - 3} more regions" if len(barred) > 3 else ""
        return f"{head} residency bars {prov.jurisdiction} ({prov.name}) for {what}"
    n = y[v_now]
    need_gpus = n * flat.r_gpus_per_replica[v_now]
    free_gpus = flat.off_capacity_gpus[o] - used[o]
    if free_gpus < need_gpus:
        return f"{head} only {free_gpus:.0f} GPUs left there (needs {need_gpus:.0f})"
    extra_mw = need_gpus * flat.off_mw_per_gpu[o] - (
        need_gpus * flat.off_mw_per_gpu[o_now] if site == flat.off_site[o_now] else 0
    )
    free_mw = flat.site_power_cap_mw[site] - site_mw[site]
    if free_mw < extra_mw - 1e-9:
        return f"{head} the site has only {free_mw:.2f} MW of power left"
    # move the n replicas from o_now to o: does every provider-loss set keep enough replicas?
    y_new = y.copy()
    y_new[v_now] = 0
    y_new[alt] += n
    broken = _nk_shortfall(flat, s, y_new)
    if broken:
        return f"{head} breaks N+{svc.redundancy_k}: {broken}"
    cap = _cap_breach(result, v_now, alt, n)
    if cap:
        return f"{head} {cap}"
    return f"{head} not taken by the solver (within the MIP gap, or the move breaks N+k coverage elsewhere)"


def _nk_shortfall(flat, s: int, y_new: np.ndarray) -> str | None:  # type: ignore[no-untyped-def]
    """First (region, failure set) whose usable surviving replicas fall below ceil(rps / rps_per_replica)."""
    svc = flat.scenario.inference_services[s]
    vs = np.flatnonzero((flat.r_svc == s) & (y_new > 0))
    for f in np.flatnonzero(flat.f_svc == s):
        failed = flat.f_failed[f]
        for d in np.flatnonzero(flat.d_svc == s):
            r = int(flat.d_region[d])
            have = sum(
                y_new[v]
                for v in vs
                if flat.off_provider[flat.r_off[v]] not in failed and _reaches(flat, svc, r, flat.r_off[v])
            )
            need = int(np.ceil(flat.d_rps[d] / svc.rps_per_replica - 1e-9))
            if have < need:
                lost = "+".join(sorted(flat.provider_names[p] for p in failed))
                when = f" without {lost}" if lost else ""
                return f"{flat.region_names[r]}{when} would have {have:.0f} of {need} replicas needed"
    return None


def _cap_breach(result: PlanResult, v_now: int, alt: int, n: float) -> str | None:
    """The concentration cap the move would break, read off the model's own cap rows
    (``gpus_p - cap x G <= 0`` with G, T the counted totals, which the move leaves unchanged)."""
    flat, m = result.flat, result.model
    pol = flat.scenario.policy
    p_now = flat.off_provider[flat.r_off[v_now]]
    p_alt = flat.off_provider[flat.r_off[alt]]
    if p_now == p_alt:
        return None
    name = flat.provider_names[p_alt]
    for family, total, cap, add in (
        ("gpus_cap", "G", pol.max_provider_share_gpus, n * flat.r_gpus_per_replica[alt]),
        ("spend_cap", "T", pol.max_provider_share_spend, n * flat.r_cost_usd_per_replica[alt]),
    ):
        rows = m.rows.get(family)
        if rows is None or cap is None:
            continue
        row_name = f"{family}[{name}]"
        k = next((k for k in range(rows.start, rows.stop) if m.row_names[k] == row_name), None)
        counted = float(result.col_value[m.cols[Block(total)]][0])
        if k is None or counted <= 0:
            continue
        if result.row_value[k] + add > m.row_upper[k] + 1e-6 * max(1.0, counted):
            share = (result.row_value[k] + add) / counted + cap  # row = own - cap x total
            what = "GPUs" if total == "G" else "spend"
            return f"puts {name} at {share:.2%} of counted {what} (cap {cap:.0%})"
    return None
