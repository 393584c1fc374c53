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


def greedy_plan(scenario: Scenario, rtt_ms: np.ndarray, *, faults: FaultModel | None = None) -> GreedyResult:
    """Place training jobs, then services, in scenario order, each on its cheapest feasible choice."""
    blind = scenario.model_copy(
        update={
            "inference_services": tuple(s.model_copy(update={"redundancy_k": 0}) for s in scenario.inference_services)
        }
    )
    flat = flatten(blind, rtt_ms, faults=faults)
    cap_left = flat.off_capacity_gpus.copy()
    mw_left = flat.site_power_cap_mw.copy()
    unplaced: list[str] = []

    def fits(o: int, gpus: float) -> bool:
        return cap_left[o] >= gpus and mw_left[flat.off_site[o]] >= gpus * flat.off_mw_per_gpu[o] - 1e-12

    def take(o: int, gpus: float) -> None:
        cap_left[o] -= gpus
        mw_left[flat.off_site[o]] -= gpus * flat.off_mw_per_gpu[o]

    training: list[TrainingPlacement] = []
    order = np.lexsort((flat.t_cost_usd, flat.t_job))  # by job, then cheapest first
    starts = np.searchsorted(flat.t_job[order], np.arange(len(flat.job_ids)))
    ends = np.searchsorted(flat.t_job[order], np.arange(len(flat.job_ids)), side="right")
    for j, job_id in enumerate(flat.job_ids):
        for c in order[starts[j] : ends[j]]:
            o = flat.t_off[c]
            if fits(o, flat.t_gpus[c]):
                take(o, flat.t_gpus[c])
                training.append(flat.training_placement(c))
                break
        else:
            unplaced.append(job_id)

    inference: list[InferencePlacement] = []
    assignments: list[Assignment] = []
    for s, svc_id in enumerate(flat.service_ids):
        vs = np.flatnonzero(flat.r_svc == s)
        vs = vs[np.argsort(flat.r_cost_usd_per_replica[vs], kind="stable")]  # cheapest replica first
        replicas = dict.fromkeys(vs.tolist(), 0)
        spare_rps = dict.fromkeys(vs.tolist(), 0.0)
        rps_per = float(flat.r_rps_per_replica[vs[0]]) if len(vs) else 0.0
        dems = np.flatnonzero(flat.d_svc == s)
        failed_to_serve = False
        for d in dems[np.argsort(-flat.d_rps[dems], kind="stable")]:
            rows = np.flatnonzero((flat.a_dem == d) & flat.nominal_fail[flat.a_fail])
            usable = {int(flat.a_site[a]): float(flat.a_rtt_ms[a]) for a in rows}
            left = float(flat.d_rps[d])
            served: dict[int, float] = {}
            for v in vs:  # spare capacity of replicas already bought first, then buy the cheapest
                site = int(flat.off_site[flat.r_off[v]])
                if site not in usable or left <= 1e-9:
                    continue
                if spare_rps[v] < left:
                    new = min(
                        _room(flat, cap_left, mw_left, v, replicas[v]),
                        math.ceil((left - spare_rps[v]) / rps_per - 1e-9),
                    )
                    if new > 0:
                        take(flat.r_off[v], _extra_gpus(flat, v, replicas[v], new))
                        replicas[v] += new
                        spare_rps[v] += new * rps_per
                used = min(left, spare_rps[v])
                spare_rps[v] -= used
                left -= used
                served[site] = served.get(site, 0.0) + used
            failed_to_serve |= left > 1e-6
            for site, rps in sorted(served.items()):
                if rps > 1e-9:
                    assignments.append(
                        Assignment(
                            service_id=svc_id,
                            region=flat.region_names[flat.d_region[d]],
                            site_id=flat.site_ids[site],
                            rps=rps,
                            rtt_ms=usable[site],
                        )
                    )
        svc = scenario.inference_services[s]
        short = svc.min_replicas - sum(replicas.values())
        for v in vs:
            if short <= 0:
                break
            add = min(short, _room(flat, cap_left, mw_left, v, replicas[v]))
            take(flat.r_off[v], _extra_gpus(flat, v, replicas[v], add))
            replicas[v] += add
            short -= add
        if failed_to_serve or short > 0:
            unplaced.append(svc_id)
        for v, n in replicas.items():
            if n > 0:
                inference.append(flat.inference_placement(v, n))
    training.sort(key=lambda p: p.job_id)
    inference.sort(key=lambda p: (p.service_id, p.offering_id))
    total = sum(p.cost_usd for p in training) + sum(p.cost_usd for p in inference)
    notes = tuple(f"greedy could not place {w}" for w in unplaced)
    return GreedyResult(
        plan=Plan(
            scenario=scenario.name,
            status=PlanStatus.greedy,
            total_cost_usd=total,
            training=tuple(training),
            inference=tuple(inference),
            assignments=tuple(assignments),
            notes=notes,
        ),
        unplaced=tuple(unplaced),
    )


def _extra_gpus(flat: FlatProblem, v: int, have: int, new: int) -> float:
    """GPUs rented on top of what ``have`` replicas of ``v`` already rent, for ``new`` more."""
    gpi = flat.off_gpus_per_instance[flat.r_off[v]]
    return float((flat.instances(v, have + new) - flat.instances(v, have)) * gpi)


def _room(flat: FlatProblem, cap_left: np.ndarray, mw_left: np.ndarray, v: int, have: int) -> int:
    """How many more replicas of ``v`` fit in the offering's capacity and the site's power left."""
    o = flat.r_off[v]
    gpi = flat.off_gpus_per_instance[o]
    mw = mw_left[flat.off_site[o]]
    gpus_left = cap_left[o] if not np.isfinite(mw) else min(cap_left[o], mw / flat.off_mw_per_gpu[o] + 1e-9)
    instances = flat.instances(v, have) + int(gpus_left // gpi)
    ipr, rpi = int(flat.r_instances_per_replica[v]), int(flat.r_replicas_per_instance[v])
    return max(0, instances * rpi // ipr - have)
