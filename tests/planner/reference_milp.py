"""An independent reference formulation of the placement problem, written from the Scenario alone with
highspy's modelling API: no flattening, no pruning, no valid cuts, every k-subset of *all* providers as a
failure set, real provider shares. It shares with the planner only the specification: the placement
rules (rules.py), the packing rule, the anti-dilution bound and the reliability model."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np

from computemoat.model import (
    Assignment,
    InferencePlacement,
    Plan,
    PlanStatus,
    Scenario,
    Tier,
    TrainingPlacement,
)
from computemoat.planner.rules import gpu_hour_usd, provider_block_reason, residency_allows, training_tiers
from computemoat.reliability import FaultModel, job_reliability


@dataclass
class Reference:
    cost_usd: float | None  # None: infeasible
    plan: Plan | None


def solve_reference(sc: Scenario, rtt_ms: np.ndarray, faults: FaultModel) -> Reference:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 1e-9)
    h.setOptionValue("random_seed", 0)
    prov_of_site = {s.id: s.provider for s in sc.sites}
    providers = {p.name: p for p in sc.providers}
    cost: list[tuple[Any, float]] = []  # (variable, USD per unit)
    gpus_at: dict[str, list[tuple[Any, float]]] = {o.id: [] for o in sc.offerings}
    x: dict[tuple[str, str, Tier], tuple[Any, int, float, float]] = {}
    for job in sc.training_jobs:
        choices = []
        for o in sc.offerings:
            prov = providers[prov_of_site[o.site]]
            if o.accelerator not in job.accelerators or provider_block_reason(sc, job, prov) is not None:
                continue
            paid = math.ceil(job.gpus / o.gpus_per_instance) * o.gpus_per_instance
            if paid > o.capacity_gpus:
                continue
            for tier in training_tiers(job):
                price = gpu_hour_usd(sc, o.id, tier)
                if price is None:
                    continue
                rel = job_reliability(
                    faults,
                    job_id=job.id,
                    work_hours=job.hours,
                    checkpoint_write_s=job.checkpoint_write_s,
                    gpus=paid,
                    tier=tier,
                    gpus_per_instance=o.gpus_per_instance,
                    provider=prov.name,
                )
                if job.deadline_hours is not None and rel.expected_hours > job.deadline_hours:
                    continue
                v = h.addBinary()
                c = paid * rel.expected_hours * price
                x[(job.id, o.id, tier)] = (v, paid, rel.expected_hours, c)
                cost.append((v, c))
                gpus_at[o.id].append((v, paid))
                choices.append(v)
        if not choices:
            return Reference(None, None)
        h.addConstr(sum(choices) == 1)
    y: dict[tuple[str, str], tuple[Any, Any]] = {}
    for svc in sc.inference_services:
        if not _service(h, sc, svc, rtt_ms, providers, prov_of_site, y, cost, gpus_at):
            return Reference(None, None)
    _capacity_power_caps(h, sc, cost, gpus_at, prov_of_site, y)
    h.minimize(sum(v * c for v, c in cost) if cost else 0)
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return Reference(None, None)
    return Reference(float(h.getInfo().objective_function_value), _plan(h, sc, x, y, rtt_ms, prov_of_site))


def _service(h, sc, svc, rtt_ms, providers, prov_of_site, y, cost, gpus_at) -> bool:  # type: ignore[no-untyped-def]
    region_i = {r.name: i for i, r in enumerate(sc.user_regions)}
    site_i = {s.id: i for i, s in enumerate(sc.sites)}
    demand = sc.demand_rps(svc)

    def reaches(site_id: str) -> bool:  # a replica no region may use can only be idle: not a placement
        return any(
            rtt_ms[region_i[r], site_i[site_id]] <= svc.latency_slo_ms
            and residency_allows(sc, r, providers[prov_of_site[site_id]])
            for r in demand
        )

    offs = [
        o
        for o in sc.offerings
        if o.accelerator in svc.accelerators
        and reaches(o.site)
        and provider_block_reason(sc, svc, providers[prov_of_site[o.site]]) is None
    ]
    for o in offs:
        gpi, gpr = o.gpus_per_instance, svc.gpus_per_replica
        rep = h.addIntegral(lb=0, ub=o.capacity_gpus)
        inst = h.addIntegral(lb=0, ub=o.capacity_gpus // gpi)
        if gpr <= gpi:
            rpi = gpi // gpr
            h.addConstr(rpi * inst - rep >= 0)
            h.addConstr(rpi * inst - rep <= rpi - 1)
        else:
            h.addConstr(inst == math.ceil(gpr / gpi) * rep)
        price = gpu_hour_usd(sc, o.id, Tier.on_demand)
        assert price is not None
        cost.append((inst, gpi * sc.horizon_hours * price))
        gpus_at[o.id].append((inst, gpi))
        y[(svc.id, o.id)] = (rep, inst)
    reps = [y[(svc.id, o.id)][0] for o in offs]
    if svc.min_replicas:
        if not reps:
            return False
        h.addConstr(sum(reps) >= svc.min_replicas)
    names = [p.name for p in sc.providers]
    for failed in itertools.combinations(names, svc.redundancy_k):
        load: dict[str, list[Any]] = {}
        for region, rps in demand.items():
            zs = []
            for s in sc.sites:
                ok = rtt_ms[region_i[region], site_i[s.id]] <= svc.latency_slo_ms
                ok = ok and residency_allows(sc, region, providers[s.provider]) and s.provider not in failed
                if ok and any(o.site == s.id for o in offs):
                    z = h.addVariable(lb=0)
                    zs.append(z)
                    load.setdefault(s.id, []).append(z)
            if not zs:
                return False
            h.addConstr(sum(zs) == rps)
        for site_id, zs in load.items():
            here = [y[(svc.id, o.id)][0] for o in offs if o.site == site_id]
            h.addConstr(sum(zs) - svc.rps_per_replica * sum(here) <= 0)
    return True


def _capacity_power_caps(h, sc, cost, gpus_at, prov_of_site, y) -> None:  # type: ignore[no-untyped-def]
    for o in sc.offerings:
        if gpus_at[o.id]:
            h.addConstr(sum(v * g for v, g in gpus_at[o.id]) <= o.capacity_gpus)
    accel = {a.name: a for a in sc.accelerators}
    for s in sc.sites:
        if s.power_capacity_mw is None:
            continue
        terms = [
            (v, g * accel[o.accelerator].board_power_w * s.pue / 1e6)
            for o in sc.offerings
            if o.site == s.id
            for v, g in gpus_at[o.id]
        ]
        if terms:
            h.addConstr(sum(v * w for v, w in terms) <= s.power_capacity_mw)
    pol = sc.policy
    if pol.max_provider_share_spend is None and pol.max_provider_share_gpus is None:
        return
    for svc in sc.inference_services:  # the anti-dilution rule, from its definition
        need = sum(math.ceil(r / svc.rps_per_replica - 1e-9) for r in sc.demand_rps(svc).values())
        bound = max(svc.min_replicas, (1 + svc.redundancy_k) * need)
        reps = [v[0] for (sid, _), v in y.items() if sid == svc.id]
        if reps:
            h.addConstr(sum(reps) <= bound)
    # cost and GPU terms per provider: training x and instance variables, each once
    prov_of_off = {o.id: prov_of_site[o.site] for o in sc.offerings}
    unit_cost = {id(v): c for v, c in cost}
    for cap, value in ((pol.max_provider_share_spend, "spend"), (pol.max_provider_share_gpus, "gpus")):
        if cap is None:
            continue
        per: dict[str, list[tuple[Any, float]]] = {}
        for off_id, terms in gpus_at.items():
            for v, g in terms:
                per.setdefault(prov_of_off[off_id], []).append((v, unit_cost[id(v)] if value == "spend" else g))
        total = sum(v * c for terms in per.values() for v, c in terms)
        for terms in per.values():
            h.addConstr(sum(v * c for v, c in terms) - cap * total <= 0)


def _plan(h, sc, x, y, rtt_ms, prov_of_site) -> Plan:  # type: ignore[no-untyped-def]
    """The reference solution as a Plan, so the planner's validator can check it too."""
    training = []
    for (job_id, off_id, tier), (v, paid, hours, c) in x.items():
        if h.val(v) > 0.5:
            job = next(j for j in sc.training_jobs if j.id == job_id)
            training.append(
                TrainingPlacement(
                    job_id=job_id,
                    offering_id=off_id,
                    site_id=sc.offering(off_id).site,
                    provider=prov_of_site[sc.offering(off_id).site],
                    tier=tier,
                    gpus=paid,
                    cost_usd=c,
                    nominal_hours=job.hours,
                    expected_hours=hours,
                )
            )
    inference = []
    for (svc_id, off_id), (rep, inst) in y.items():
        n, k = round(h.val(rep)), round(h.val(inst))
        if n > 0:
            o = sc.offering(off_id)
            price = gpu_hour_usd(sc, off_id, Tier.on_demand) or 0.0
            inference.append(
                InferencePlacement(
                    service_id=svc_id,
                    offering_id=off_id,
                    site_id=o.site,
                    provider=prov_of_site[o.site],
                    replicas=n,
                    gpus=k * o.gpus_per_instance,
                    instances=k,
                    cost_usd=k * o.gpus_per_instance * sc.horizon_hours * price,
                )
            )
    assignments = _nominal_assignments(sc, inference, rtt_ms)
    total = sum(p.cost_usd for p in training) + sum(p.cost_usd for p in inference)
    return Plan(
        scenario=sc.name,
        status=PlanStatus.optimal,
        total_cost_usd=total,
        training=tuple(training),
        inference=tuple(inference),
        assignments=tuple(assignments),
    )


