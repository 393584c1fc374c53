"""Scenario + RTT matrix -> flat arrays with named index maps (the only thing the MILP sees).

Every candidate is one row of a parallel set of arrays: a training candidate is (job, offering, tier),
a replica variable is (service, offering), an assignment is (demand row, site, failure set). Whatever
cannot be part of any plan (wrong accelerator, blocked provider, job larger than the offering,
site beyond the SLO of every region, dominated offering) never becomes a column. What makes the
scenario infeasible on its own (a job with no candidate at all, a region no site can reach) is
reported here, by name, before a solver is started.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from computemoat.model import InfeasibleError, InferencePlacement, Offering, Scenario, Tier, TrainingPlacement
from computemoat.planner.rules import (
    energy_usd_per_gpu_hour,
    provider_block_reason,
    residency_allows,
    training_tiers,
)

TIERS: tuple[Tier, ...] = (Tier.on_demand, Tier.spot, Tier.reserved)
TIER_INDEX = {t: i for i, t in enumerate(TIERS)}


@dataclass(frozen=True)
class FlatProblem:
    """Parallel arrays; ``*_ids`` tuples are the index maps back to scenario ids."""

    scenario: Scenario
    rtt_ms: np.ndarray
    provider_names: tuple[str, ...]
    site_ids: tuple[str, ...]
    offering_ids: tuple[str, ...]
    pruned_offering_ids: tuple[str, ...]
    job_ids: tuple[str, ...]
    service_ids: tuple[str, ...]
    region_names: tuple[str, ...]
    # offerings (after pruning)
    off_site: np.ndarray
    off_provider: np.ndarray
    off_capacity_gpus: np.ndarray
    off_mw_per_gpu: np.ndarray
    site_power_cap_mw: np.ndarray
    # training candidates (job, offering, tier)
    t_job: np.ndarray
    t_off: np.ndarray
    t_tier: np.ndarray
    t_gpus: np.ndarray
    t_cost_usd: np.ndarray
    # inference replica variables (service, offering)
    r_svc: np.ndarray
    r_off: np.ndarray
    r_gpus_per_replica: np.ndarray
    r_cost_usd_per_replica: np.ndarray
    r_rps_per_replica: np.ndarray
    svc_min_replicas: np.ndarray
    # demand rows (service, region)
    d_svc: np.ndarray
    d_region: np.ndarray
    d_rps: np.ndarray
    # failure sets: f_svc[f] and the provider indices that fail in f (index 0 of each service = none)
    f_svc: np.ndarray
    f_failed: tuple[frozenset[int], ...]
    # assignments (demand row, site, failure set)
    a_dem: np.ndarray
    a_site: np.ndarray
    a_fail: np.ndarray
    a_rtt_ms: np.ndarray
    notes: tuple[str, ...] = field(default=())
    # allow_unplaced: (workload id, reason) of what cannot be placed whatever the solver does
    structural: tuple[tuple[str, str], ...] = field(default=())

    @property
    def nominal_fail(self) -> np.ndarray:
        """Boolean mask over failure sets: True for the no-failure set of each service."""
        return np.array([len(f) == 0 for f in self.f_failed], dtype=bool)

    def training_placement(self, c: int) -> TrainingPlacement:
        """Training candidate ``c`` as a placement (used by the MILP's unflatten and by greedy)."""
        o = self.t_off[c]
        return TrainingPlacement(
            job_id=self.job_ids[self.t_job[c]],
            offering_id=self.offering_ids[o],
            site_id=self.site_ids[self.off_site[o]],
            provider=self.provider_names[self.off_provider[o]],
            tier=TIERS[self.t_tier[c]],
            gpus=int(self.t_gpus[c]),
            cost_usd=float(self.t_cost_usd[c]),
        )

    def inference_placement(self, v: int, replicas: int) -> InferencePlacement:
        """``replicas`` of replica variable ``v`` (a service at an offering, on-demand) as a placement."""
        o = self.r_off[v]
        return InferencePlacement(
            service_id=self.service_ids[self.r_svc[v]],
            offering_id=self.offering_ids[o],
            site_id=self.site_ids[self.off_site[o]],
            provider=self.provider_names[self.off_provider[o]],
            tier=Tier.on_demand,
            replicas=int(replicas),
            gpus=int(replicas * self.r_gpus_per_replica[v]),
            cost_usd=float(replicas * self.r_cost_usd_per_replica[v]),
        )


def prune_dominated(scenario: Scenario) -> tuple[list[Offering], list[str]]:
    """Drop offerings another offering at the same site, accelerator and instance size beats:
    no tier it sells is cheaper than the other's and it has no more capacity. (Same site and
    accelerator means the same physical pool, so the pruned one adds no capacity of its own.)"""
    groups: dict[tuple[str, str, int], list[Offering]] = {}
    for o in scenario.offerings:
        groups.setdefault((o.site, o.accelerator, o.gpus_per_instance), []).append(o)
    kept: list[Offering] = []
    pruned: list[str] = []
    for group in groups.values():
        for a in group:
            if any(_dominates(b, a) for b in group if b.id != a.id):
                pruned.append(a.id)
            else:
                kept.append(a)
    order = {o.id: i for i, o in enumerate(scenario.offerings)}
    kept.sort(key=lambda o: order[o.id])
    return kept, sorted(pruned)


def _dominates(b: Offering, a: Offering) -> bool:
    if b.capacity_gpus < a.capacity_gpus:
        return False
    for tier in TIERS:
        pa, pb = a.price(tier), b.price(tier)
        if pa is not None and (pb is None or pb > pa):
            return False
    strictly = b.capacity_gpus > a.capacity_gpus or any(
        a.price(t) is not None and b.price(t) != a.price(t) for t in TIERS
    )
    return strictly or b.id < a.id  # exact twins: keep one, deterministically


def flatten(scenario: Scenario, rtt_ms: np.ndarray, *, allow_unplaced: bool = False) -> FlatProblem:
    """Build the arrays; raise InfeasibleError naming every workload no plan could place — or, with
    ``allow_unplaced``, keep going and list them in ``structural`` (the MILP's slack takes them)."""
    rtt_ms = np.asarray(rtt_ms, dtype=float)
    if rtt_ms.shape != (len(scenario.user_regions), len(scenario.sites)):
        raise ValueError(
            f"rtt_ms has shape {rtt_ms.shape}, expected (user_regions, sites) = "
            f"({len(scenario.user_regions)}, {len(scenario.sites)})"
        )
    problems: list[str] = []
    structural: list[tuple[str, str]] = []
    provider_names = tuple(p.name for p in scenario.providers)
    p_index = {n: i for i, n in enumerate(provider_names)}
    site_ids = tuple(s.id for s in scenario.sites)
    s_index = {s: i for i, s in enumerate(site_ids)}
    region_names = tuple(r.name for r in scenario.user_regions)
    r_index = {r: i for i, r in enumerate(region_names)}
    offerings, pruned = prune_dominated(scenario)
    accel = {a.name: a for a in scenario.accelerators}
    site_by_id = {s.id: s for s in scenario.sites}
    provider_by_name = {p.name: p for p in scenario.providers}

    off_site = np.array([s_index[o.site] for o in offerings], dtype=np.int64)
    site_provider = np.array([p_index[s.provider] for s in scenario.sites], dtype=np.int64)
    off_provider = site_provider[off_site] if offerings else np.zeros(0, dtype=np.int64)
    off_capacity = np.array([o.capacity_gpus for o in offerings], dtype=float)
    pue = np.array([site_by_id[o.site].pue for o in offerings], dtype=float)
    board_w = np.array([accel[o.accelerator].board_power_w for o in offerings], dtype=float)
    off_mw_per_gpu = board_w * pue / 1e6
    multiplier = np.array([provider_by_name[site_by_id[o.site].provider].price_multiplier for o in offerings])
    energy = np.array([energy_usd_per_gpu_hour(scenario, b, p) for b, p in zip(board_w, pue, strict=True)], dtype=float)
    site_power_cap = np.array([np.inf if s.power_capacity_mw is None else s.power_capacity_mw for s in scenario.sites])

    def usd_per_gpu_hour(i: int, tier: Tier) -> float | None:
        price = offerings[i].price(tier)
        return None if price is None else price * multiplier[i] + energy[i]

    def allowed_offerings(rules, accelerators: tuple[str, ...]) -> list[int]:  # type: ignore[no-untyped-def]
        return [
            i
            for i, o in enumerate(offerings)
            if o.accelerator in accelerators
            and provider_block_reason(scenario, rules, scenario.providers[off_provider[i]]) is None
        ]

    # -- training candidates ------------------------------------------------------------------
    t_rows: list[tuple[int, int, int, int, float]] = []
    for j, job in enumerate(scenario.training_jobs):
        n_before = len(t_rows)
        for i in allowed_offerings(job, job.accelerators):
            gpi = offerings[i].gpus_per_instance
            paid_gpus = math.ceil(job.gpus / gpi) * gpi
            if paid_gpus > off_capacity[i]:
                continue
            for tier in training_tiers(job):
                price = usd_per_gpu_hour(i, tier)
                if price is not None:
                    t_rows.append((j, i, TIER_INDEX[tier], paid_gpus, paid_gpus * job.hours * price))
        if len(t_rows) == n_before:
            problems.append(
                f"training job {job.id}: no offering of {'/'.join(job.accelerators)} with at least "
                f"{job.gpus} GPUs at one site is allowed by its rules and the policy "
                f"(relax its allowed/excluded providers or split the job)"
            )
            pools = allowed_offerings(job, job.accelerators)
            if pools:
                big = max(pools, key=lambda i: off_capacity[i])
                largest = f"largest remaining pool is {off_capacity[big]:,.0f} at {offerings[big].id}"
            else:
                largest = "no allowed offering of it remains"
            structural.append((job.id, f"needs {job.gpus:,} {'/'.join(job.accelerators)} at one site; {largest}"))
    t = np.array(t_rows, dtype=float).reshape(-1, 5)

    # -- inference: replica variables, demand rows, failure sets, assignments ----------------------
    r_rows: list[tuple[int, int, int, float, float]] = []
    d_rows: list[tuple[int, int, float]] = []
    f_svc: list[int] = []
    f_failed: list[frozenset[int]] = []
    a_rows: list[tuple[int, int, int, float]] = []
    for s, svc in enumerate(scenario.inference_services):
        demand = {r_index[r]: v for r, v in scenario.demand_rps(svc).items()}
        regions = np.array(sorted(demand), dtype=np.int64)
        cand = allowed_offerings(svc, svc.accelerators)
        # a site is usable for a region when within SLO and residency allows its provider
        ok = rtt_ms[regions][:, off_site[cand]] <= svc.latency_slo_ms if cand else np.zeros((len(regions), 0))
        for col, i in enumerate(cand):
            prov = scenario.providers[off_provider[i]]
            ok[:, col] &= [residency_allows(scenario, region_names[r], prov) for r in regions]
        reachable = [i for col, i in enumerate(cand) if ok[:, col].any()]
        for i in reachable:
            price = usd_per_gpu_hour(i, Tier.on_demand)
            assert price is not None
            cost = svc.gpus_per_replica * scenario.horizon_hours * price
            r_rows.append((s, i, svc.gpus_per_replica, cost, svc.rps_per_replica))
        sites_ok = {  # region -> usable site indices
            int(r): sorted({int(off_site[i]) for col, i in enumerate(cand) if ok[k, col]})
            for k, r in enumerate(regions)
        }
        providers_s = sorted({int(off_provider[i]) for i in reachable})
        if svc.redundancy_k and len(providers_s) <= svc.redundancy_k:
            names = ", ".join(provider_names[p] for p in providers_s) or "none"
            problems.append(
                f"inference service {svc.id}: redundancy_k={svc.redundancy_k} needs at least "
                f"{svc.redundancy_k + 1} providers within its {svc.latency_slo_ms:g} ms SLO, found "
                f"{len(providers_s)} ({names}) (lower redundancy_k or allow more providers)"
            )
            structural.append(
                (
                    svc.id,
                    f"N+{svc.redundancy_k} needs {svc.redundancy_k + 1} providers within "
                    f"{svc.latency_slo_ms:g} ms; {len(providers_s)} remain ({names})",
                )
            )
            if not allow_unplaced:
                continue
        failure_sets = [frozenset()] + [
            frozenset(c) for c in itertools.combinations(providers_s, svc.redundancy_k) if c
        ]
        d0 = len(d_rows)
        for r in regions:
            d_rows.append((s, int(r), demand[int(r)]))
        for failed in failure_sets:
            f = len(f_failed)
            f_svc.append(s)
            f_failed.append(failed)
            for k, r in enumerate(regions):
                sites = [j for j in sites_ok[int(r)] if site_provider[j] not in failed]
                if not sites:
                    verb = "fails" if len(failed) == 1 else "fail"
                    lost = f" when {'+'.join(provider_names[p] for p in sorted(failed))} {verb}" if failed else ""
                    problems.append(
                        f"inference service {svc.id}: no allowed site within {svc.latency_slo_ms:g} ms of "
                        f"{region_names[r]}{lost} (raise latency_slo_ms, add sites or relax residency)"
                    )
                    if not allow_unplaced:
                        break
                a_rows.extend((d0 + k, j, f, float(rtt_ms[r, j])) for j in sites)
    if problems and not allow_unplaced:
        raise InfeasibleError(*problems)

    r = np.array(r_rows, dtype=float).reshape(-1, 5)
    d = np.array(d_rows, dtype=float).reshape(-1, 3)
    a = np.array(a_rows, dtype=float).reshape(-1, 4)
    notes = (f"pruned {len(pruned)} dominated offerings",) if pruned else ()
    return FlatProblem(
        scenario=scenario,
        rtt_ms=rtt_ms,
        provider_names=provider_names,
        site_ids=site_ids,
        offering_ids=tuple(o.id for o in offerings),
        pruned_offering_ids=tuple(pruned),
        job_ids=tuple(j.id for j in scenario.training_jobs),
        service_ids=tuple(s.id for s in scenario.inference_services),
        region_names=region_names,
        off_site=off_site,
        off_provider=off_provider,
        off_capacity_gpus=off_capacity,
        off_mw_per_gpu=off_mw_per_gpu,
        site_power_cap_mw=site_power_cap,
        t_job=t[:, 0].astype(np.int64),
        t_off=t[:, 1].astype(np.int64),
        t_tier=t[:, 2].astype(np.int64),
        t_gpus=t[:, 3],
        t_cost_usd=t[:, 4],
        r_svc=r[:, 0].astype(np.int64),
        r_off=r[:, 1].astype(np.int64),
        r_gpus_per_replica=r[:, 2],
        r_cost_usd_per_replica=r[:, 3],
        r_rps_per_replica=r[:, 4],
        svc_min_replicas=np.array([s.min_replicas for s in scenario.inference_services], dtype=float),
        d_svc=d[:, 0].astype(np.int64),
        d_region=d[:, 1].astype(np.int64),
        d_rps=d[:, 2],
        f_svc=np.array(f_svc, dtype=np.int64),
        f_failed=tuple(f_failed),
        a_dem=a[:, 0].astype(np.int64),
        a_site=a[:, 1].astype(np.int64),
        a_fail=a[:, 2].astype(np.int64),
        a_rtt_ms=a[:, 3],
        notes=notes,
        structural=tuple(structural),
    )
