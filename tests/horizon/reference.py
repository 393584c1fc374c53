"""An independent reference formulation of the multi-period model, written from the Scenario alone with
highspy's modelling API (no flattening, no shared arrays): the oracle the planner is compared against.

Covers what the random cases use: one period or several, per-period demand scale and price scale, jobs of
at most one period starting in period 0 (on-demand/spot), whole-instance inference units with N+k,
commitment options (term, take-or-pay, upfront, minimum) and per-period GPU caps / horizon spend caps.
Nominal hours (FaultModel.none()).
"""

from __future__ import annotations

import itertools
import math

import highspy
import numpy as np

from computemoat.model import Scenario


def reference_cost(sc: Scenario, rtt_ms: np.ndarray) -> float:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 1e-9)
    hz = sc.horizon
    n = 1 if hz is None else hz.periods
    hours = sc.horizon_hours if hz is None else hz.period_hours
    years = [t * (1 if hz is None else hz.period.months) / 12 for t in range(n)]
    decline = 0.0 if hz is None else hz.price_decline_per_year
    site_of = {o.id: sc.site(o.site) for o in sc.offerings}
    prov_of = {o.id: site_of[o.id].provider for o in sc.offerings}

    def price(o, tier: str, t: int) -> float | None:  # type: ignore[no-untyped-def]
        base = o.usd_per_gpu_hour_on_demand if tier == "od" else o.usd_per_gpu_hour_spot
        return None if base is None else base * (1 - decline) ** years[t]

    cost_terms = []
    rented: dict[tuple[str, int], list] = {}  # (offering, t) -> [(var, gpus)]
    drawn: dict[tuple[str, int], list] = {}  # committed draws
    spend: dict[str, list] = {}  # provider -> [(var, usd)]
    for job in sc.training_jobs:
        xs = []
        for o in sc.offerings:
            if o.accelerator not in job.accelerators:
                continue
            if job.allowed_providers and prov_of[o.id] not in job.allowed_providers:
                continue
            gpus = math.ceil(job.gpus / o.gpus_per_instance) * o.gpus_per_instance
            for tier in ("od", "spot") if job.spot_allowed else ("od",):
                p = price(o, tier, 0)
                if p is None or gpus > o.capacity_gpus:
                    continue
                x = h.addBinary()
                xs.append(x)
                rented.setdefault((o.id, 0), []).append((x, gpus))
                spend.setdefault(prov_of[o.id], []).append((x, gpus * job.hours * p))
                cost_terms.append((x, gpus * job.hours * p))
        h.addConstr(sum(xs) == 1)
    # inference units
    for svc in sc.inference_services:
        demand = sc.demand_rps(svc)
        scale = np.ones(n)
        for d in hz.demand if hz else ():
            if d.service == svc.id:
                scale = np.asarray(d.scale) if d.scale else (1 + d.growth_per_year) ** np.asarray(years)
        offs = [o for o in sc.offerings if o.accelerator in svc.accelerators]
        ok = {
            (r.name, o.id): rtt_ms[i, [s.id for s in sc.sites].index(o.site)] <= svc.latency_slo_ms
            for i, r in enumerate(sc.user_regions)
            for o in offs
        }
        offs = [o for o in offs if any(ok[(r, o.id)] for r in demand)]
        provs = sorted({prov_of[o.id] for o in offs})
        for t in range(n):
            units = {}
            for o in offs:
                reps = o.gpus_per_instance // svc.gpus_per_replica
                tiers = ["od"] + (["c"] if _committable(sc, o.id) else [])
                for tier in tiers:
                    u = h.addIntegral(lb=0, ub=o.capacity_gpus // o.gpus_per_instance)
                    units[(o.id, tier)] = (u, reps)
                    if tier == "od":
                        usd = o.gpus_per_instance * hours * price(o, "od", t)
                        cost_terms.append((u, usd))
                        rented.setdefault((o.id, t), []).append((u, o.gpus_per_instance))
                        spend.setdefault(prov_of[o.id], []).append((u, usd))
                    else:
                        drawn.setdefault((o.id, t), []).append((u, o.gpus_per_instance))
            if sc.policy.max_provider_share_gpus is not None or sc.policy.max_provider_share_spend is not None:
                # the anti-dilution rule: at most the N+k need region by region (+ one unit's rounding)
                need = (1 + svc.redundancy_k) * sum(
                    math.ceil(v * scale[t] / svc.rps_per_replica - 1e-9) for v in demand.values()
                )
                slack = max(reps for _, reps in units.values()) - 1
                h.addConstr(sum(u * reps for u, reps in units.values()) <= max(need, svc.min_replicas) + slack)
            for failed in [(), *itertools.combinations(provs, svc.redundancy_k)] if svc.redundancy_k else [()]:
                z = {}
                for r, rps in demand.items():
                    for o in offs:
                        if ok[(r, o.id)] and prov_of[o.id] not in failed and (r, o.site) not in z:
                            z[(r, o.site)] = h.addVariable(lb=0)
                    mine = [v for (rr, _), v in z.items() if rr == r]
                    assert mine or rps * scale[t] <= 0, "Infeasible: a region no surviving site can serve"
                    if mine:
                        h.addConstr(sum(mine) == rps * scale[t])
                for site in {s for _, s in z}:
                    served = sum(v for (_, s), v in z.items() if s == site)
                    cap = sum(u * reps * svc.rps_per_replica for (oid, _), (u, reps) in units.items()
                              if site_of[oid].id == site)  # fmt: skip
                    h.addConstr(served - cap <= 0)
    # commitments
    starts_of = []
    for c in hz.commitments if hz else ():
        o = sc.offering(c.offering)
        gpi = o.gpus_per_instance
        last = n - c.term_periods if c.latest_start_period is None else min(n - c.term_periods, c.latest_start_period)
        for s in range(c.earliest_start_period, last + 1):
            k = h.addIntegral(lb=0, ub=o.capacity_gpus // gpi)
            if c.min_gpus:
                b = h.addBinary()
                h.addConstr(k * gpi - c.min_gpus * b >= 0)
                h.addConstr(k - (o.capacity_gpus // gpi) * b <= 0)
            usd_up = c.upfront_usd_per_gpu * gpi
            cost_terms.append((k, usd_up))
            spend.setdefault(prov_of[o.id], []).append((k, usd_up))
            for t in range(s, s + c.term_periods):
                w, e = h.addVariable(lb=0), h.addVariable(lb=0)
                h.addConstr(w - k * gpi <= 0)
                h.addConstr(w - c.take_or_pay_share * gpi * k - e <= 0)
                floor = hours * c.usd_per_gpu_hour * c.take_or_pay_share * gpi
                cost_terms += [(k, floor), (e, hours * c.usd_per_gpu_hour)]
                spend.setdefault(prov_of[o.id], []).extend([(k, floor), (e, hours * c.usd_per_gpu_hour)])
                rented.setdefault((o.id, t), []).append((k, gpi))
                starts_of.append((o.id, t, w))
    for o in sc.offerings:
        for t in range(n):
            use = rented.get((o.id, t), [])
            if use:
                h.addConstr(sum(v * g for v, g in use) <= o.capacity_gpus)
            draws = drawn.get((o.id, t), [])
            if draws:
                supply = [w for oid, tt, w in starts_of if oid == o.id and tt == t]
                h.addConstr(sum(v * g for v, g in draws) - sum(supply) <= 0)
    if sc.policy.max_provider_share_gpus is not None:
        cap = sc.policy.max_provider_share_gpus
        for t in range(n):
            total = [(v, g) for (oid, tt), lst in rented.items() if tt == t for v, g in lst]
            for p in sc.providers:
                mine = [
                    (v, g) for (oid, tt), lst in rented.items() if tt == t and prov_of[oid] == p.name for v, g in lst
                ]
                if mine:
                    h.addConstr(sum(v * g for v, g in mine) - cap * sum(v * g for v, g in total) <= 0)
    if sc.policy.max_provider_share_spend is not None:
        cap = sc.policy.max_provider_share_spend
        total = [vu for lst in spend.values() for vu in lst]
        for lst in spend.values():
            h.addConstr(sum(v * u for v, u in lst) - cap * sum(v * u for v, u in total) <= 0)
    h.minimize(sum(v * c for v, c in cost_terms))
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal, h.modelStatusToString(h.getModelStatus())
    return float(h.getInfo().objective_function_value)


def _committable(sc: Scenario, offering_id: str) -> bool:
    return sc.horizon is not None and any(c.offering == offering_id for c in sc.horizon.commitments)