def _nominal_assignments(sc: Scenario, inference: list[InferencePlacement], rtt_ms: np.ndarray) -> list[Assignment]:
    """Route each service's demand over its replicas with a small LP (the no-failure case)."""
    out = []
    region_i = {r.name: i for i, r in enumerate(sc.user_regions)}
    site_i = {s.id: i for i, s in enumerate(sc.sites)}
    providers = {p.name: p for p in sc.providers}
    for svc in sc.inference_services:
        cap: dict[str, float] = {}
        for ip in inference:
            if ip.service_id == svc.id:
                cap[ip.site_id] = cap.get(ip.site_id, 0.0) + ip.replicas * svc.rps_per_replica
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        z = {}
        for region, rps in sc.demand_rps(svc).items():
            for site_id in cap:
                rtt = rtt_ms[region_i[region], site_i[site_id]]
                if rtt <= svc.latency_slo_ms and residency_allows(sc, region, providers[sc.site(site_id).provider]):
                    z[(region, site_id)] = (h.addVariable(lb=0), rtt)
            h.addConstr(sum(v for (r, _), (v, _) in z.items() if r == region) == rps)
        for site_id, c in cap.items():
            terms = [v for (_, s), (v, _) in z.items() if s == site_id]
            if terms:
                h.addConstr(sum(terms) <= c)
        h.minimize(sum(v * rtt for v, rtt in z.values()))
        for (region, site_id), (v, rtt) in z.items():
            if h.val(v) > 1e-9:
                out.append(Assignment(service_id=svc.id, region=region, site_id=site_id, rps=h.val(v), rtt_ms=rtt))
    return out
