"""An independent checker of any plan against its scenario (no solver): lists every violation.

It shares only the placement rules with the MILP (``rules.py``, the specification); capacity,
power, caps, SLOs, residency and N+k redundancy are recomputed here from the plan itself. The
redundancy check is a max-flow per failure set (users -> reachable surviving sites -> capacity),
so a plan that only works because one assignment was hand-picked cannot pass.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import maximum_flow

from computemoat.model import InferencePlacement, InferenceService, Plan, PlanStatus, Scenario, Tier, TrainingPlacement
from computemoat.planner.flatten import caps_set, replica_bound
from computemoat.planner.packing import instances_for, packing
from computemoat.planner.rules import gpu_hour_usd, provider_block_reason, residency_allows, training_tiers
from computemoat.reliability import FaultModel, job_reliability

REL_TOL = 1e-6


class ViolationKind(StrEnum):
    reference = "reference"
    status = "status"
    training = "training"
    tier = "tier"
    deadline = "deadline"
    exclusion = "exclusion"
    capacity = "capacity"
    packing = "packing"
    power = "power"
    demand = "demand"
    slo = "slo"
    residency = "residency"
    redundancy = "redundancy"
    min_replicas = "min_replicas"
    dilution = "dilution"
    idle = "idle"
    spend_cap = "spend_cap"
    gpu_cap = "gpu_cap"
    cost = "cost"


@dataclass(frozen=True)
class Violation:
    kind: ViolationKind
    message: str
    workload_id: str | None = None  # the job or service at fault, when one is
    provider: str | None = None  # the provider over a cap, when that is the fault


Bad = Callable[..., None]


@dataclass
class _Ctx:
    """What every check reads: the scenario's lookups, the plan, and where violations go."""

    sc: Scenario
    plan: Plan
    rtt_ms: np.ndarray
    faults: FaultModel
    out: list[Violation]

    def __post_init__(self) -> None:
        sc = self.sc
        self.offerings = {o.id: o for o in sc.offerings}
        self.sites = {s.id: s for s in sc.sites}
        self.providers = {p.name: p for p in sc.providers}
        self.jobs = {j.id: j for j in sc.training_jobs}
        self.services = {s.id: s for s in sc.inference_services}
        self.r_index = {r.name: i for i, r in enumerate(sc.user_regions)}
        self.s_index = {s.id: i for i, s in enumerate(sc.sites)}

    def bad(self, kind: str, msg: str, workload_id: str | None = None, provider: str | None = None) -> None:
        self.out.append(Violation(ViolationKind(kind), msg, workload_id, provider))


def validate_plan(
    scenario: Scenario, plan: Plan, rtt_ms: np.ndarray, *, faults: FaultModel | None = None
) -> list[Violation]:
    """Every way ``plan`` breaks ``scenario`` (empty list = valid). ``rtt_ms``: [regions x sites];
    ``faults`` (default: the FaultModel defaults, as the planner) gives each job's expected hours."""
    c = _Ctx(scenario, plan, rtt_ms, FaultModel() if faults is None else faults, [])
    if plan.unplaced and plan.status != PlanStatus.partial:
        c.bad("status", f"plan lists unplaced workloads ({', '.join(plan.unplaced)}) but its status is {plan.status}")
    used_gpus = _references(c)
    if any(v.kind == ViolationKind.reference for v in c.out):
        return c.out
    _training(c)
    _inference(c)
    _capacity_and_caps(c, used_gpus)
    return c.out


def _references(c: _Ctx) -> dict[str, int]:
    """Every placement names a known offering at its own site and provider; GPUs per offering."""
    plan, bad, offerings, sites = c.plan, c.bad, c.offerings, c.sites
    used_gpus: dict[str, int] = defaultdict(int)
    placements: list[TrainingPlacement | InferencePlacement] = [*plan.training, *plan.inference]
    for p in placements:
        off = offerings.get(p.offering_id)
        if off is None or off.site != p.site_id or sites[off.site].provider != p.provider:
            bad("reference", f"placement on {p.offering_id}: unknown offering or wrong site/provider")
            continue
        used_gpus[p.offering_id] += p.gpus

    return used_gpus


