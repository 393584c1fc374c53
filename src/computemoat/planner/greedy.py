"""The baseline: each workload on its cheapest feasible offering, one at a time (SkyPilot-style).

It honours everything a per-task optimizer can see (accelerator, exclusions, SLO, residency,
capacity and power left after the workloads before it) and nothing fleet-wide: no provider caps,
no N+k redundancy. Comparing it with the MILP shows what fleet-wide planning buys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from computemoat.model import Assignment, InferencePlacement, Plan, PlanStatus, Scenario, TrainingPlacement
from computemoat.planner.flatten import FlatProblem, flatten
from computemoat.reliability import FaultModel


@dataclass(frozen=True)
class GreedyResult:
    plan: Plan
    unplaced: tuple[str, ...]  # workload ids greedy could not place (capacity ran out)


@dataclass
class _Pool:
    """Capacity and power left while greedy places workloads one by one."""

    flat: FlatProblem
    cap_left: np.ndarray
    mw_left: np.ndarray

    def fits(self, o: int, gpus: float) -> bool:
        f = self.flat
        return bool(self.cap_left[o] >= gpus and self.mw_left[f.off_site[o]] >= gpus * f.off_mw_per_gpu[o] - 1e-12)

    def take(self, o: int, gpus: float) -> None:
        self.cap_left[o] -= gpus
        self.mw_left[self.flat.off_site[o]] -= gpus * self.flat.off_mw_per_gpu[o]


def greedy_plan(
    scenario: Scenario, rtt_ms: np.ndarray, *, faults: FaultModel | None = None, flat: FlatProblem | None = None
) -> GreedyResult:
    """Place training jobs, then services, in scenario order, each on its cheapest feasible choice.

    ``flat``: the scenario already flattened (by the planner, for the same rtt and faults); greedy
    reads only its candidates and nominal assignments, which do not depend on redundancy_k."""
    if flat is None:
        blind = scenario.model_copy(
            update={
                "inference_services": tuple(
                    s.model_copy(update={"redundancy_k": 0}) for s in scenario.inference_services
                )
            }
        )
        flat = flatten(blind, rtt_ms, faults=faults)
    pool = _Pool(flat, flat.off_capacity_gpus.copy(), flat.site_power_cap_mw.copy())
    training, unplaced = _training(flat, pool)
    inference: list[InferencePlacement] = []
    assignments: list[Assignment] = []
    by_dem = np.argsort(flat.route_dem, kind="stable")
    bounds = np.searchsorted(flat.route_dem[by_dem], np.arange(len(flat.d_svc) + 1))
    rows_of = [by_dem[bounds[d] : bounds[d + 1]] for d in range(len(flat.d_svc))]
    for s, svc_id in enumerate(flat.service_ids):
        replicas, routed, short = _service(flat, pool, s, rows_of)
        assignments.extend(routed)
        if short:
            unplaced.append(svc_id)
        inference.extend(flat.inference_placement(v, n) for v, n in replicas.items() if n > 0)
    training.sort(key=lambda p: p.job_id)
    inference.sort(key=lambda p: (p.service_id, p.offering_id))
    total = sum(p.cost_usd for p in training) + sum(p.cost_usd for p in inference)
    return GreedyResult(
        plan=Plan(
            scenario=scenario.name,
            status=PlanStatus.greedy,
            total_cost_usd=total,
            training=tuple(training),
            inference=tuple(inference),
            assignments=tuple(assignments),
            notes=tuple(f"greedy could not place {w}" for w in unplaced),
        ),
        unplaced=tuple(unplaced),
    )


def _training(flat: FlatProblem, pool: _Pool) -> tuple[list[TrainingPlacement], list[str]]:
    """Each job on its cheapest candidate that still fits."""
    out: list[TrainingPlacement] = []
    unplaced: list[str] = []
    order = np.lexsort((flat.t_cost_usd, flat.t_job))  # by job, then cheapest first
    starts = np.searchsorted(flat.t_job[order], np.arange(len(flat.job_ids)))
    ends = np.searchsorted(flat.t_job[order], np.arange(len(flat.job_ids)), side="right")
    for j, job_id in enumerate(flat.job_ids):
        for c in map(int, order[starts[j] : ends[j]]):
            o = int(flat.t_off[c])
            if pool.fits(o, flat.t_gpus[c]):
                pool.take(o, flat.t_gpus[c])
                out.append(flat.training_placement(c))
                break
        else:
            unplaced.append(job_id)
    return out, unplaced


def _service(
    flat: FlatProblem, pool: _Pool, s: int, rows_of: list[np.ndarray]
) -> tuple[dict[int, int], list[Assignment], bool]:
    """Replicas of service ``s`` region by region (largest first) on the cheapest usable offering,
    reusing spare capacity first; returns (replicas per variable, assignments, short of demand).
    ``rows_of[d]``: the nominal routes of demand row d."""
    mine = np.flatnonzero(flat.r_svc == s)
    vs = [int(v) for v in mine[np.argsort(flat.r_cost_usd_per_replica[mine], kind="stable")]]  # cheapest first
    replicas = dict.fromkeys(vs, 0)
    spare = dict.fromkeys(vs, 0.0)
    rps_per = float(flat.r_rps_per_replica[vs[0]]) if vs else 0.0
    dems = np.flatnonzero(flat.d_svc == s)
    routed: list[Assignment] = []
    short = False
    for d in map(int, dems[np.argsort(-flat.d_rps[dems], kind="stable")]):
        rows = rows_of[d]
        usable = {int(flat.route_site[a]): float(flat.route_rtt_ms[a]) for a in rows}
        left = float(flat.d_rps[d])
        served: dict[int, float] = {}
        for v in vs:
            site = int(flat.off_site[flat.r_off[v]])
            if site not in usable or left <= 1e-9:
                continue
            if spare[v] < left:
                new = min(_room(pool, v, replicas[v]), math.ceil((left - spare[v]) / rps_per - 1e-9))
                if new > 0:
                    pool.take(int(flat.r_off[v]), _extra_gpus(flat, v, replicas[v], new))
                    replicas[v] += new
                    spare[v] += new * rps_per
            used = min(left, spare[v])
            spare[v] -= used
            left -= used
            served[site] = served.get(site, 0.0) + used
        short |= left > 1e-6
        region = flat.region_names[flat.d_region[d]]
        routed.extend(
            Assignment(
                service_id=flat.service_ids[s], region=region, site_id=flat.site_ids[k], rps=rps, rtt_ms=usable[k]
            )
            for k, rps in sorted(served.items())
            if rps > 1e-9
        )
    missing = flat.scenario.inference_services[s].min_replicas - sum(replicas.values())
    for v in vs:
        if missing <= 0:
            break
        add = min(missing, _room(pool, v, replicas[v]))
        pool.take(int(flat.r_off[v]), _extra_gpus(flat, v, replicas[v], add))
        replicas[v] += add
        missing -= add
    return replicas, routed, short or missing > 0


def _extra_gpus(flat: FlatProblem, v: int, have: int, new: int) -> float:
    """GPUs rented on top of what ``have`` replicas of ``v`` already rent, for ``new`` more."""
    gpi = flat.off_gpus_per_instance[flat.r_off[v]]
    return float((flat.instances(v, have + new) - flat.instances(v, have)) * gpi)


def _room(pool: _Pool, v: int, have: int) -> int:
    """How many more replicas of ``v`` fit in the offering's capacity and the site's power left."""
    flat, cap_left, mw_left = pool.flat, pool.cap_left, pool.mw_left
    o = flat.r_off[v]
    gpi = flat.off_gpus_per_instance[o]
    mw = mw_left[flat.off_site[o]]
    gpus_left = cap_left[o] if not np.isfinite(mw) else min(cap_left[o], mw / flat.off_mw_per_gpu[o] + 1e-9)
    instances = flat.instances(v, have) + int(gpus_left // gpi)
    ipr, rpi = int(flat.r_instances_per_replica[v]), int(flat.r_replicas_per_instance[v])
    return max(0, instances * rpi // ipr - have)
