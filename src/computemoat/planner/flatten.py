"""Scenario + RTT matrix -> flat arrays with named index maps (the only thing the MILP sees).

Every candidate is one row of a parallel set of arrays: a training candidate is (job, offering, tier),
a replica variable is (service, offering), an assignment is (demand key, site) where a demand key is
a group of a service's regions that reach the same sites under one failure set. Whatever
cannot be part of any plan (wrong accelerator, blocked provider, job larger than the offering, a
placement whose expected wall-clock hours miss the job's deadline, a site beyond the SLO of every
region) never becomes a column. Nothing else is pruned: two offerings at one site are two pools of
capacity (p5 and p5e), so a dearer one may be needed once the cheaper one is full.

What makes the scenario infeasible on its own (a job with no candidate at all, a region no site can
reach) is reported here, by name, before a solver is started.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from computemoat.model import (
    InfeasibleError,
    InferencePlacement,
    InferenceService,
    Scenario,
    Tier,
    TrainingJob,
    TrainingPlacement,
)
from computemoat.planner.catalog_arrays import CatalogArrays, catalog_arrays
from computemoat.planner.packing import instances_for, packing
from computemoat.planner.rules import TIER_INDEX, TIERS, residency_allows, training_tiers
from computemoat.reliability import FaultModel, expected_hours_rows

__all__ = ["TIERS", "TIER_INDEX", "FlatProblem", "caps_set", "demand_keys", "flatten", "key_label", "replica_bound"]


@dataclass(frozen=True)
class FlatProblem:
    """Parallel arrays; ``*_ids`` tuples are the index maps back to scenario ids."""

    scenario: Scenario
    rtt_ms: np.ndarray
    faults: FaultModel
    provider_names: tuple[str, ...]
    site_ids: tuple[str, ...]
    offering_ids: tuple[str, ...]
    job_ids: tuple[str, ...]
    service_ids: tuple[str, ...]
    region_names: tuple[str, ...]
    # offerings
    off_site: np.ndarray
    off_provider: np.ndarray
    off_capacity_gpus: np.ndarray
    off_gpus_per_instance: np.ndarray
    off_mw_per_gpu: np.ndarray
    site_power_cap_mw: np.ndarray
    # training candidates (job, offering, tier)
    t_job: np.ndarray
    t_off: np.ndarray
    t_tier: np.ndarray
    t_gpus: np.ndarray  # GPUs rented: whole instances
    t_nominal_hours: np.ndarray
    t_expected_hours: np.ndarray  # billed: the GPUs are held while work is redone
    t_cost_usd: np.ndarray
    # inference replica variables (service, offering)
    r_svc: np.ndarray
    r_off: np.ndarray
    r_gpus_per_replica: np.ndarray
    r_instances_per_replica: np.ndarray  # > 1 when a replica spans instances
    r_replicas_per_instance: np.ndarray  # > 1 when several replicas share an instance
    r_cost_usd_per_instance: np.ndarray  # GPUs per instance x horizon x price
    r_rps_per_replica: np.ndarray
    svc_min_replicas: np.ndarray
    svc_replica_bound: np.ndarray  # U_s: see :func:`replica_bound` (the anti-dilution rule)
    # demand rows (service, region)
    d_svc: np.ndarray
    d_region: np.ndarray
    d_rps: np.ndarray
    # failure sets: f_svc[f] and the provider indices that fail in f (index 0 of each service = none)
    f_svc: np.ndarray
    f_failed: tuple[frozenset[int], ...]
    # assignments a = (demand key, site): the MILP's flow; a_dem is the key's first demand row
    a_dem: np.ndarray
    a_site: np.ndarray
    a_fail: np.ndarray
    # demand keys (sorted by key_dem x failure sets + key_fail): what one [demand] row must serve —
    # the service's regions that reach the same (surviving) sites, key_rps their summed rps. A
    # transportation problem whose demand nodes share their neighbours is the same problem with those
    # nodes merged: on 10,000 workloads 184k assignments instead of 1.2M.
    key_dem: np.ndarray
    key_fail: np.ndarray
    key_rps: np.ndarray
    key_regions: tuple[tuple[int, ...], ...]
    # nominal routes (demand row, site within SLO and residency, RTT): how each region's traffic is
    # split once the replicas are known (route.py; nearest sites first)
    route_dem: np.ndarray
    route_site: np.ndarray
    route_rtt_ms: np.ndarray
    notes: tuple[str, ...] = field(default=())
    # allow_unplaced: (workload id, reason) of what cannot be placed whatever the solver does
    structural: tuple[tuple[str, str], ...] = field(default=())
    pruned_offering_ids: tuple[str, ...] = ()  # nothing is pruned any more; kept for callers

    @property
    def nominal_fail(self) -> np.ndarray:
        """Boolean mask over failure sets: True for the no-failure set of each service."""
        return np.array([len(f) == 0 for f in self.f_failed], dtype=bool)

    @cached_property  # greedy and explain index it per replica: computed once, not per lookup
    def r_cost_usd_per_replica(self) -> np.ndarray:
        """Cost of one replica when its instances are full (instance cost x ipr / rpi)."""
        out: np.ndarray = self.r_cost_usd_per_instance * self.r_instances_per_replica / self.r_replicas_per_instance
        return out

    def instances(self, v: int, replicas: int) -> int:
        """Whole instances ``replicas`` of variable ``v`` need."""
        return instances_for(replicas, int(self.r_instances_per_replica[v]), int(self.r_replicas_per_instance[v]))

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
            nominal_hours=float(self.t_nominal_hours[c]),
            expected_hours=float(self.t_expected_hours[c]),
        )

    def inference_placement(self, v: int, replicas: int, instances: int | None = None) -> InferencePlacement:
        """``replicas`` of replica variable ``v`` (a service at an offering, on-demand), packed into
        ``instances`` whole instances (default: the fewest that hold them)."""
        o = self.r_off[v]
        n = self.instances(v, replicas) if instances is None else int(instances)
        return InferencePlacement(
            service_id=self.service_ids[self.r_svc[v]],
            offering_id=self.offering_ids[o],
            site_id=self.site_ids[self.off_site[o]],
            provider=self.provider_names[self.off_provider[o]],
            tier=Tier.on_demand,
            replicas=int(replicas),
            gpus=int(n * self.off_gpus_per_instance[o]),
            instances=n,
            cost_usd=float(n * self.r_cost_usd_per_instance[v]),
        )


def replica_bound(scenario: Scenario, service: InferenceService) -> int:
    """U_s = max(min_replicas, (1 + k) x sum over regions of ceil(rps / rps_per_replica)).

    The anti-dilution rule: when a provider share cap is set, a service holds at most U_s replicas —
    enough to serve every region from k + 1 providers — so a cap cannot be met by buying idle
    replicas elsewhere to grow the total. The validator checks the same bound."""
    need = sum(int(np.ceil(rps / service.rps_per_replica - 1e-9)) for rps in scenario.demand_rps(service).values())
    return max(service.min_replicas, (1 + service.redundancy_k) * need)


def caps_set(scenario: Scenario) -> bool:
    """Whether a provider share cap (spend or GPUs) applies, and with it the anti-dilution rule."""
    pol = scenario.policy
    return pol.max_provider_share_spend is not None or pol.max_provider_share_gpus is not None


@dataclass
class _Collect:
    """Rows gathered while walking the scenario, and what is wrong with it."""

    t_rows: list[np.ndarray] = field(default_factory=list)  # blocks of (job, offering, tier, GPUs, h, h, $)
    r_rows: list[tuple[int, int, int, int, int, float, float]] = field(default_factory=list)
    d_rows: list[tuple[int, int, float]] = field(default_factory=list)
    f_svc: list[int] = field(default_factory=list)
    f_failed: list[frozenset[int]] = field(default_factory=list)
    a_rows: list[tuple[int, int, int]] = field(default_factory=list)
    route_rows: list[tuple[int, int, float]] = field(default_factory=list)
    g_rows: list[tuple[int, int, float, tuple[int, ...]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    structural: list[tuple[str, str]] = field(default_factory=list)


def flatten(
    scenario: Scenario, rtt_ms: np.ndarray, *, allow_unplaced: bool = False, faults: FaultModel | None = None
) -> FlatProblem:
    """Build the arrays; raise InfeasibleError naming every workload no plan could place — or, with
    ``allow_unplaced``, keep going and list them in ``structural`` (the MILP's slack takes them).
    ``faults`` (default: the shared FaultModel defaults) gives each job's expected wall-clock hours."""
    rtt_ms = np.asarray(rtt_ms, dtype=float)
    if rtt_ms.shape != (len(scenario.user_regions), len(scenario.sites)):
        raise ValueError(
            f"rtt_ms has shape {rtt_ms.shape}, expected (user_regions, sites) = "
            f"({len(scenario.user_regions)}, {len(scenario.sites)})"
        )
    faults = FaultModel() if faults is None else faults
    cat = catalog_arrays(scenario)
    acc = _Collect()
    _training_candidates(scenario, cat, faults, acc)
    for s, svc in enumerate(scenario.inference_services):
        _service_rows(scenario, cat, rtt_ms, s, svc, acc, allow_unplaced)
    if acc.problems and not allow_unplaced:
        raise InfeasibleError(*acc.problems)
    return _assemble(scenario, rtt_ms, faults, cat, acc)


def _training_candidates(sc: Scenario, cat: CatalogArrays, faults: FaultModel, acc: _Collect) -> None:
    """Every (job, offering, tier) that can hold the job whole and finish it, in expectation, by its
    deadline. Candidates are listed job by job; their expected hours come from one vectorised call."""
    jobs = sc.training_jobs
    work = np.array([job.hours for job in jobs], dtype=float)
    parts = [_job_grid(sc, cat, j, job) for j, job in enumerate(jobs)]
    grid = np.concatenate(parts) if parts else np.zeros((0, 5))
    row_job, pool, tier_k, paid = (grid[:, k].astype(np.int64) for k in range(4))
    expected_h = expected_hours_rows(
        faults,
        job_ids=tuple(job.id for job in jobs),
        work_hours=work,
        checkpoint_write_s=np.array([job.checkpoint_write_s for job in jobs], dtype=float),
        row_job=row_job,
        gpus=paid,
        tier_index=tier_k,
        tiers=TIERS,
        gpus_per_instance=cat.gpus_per_instance[pool],
        provider_index=cat.provider[pool],
        providers=cat.provider_names,
    )
    deadline = np.array([np.inf if job.deadline_hours is None else job.deadline_hours for job in jobs])
    on_time = expected_h <= deadline[row_job]
    rows = np.column_stack([row_job, pool, tier_k, paid, work[row_job], expected_h, paid * expected_h * grid[:, 4]])
    if len(rows):
        acc.t_rows.append(rows[on_time])
    placed = np.bincount(row_job[on_time], minlength=len(jobs))
    late = np.bincount(row_job[~on_time], minlength=len(jobs))
    for j in np.flatnonzero(placed == 0):
        _no_candidate(sc, cat, jobs[j], int(late[j]), acc)


def _job_grid(sc: Scenario, cat: CatalogArrays, j: int, job: TrainingJob) -> np.ndarray:
    """Rows (job, offering, tier, GPUs rented, $/GPU-h) in offering-major order, where the tier is sold
    and the job fits the offering whole (GPUs rented in whole instances)."""
    pools = np.array(cat.allowed(sc, job, job.accelerators), dtype=np.int64)
    gpi = cat.gpus_per_instance[pools]
    paid = np.ceil(job.gpus / np.maximum(gpi, 1)) * gpi  # whole instances
    tier_k = np.array([TIER_INDEX[t] for t in training_tiers(job)], dtype=np.int64)
    o_pos, t_pos = np.repeat(np.arange(len(pools)), len(tier_k)), np.tile(np.arange(len(tier_k)), len(pools))
    price = cat.price[pools[o_pos], tier_k[t_pos]] if len(pools) else np.zeros(0)
    keep = ~np.isnan(price) & (paid[o_pos] <= cat.capacity_gpus[pools[o_pos]])
    o_pos, t_pos = o_pos[keep], t_pos[keep]
    return np.column_stack([np.full(len(o_pos), j), pools[o_pos], tier_k[t_pos], paid[o_pos], price[keep]])


def _no_candidate(sc: Scenario, cat: CatalogArrays, job: TrainingJob, late: int, acc: _Collect) -> None:
    """Why ``job`` has no candidate: every placement misses its deadline, or none holds it whole."""
    pools = np.array(cat.allowed(sc, job, job.accelerators), dtype=np.int64)
    accels = "/".join(job.accelerators)
    if late:
        why = (
            f"every placement large enough misses deadline_hours {job.deadline_hours:g} in expectation "
            f"(failures, restarts and preemptions add to its {job.hours:g} h)"
        )
        acc.problems.append(f"training job {job.id}: {why} (raise deadline_hours or shorten the job)")
        acc.structural.append((job.id, why))
        return
    acc.problems.append(
        f"training job {job.id}: no offering of {accels} with at least {job.gpus} GPUs at one site is allowed "
        f"by its rules and the policy (relax its allowed/excluded providers or split the job)"
    )
    if len(pools):
        big = int(pools[np.argmax(cat.capacity_gpus[pools])])
        largest = f"largest remaining pool is {cat.capacity_gpus[big]:,.0f} at {cat.offering_ids[big]}"
    else:
        largest = "no allowed offering of it remains"
    acc.structural.append((job.id, f"needs {job.gpus:,} {accels} at one site; {largest}"))


def _service_rows(
    sc: Scenario,
    cat: CatalogArrays,
    rtt_ms: np.ndarray,
    s: int,
    svc: InferenceService,
    acc: _Collect,
    allow_unplaced: bool,
) -> None:
    """Replica variables, demand rows, failure sets and assignments of one service."""
    demand = {cat.region_index[r]: v for r, v in sc.demand_rps(svc).items()}
    regions = np.array(sorted(demand), dtype=np.int64)
    cand = cat.allowed(sc, svc, svc.accelerators)
    ok = _usable(sc, cat, rtt_ms, svc, regions, cand)
    reachable = [i for col, i in enumerate(cand) if ok[:, col].any()]
    for i in reachable:
        price = cat.usd_per_gpu_hour(i, Tier.on_demand)
        assert price is not None
        gpi = int(cat.gpus_per_instance[i])
        ipr, rpi = packing(svc.gpus_per_replica, gpi)
        acc.r_rows.append((s, i, svc.gpus_per_replica, ipr, rpi, gpi * sc.horizon_hours * price, svc.rps_per_replica))
    sites_ok = {
        int(r): sorted({int(cat.site[i]) for col, i in enumerate(cand) if ok[k, col]}) for k, r in enumerate(regions)
    }
    providers_s = sorted({int(cat.provider[i]) for i in reachable})
    if svc.redundancy_k and len(providers_s) <= svc.redundancy_k:
        names = ", ".join(cat.provider_names[p] for p in providers_s) or "none"
        acc.problems.append(
            f"inference service {svc.id}: redundancy_k={svc.redundancy_k} needs at least {svc.redundancy_k + 1} "
            f"providers within its {svc.latency_slo_ms:g} ms SLO, found {len(providers_s)} ({names}) "
            f"(lower redundancy_k or allow more providers)"
        )
        acc.structural.append(
            (
                svc.id,
                f"N+{svc.redundancy_k} needs {svc.redundancy_k + 1} providers within "
                f"{svc.latency_slo_ms:g} ms; {len(providers_s)} remain ({names})",
            )
        )
        if not allow_unplaced:
            return
    _failure_sets(cat, rtt_ms, s, svc, demand, regions, sites_ok, providers_s, acc, allow_unplaced)


def _usable(
    sc: Scenario, cat: CatalogArrays, rtt_ms: np.ndarray, svc: InferenceService, regions: np.ndarray, cand: list[int]
) -> np.ndarray:
    """[regions x candidate offerings]: within the SLO and allowed by residency."""
    if not cand:
        return np.zeros((len(regions), 0), dtype=bool)
    ok: np.ndarray = rtt_ms[regions][:, cat.site[cand]] <= svc.latency_slo_ms
    for col, i in enumerate(cand):
        prov = sc.providers[int(cat.provider[i])]
        ok[:, col] &= [residency_allows(sc, cat.region_names[r], prov) for r in regions]
    return ok


def _failure_sets(
    cat: CatalogArrays,
    rtt_ms: np.ndarray,
    s: int,
    svc: InferenceService,
    demand: dict[int, float],
    regions: np.ndarray,
    sites_ok: dict[int, list[int]],
    providers_s: list[int],
    acc: _Collect,
    allow_unplaced: bool,
) -> None:
    """Demand rows and, for the nominal case and every k-subset of providers failing, the assignments."""
    failure_sets: list[frozenset[int]] = [frozenset()] + [
        frozenset(c) for c in itertools.combinations(providers_s, svc.redundancy_k) if c
    ]
    d0 = len(acc.d_rows)
    acc.d_rows.extend((s, int(r), demand[int(r)]) for r in regions)
    for failed in failure_sets:
        f = len(acc.f_failed)
        acc.f_svc.append(s)
        acc.f_failed.append(failed)
        groups: dict[tuple[int, ...], list[int]] = {}  # surviving sites -> positions k of its regions
        for k, r in enumerate(regions):
            sites = tuple(j for j in sites_ok[int(r)] if cat.site_provider[j] not in failed)
            if not sites:
                verb = "fails" if len(failed) == 1 else "fail"
                lost = f" when {'+'.join(cat.provider_names[p] for p in sorted(failed))} {verb}" if failed else ""
                acc.problems.append(
                    f"inference service {svc.id}: no allowed site within {svc.latency_slo_ms:g} ms of "
                    f"{cat.region_names[r]}{lost} (raise latency_slo_ms, add sites or relax residency)"
                )
                if not allow_unplaced:
                    break
            if not failed:  # the plan's per-region traffic is routed on these after the MILP (route.py)
                acc.route_rows.extend((d0 + k, j, float(rtt_ms[r, j])) for j in sites)
            groups.setdefault(sites, []).append(k)
        for sites, ks in groups.items():  # regions that reach the same sites: one demand key
            rep = d0 + ks[0]
            acc.g_rows.append((rep, f, sum(demand[int(regions[k])] for k in ks), tuple(int(regions[k]) for k in ks)))
            acc.a_rows.extend((rep, j, f) for j in sites)


def _assemble(sc: Scenario, rtt_ms: np.ndarray, faults: FaultModel, cat: CatalogArrays, acc: _Collect) -> FlatProblem:
    t = np.concatenate(acc.t_rows).astype(float) if acc.t_rows else np.zeros((0, 7))
    r = np.array(acc.r_rows, dtype=float).reshape(-1, 7)
    d = np.array(acc.d_rows, dtype=float).reshape(-1, 3)
    a = np.array(acc.a_rows, dtype=np.int64).reshape(-1, 3)
    rt = np.array(acc.route_rows, dtype=float).reshape(-1, 3)
    i64 = np.int64
    nf = max(1, len(acc.f_failed))
    order = sorted(range(len(acc.g_rows)), key=lambda i: acc.g_rows[i][0] * nf + acc.g_rows[i][1])
    g = [acc.g_rows[i] for i in order]
    return FlatProblem(
        scenario=sc,
        rtt_ms=rtt_ms,
        faults=faults,
        provider_names=cat.provider_names,
        site_ids=cat.site_ids,
        offering_ids=cat.offering_ids,
        job_ids=tuple(j.id for j in sc.training_jobs),
        service_ids=tuple(s.id for s in sc.inference_services),
        region_names=cat.region_names,
        off_site=cat.site,
        off_provider=cat.provider,
        off_capacity_gpus=cat.capacity_gpus,
        off_gpus_per_instance=cat.gpus_per_instance,
        off_mw_per_gpu=cat.mw_per_gpu,
        site_power_cap_mw=cat.site_power_cap_mw,
        t_job=t[:, 0].astype(i64),
        t_off=t[:, 1].astype(i64),
        t_tier=t[:, 2].astype(i64),
        t_gpus=t[:, 3],
        t_nominal_hours=t[:, 4],
        t_expected_hours=t[:, 5],
        t_cost_usd=t[:, 6],
        r_svc=r[:, 0].astype(i64),
        r_off=r[:, 1].astype(i64),
        r_gpus_per_replica=r[:, 2],
        r_instances_per_replica=r[:, 3],
        r_replicas_per_instance=r[:, 4],
        r_cost_usd_per_instance=r[:, 5],
        r_rps_per_replica=r[:, 6],
        svc_min_replicas=np.array([s.min_replicas for s in sc.inference_services], dtype=float),
        svc_replica_bound=np.array([replica_bound(sc, s) for s in sc.inference_services], dtype=float),
        d_svc=d[:, 0].astype(i64),
        d_region=d[:, 1].astype(i64),
        d_rps=d[:, 2],
        f_svc=np.array(acc.f_svc, dtype=i64),
        f_failed=tuple(acc.f_failed),
        a_dem=a[:, 0],
        a_site=a[:, 1],
        a_fail=a[:, 2],
        route_dem=rt[:, 0].astype(i64),
        route_site=rt[:, 1].astype(i64),
        route_rtt_ms=rt[:, 2],
        key_dem=np.array([k[0] for k in g], dtype=i64),
        key_fail=np.array([k[1] for k in g], dtype=i64),
        key_rps=np.array([k[2] for k in g], dtype=float),
        key_regions=tuple(k[3] for k in g),
        structural=tuple(acc.structural),
    )


def fail_label(flat: FlatProblem, f: int) -> str:
    failed = sorted(flat.provider_names[p] for p in flat.f_failed[f])
    return "nominal" if not failed else "without " + "+".join(failed)


def demand_keys(flat: FlatProblem) -> np.ndarray:
    """Every demand key (a [demand] row) as key_dem * nf + key_fail, sorted (aligned with key_rps)."""
    nf = max(1, len(flat.f_failed))
    out: np.ndarray = flat.key_dem * nf + flat.key_fail
    return out


def key_label(flat: FlatProblem, k: int) -> str:
    """``service|region(s)|failure set`` of demand key ``k``: a merged group names its first region."""
    regions = flat.key_regions[k]
    more = f"+{len(regions) - 1} more" if len(regions) > 1 else ""
    service = flat.service_ids[flat.d_svc[flat.key_dem[k]]]
    return f"{service}|{flat.region_names[regions[0]]}{more}|{fail_label(flat, int(flat.key_fail[k]))}"


def key_of_assignment(flat: FlatProblem) -> np.ndarray:
    """Index into the demand keys of every assignment a."""
    nf = max(1, len(flat.f_failed))
    out: np.ndarray = np.searchsorted(demand_keys(flat), flat.a_dem * nf + flat.a_fail)
    return out