def _training(c: _Ctx) -> None:
    sc, plan, faults, bad, offerings, providers, jobs = c.sc, c.plan, c.faults, c.bad, c.offerings, c.providers, c.jobs
    # -- training ------------------------------------------------------------------------------
    placed = defaultdict(list)
    for tp in plan.training:
        placed[tp.job_id].append(tp)
    for job_id in placed.keys() - jobs.keys():
        bad("reference", f"training placement for unknown job {job_id}")
    for job in sc.training_jobs:
        tps = placed.get(job.id, [])
        if not tps and job.id in plan.unplaced:
            continue  # declared unplaced (a partial replan): its absence is the plan's own statement
        if len(tps) != 1:
            bad("training", f"training job {job.id} is placed {len(tps)} times (must be exactly once)", job.id)
            continue
        tp = tps[0]
        off = offerings[tp.offering_id]
        if off.accelerator not in job.accelerators:
            bad("training", f"training job {job.id} on {off.accelerator}, wants {'/'.join(job.accelerators)}", job.id)
        if tp.gpus < job.gpus or tp.gpus % off.gpus_per_instance:
            bad(
                "training",
                f"training job {job.id} gets {tp.gpus} GPUs, needs {job.gpus} in whole instances "
                f"of {off.gpus_per_instance}",
            )
        if tp.tier not in training_tiers(job) or off.price(tp.tier) is None:
            bad("tier", f"training job {job.id}: tier {tp.tier.value} not allowed by the job or not sold", job.id)
        else:
            _check_hours(sc, faults, job, tp, off.gpus_per_instance, bad)
        why = provider_block_reason(sc, job, providers[tp.provider])
        if why:
            bad("exclusion", f"training job {job.id} on {tp.provider}: {why}", job.id)


def _inference(c: _Ctx) -> None:
    sc, plan, rtt_ms, bad, offerings, providers, services, r_index, s_index = (
        c.sc,
        c.plan,
        c.rtt_ms,
        c.bad,
        c.offerings,
        c.providers,
        c.services,
        c.r_index,
        c.s_index,
    )
    # -- inference -----------------------------------------------------------------------------
    by_service = defaultdict(list)
    for ip in plan.inference:
        if ip.service_id not in services:
            bad("reference", f"inference placement for unknown service {ip.service_id}")
            continue
        by_service[ip.service_id].append(ip)
        svc = services[ip.service_id]
        off = offerings[ip.offering_id]
        if off.accelerator not in svc.accelerators:
            bad("reference", f"service {svc.id} on {ip.offering_id}: wrong accelerator", svc.id)
        if ip.tier != Tier.on_demand:
            bad("tier", f"service {svc.id} on {ip.offering_id}: inference runs on demand, not {ip.tier.value}", svc.id)
        _check_packing(svc, ip, off.gpus_per_instance, bad)
        why = provider_block_reason(sc, svc, providers[ip.provider])
        if why:
            bad("exclusion", f"service {svc.id} on {ip.provider}: {why}", svc.id)
        expect = ip.gpus * sc.horizon_hours * (gpu_hour_usd(sc, off.id, ip.tier) or 0.0)
        if not math.isclose(ip.cost_usd, expect, rel_tol=REL_TOL, abs_tol=0.01):
            bad(
                "cost",
                f"service {svc.id} on {ip.offering_id}: cost ${ip.cost_usd:,.2f}, expected ${expect:,.2f}",
                svc.id,
            )
    for svc in sc.inference_services:
        _check_service(sc, svc, by_service[svc.id], plan, rtt_ms, r_index, s_index, bad)
        held = sum(ip.replicas for ip in by_service[svc.id])
        if caps_set(sc) and held > replica_bound(sc, svc):
            bad(
                "dilution",
                f"service {svc.id}: {held} replicas, more than the {replica_bound(sc, svc)} that (1 + redundancy_k) "
                "x its need allows while a provider share cap is set (idle capacity must not dilute a share)",
                svc.id,
            )


def _capacity_and_caps(c: _Ctx, used_gpus: dict[str, int]) -> None:
    sc, plan, bad, offerings, sites = c.sc, c.plan, c.bad, c.offerings, c.sites
    # -- capacity, power, concentration caps -----------------------------------------------------
    site_mw: dict[str, float] = defaultdict(float)
    for off_id, gpus in used_gpus.items():
        off = offerings[off_id]
        if gpus > off.capacity_gpus:
            bad("capacity", f"offering {off_id}: {gpus} GPUs planned, capacity {off.capacity_gpus}")
        site = sites[off.site]
        site_mw[site.id] += gpus * sc.accelerator(off.accelerator).board_power_w * site.pue / 1e6
    for site_id, mw in site_mw.items():
        cap = sites[site_id].power_capacity_mw
        if cap is not None and mw > cap * (1 + REL_TOL):
            bad("power", f"site {site_id}: {mw:.2f} MW planned, power_capacity_mw {cap:g}")
    for kind, share, by_provider in (
        ("spend_cap", sc.policy.max_provider_share_spend, plan.cost_by_provider()),
        ("gpu_cap", sc.policy.max_provider_share_gpus, plan.gpus_by_provider()),
    ):
        total = sum(by_provider.values())
        if share is None or total <= 0:
            continue
        for prov, amount in sorted(by_provider.items()):
            if amount > share * total * (1 + REL_TOL):
                bad(kind, f"provider {prov}: {amount / total:.1%} of {kind.split('_')[0]}, cap {share:.0%}", None, prov)
    recorded = plan.total_cost_usd
    actual = sum(p.cost_usd for p in plan.training) + sum(p.cost_usd for p in plan.inference)
    if not math.isclose(recorded, actual, rel_tol=REL_TOL, abs_tol=0.01):
        bad("cost", f"plan total ${recorded:,.2f} differs from the sum of placements ${actual:,.2f}")


def _check_service(
    sc: Scenario,
    svc: InferenceService,
    placements: list[InferencePlacement],
    plan: Plan,
    rtt_ms: np.ndarray,
    r_index: dict[str, int],
    s_index: dict[str, int],
    bad: Bad,
) -> None:
    providers = {p.name: p for p in sc.providers}
    demand = sc.demand_rps(svc)
    cap_rps: dict[str, float] = defaultdict(float)  # site -> rps the planned replicas sustain
    site_provider: dict[str, str] = {}
    for ip in placements:
        cap_rps[ip.site_id] += ip.replicas * svc.rps_per_replica
        site_provider[ip.site_id] = ip.provider
    if sum(ip.replicas for ip in placements) < svc.min_replicas:
        bad("min_replicas", f"service {svc.id}: fewer than min_replicas={svc.min_replicas} replicas", svc.id)

    def usable(region: str, site_id: str) -> str | None:
        rtt = rtt_ms[r_index[region], s_index[site_id]]
        if not rtt <= svc.latency_slo_ms:
            return "slo"
        if not residency_allows(sc, region, providers[sc.site(site_id).provider]):
            return "residency"
        return None

    for site_id in cap_rps:
        if all(usable(region, site_id) is not None for region in demand):
            bad(
                "idle",
                f"service {svc.id}: replicas at {site_id}, which no region of the service may use "
                "(SLO or residency): they can only be idle",
                svc.id,
            )
    served: dict[str, float] = defaultdict(float)
    load: dict[str, float] = defaultdict(float)
    for a in (a for a in plan.assignments if a.service_id == svc.id):
        served[a.region] += a.rps
        load[a.site_id] += a.rps
        why = usable(a.region, a.site_id)
        if why == "slo":
            rtt = rtt_ms[r_index[a.region], s_index[a.site_id]]
            bad(
                "slo",
                f"service {svc.id}: {a.region} -> {a.site_id} RTT {rtt:.1f} ms > SLO {svc.latency_slo_ms:g} ms",
                svc.id,
            )
        elif why == "residency":
            bad(
                "residency",
                f"service {svc.id}: {a.region} served from {a.site_id}, not allowed by policy.residency",
                svc.id,
            )
    partial = svc.id in plan.unplaced  # declared partly served: capacity/SLO still checked, not demand
    for region, rps in demand.items():
        if partial and served.get(region, 0.0) <= rps * (1 + 1e-6) + 1e-6:
            continue
        if not math.isclose(served.get(region, 0.0), rps, rel_tol=1e-6, abs_tol=1e-6):
            bad("demand", f"service {svc.id}: {region} assigned {served.get(region, 0.0):.2f} rps of {rps:.2f}", svc.id)
    for site_id, rps in load.items():
        if rps > cap_rps.get(site_id, 0.0) * (1 + 1e-6) + 1e-6:
            bad(
                "demand",
                f"service {svc.id}: {site_id} assigned {rps:.2f} rps, its replicas sustain "
                f"{cap_rps.get(site_id, 0.0):.2f}",
                svc.id,
            )
    if svc.redundancy_k and not partial:
        _check_redundancy(svc, demand, cap_rps, site_provider, usable, bad)


Usable = Callable[[str, str], str | None]


def _check_redundancy(
    svc: InferenceService,
    demand: dict[str, float],
    cap_rps: dict[str, float],
    site_provider: dict[str, str],
    usable: Usable,
    bad: Bad,
) -> None:
    """N+k: for every k providers of the plan failing, the survivors can still serve all demand."""
    used = sorted(set(site_provider.values()))
    sets = list(itertools.combinations(used, svc.redundancy_k)) if len(used) > svc.redundancy_k else [tuple(used)]
    total = sum(demand.values())
    for failed in sets:
        alive = {s: c for s, c in cap_rps.items() if site_provider[s] not in failed}
        flow, rounding = _max_servable_rps(demand, alive, usable)
        if flow < total * (1 - 1e-6) - rounding:
            bad(
                "redundancy",
                f"service {svc.id}: without {'+'.join(failed)} only {flow:.1f} of {total:.1f} rps "
                f"can be served within SLO (N+{svc.redundancy_k} needs all)",
                svc.id,
            )


def _max_servable_rps(demand: dict[str, float], cap_rps: dict[str, float], usable: Usable) -> tuple[float, float]:
    """Max flow source -> regions (demand) -> usable sites -> sink (capacity), in milli-rps integers;
    returns (flow in rps, the most the integer rounding can have cost)."""
    regions, sites = list(demand), list(cap_rps)
    if not regions or not sites:
        return 0.0, 0.0
    scale = min(1000.0, 1e9 / max(1.0, sum(demand.values()), sum(cap_rps.values())))
    n = 2 + len(regions) + len(sites)
    src, sink = 0, n - 1
    edges: list[tuple[int, int, float]] = []
    for i, r in enumerate(regions):
        edges.append((src, 1 + i, demand[r]))
        edges.extend((1 + i, 1 + len(regions) + j, demand[r]) for j, s in enumerate(sites) if usable(r, s) is None)
    edges.extend((1 + len(regions) + j, sink, cap_rps[s]) for j, s in enumerate(sites))
    rows, cols, rps = zip(*edges, strict=True)
    caps = np.rint(np.array(rps) * scale).astype(np.int32)
    graph = sp.csr_array((caps, (rows, cols)), shape=(n, n))
    return maximum_flow(graph, src, sink).flow_value / scale, (len(regions) + len(sites)) / scale


def _check_hours(
    sc: Scenario, faults: FaultModel, job: object, tp: TrainingPlacement, gpus_per_instance: int, bad: Bad
) -> None:
    """Cost on expected wall-clock hours (the shared reliability model), and the deadline."""
    from computemoat.model import TrainingJob

    assert isinstance(job, TrainingJob)
    rel = job_reliability(
        faults,
        job_id=job.id,
        work_hours=job.hours,
        checkpoint_write_s=job.checkpoint_write_s,
        gpus=tp.gpus,
        tier=tp.tier,
        gpus_per_instance=gpus_per_instance,
        provider=tp.provider,
    )
    if tp.expected_hours is not None and not math.isclose(tp.expected_hours, rel.expected_hours, rel_tol=1e-6):
        bad(
            "cost",
            f"training job {job.id}: expected_hours {tp.expected_hours:,.1f}, the model gives "
            f"{rel.expected_hours:,.1f}",
            job.id,
        )
    if job.deadline_hours is not None and rel.expected_hours > job.deadline_hours * (1 + REL_TOL):
        bad(
            "deadline",
            f"training job {job.id}: expected {rel.expected_hours:,.1f} h on {tp.offering_id} "
            f"({tp.tier.value}) misses deadline_hours {job.deadline_hours:g}",
            job.id,
        )
    expect = tp.gpus * rel.expected_hours * (gpu_hour_usd(sc, tp.offering_id, tp.tier) or 0.0)
    if not math.isclose(tp.cost_usd, expect, rel_tol=REL_TOL, abs_tol=0.01):
        bad(
            "cost",
            f"training job {job.id}: cost ${tp.cost_usd:,.2f}, expected ${expect:,.2f} (GPUs x expected hours x price)",
            job.id,
        )


def _check_packing(svc: InferenceService, ip: InferencePlacement, gpus_per_instance: int, bad: Bad) -> None:
    """Replicas in whole instances, none of them empty; GPUs = instances x GPUs per instance."""
    ipr, rpi = packing(svc.gpus_per_replica, gpus_per_instance)
    need = instances_for(ip.replicas, ipr, rpi)
    inst = ip.instances if ip.instances is not None else need
    if inst != need or ip.gpus != inst * gpus_per_instance:
        bad(
            "packing",
            f"service {svc.id} on {ip.offering_id}: {ip.replicas} replicas of {svc.gpus_per_replica} GPUs need "
            f"{need} instances of {gpus_per_instance} GPUs ({need * gpus_per_instance} GPUs); plan has {inst} "
            f"instances, {ip.gpus} GPUs",
            svc.id,
        )
