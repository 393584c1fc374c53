"""Column values -> a frozen ``Plan`` (and a ``Plan`` -> a solver start), plus what a partial plan left out."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from computemoat.model import Assignment, Plan, PlanStatus
from computemoat.planner.columns import Block
from computemoat.planner.flatten import TIERS, FlatProblem, fail_label
from computemoat.planner.milp import MilpModel


class WorkloadKind(StrEnum):
    training = "training"
    inference = "inference"


@dataclass(frozen=True)
class Unplaced:
    """A workload a partial plan could not (fully) place, and why."""

    workload_id: str
    kind: WorkloadKind
    reason: str
    unserved_rps: float = 0.0  # inference: nominal demand not served (0: served, but N+k not met)

    def line(self) -> str:
        return f"{self.workload_id}: {self.reason}"


NO_ROOM = "no room left: capacity, power or provider caps are used up by the rest of the plan"


def find_unplaced(flat: FlatProblem, model: MilpModel, col_value: np.ndarray) -> tuple[Unplaced, ...]:
    """Read the slack columns: unplaced jobs, and per service the demand not served (nominal or
    under a failure set, i.e. N+k not met for that region)."""
    why = dict(flat.structural)
    out = [
        Unplaced(flat.job_ids[j], WorkloadKind.training, why.get(flat.job_ids[j], NO_ROOM))
        for j in np.flatnonzero(col_value[model.columns[Block.s]] > 0.5)
    ]
    w = col_value[model.columns[Block.w]]
    by_svc: dict[int, list[str]] = {}
    nominal_short: dict[int, float] = {}
    for k in np.flatnonzero(w > 1e-6):
        d, f = model.w_dem[k], model.w_fail[k]  # w is aligned with the demand keys
        svc = int(flat.d_svc[d])
        region = "+".join(flat.region_names[r] for r in flat.key_regions[k])
        if len(flat.f_failed[f]) == 0:
            nominal_short[svc] = nominal_short.get(svc, 0.0) + float(w[k])
            by_svc.setdefault(svc, []).append(f"{region}: {w[k]:.1f} of {flat.key_rps[k]:.1f} rps not served")
        else:
            by_svc.setdefault(svc, []).append(
                f"{region} {fail_label(flat, f)}: {w[k]:.1f} of {flat.key_rps[k]:.1f} rps short (N+k not met)"
            )
    for svc, parts in sorted(by_svc.items()):
        svc_id = flat.service_ids[svc]
        head = [why[svc_id]] if svc_id in why else []
        shown = parts[:4] + ([f"... {len(parts) - 4} more"] if len(parts) > 4 else [])
        out.append(Unplaced(svc_id, WorkloadKind.inference, "; ".join(head + shown), nominal_short.get(svc, 0.0)))
    return tuple(out)


def unflatten(
    flat: FlatProblem,
    model: MilpModel,
    col_value: np.ndarray,
    route_rps: np.ndarray,
    *,
    status: PlanStatus,
    mip_gap: float | None,
    solve_time_s: float | None,
    unplaced: tuple[Unplaced, ...] = (),
) -> Plan:
    """Column values -> frozen Plan (placements sorted by workload id, costs recomputed exactly)."""
    x = col_value[model.columns[Block.x]]
    y = np.rint(col_value[model.columns[Block.y]]).astype(np.int64)
    n = np.rint(col_value[model.columns[Block.n]]).astype(np.int64)
    inst = {int(v): int(k) for v, k in zip(model.n_of, n, strict=True)}
    training = sorted((flat.training_placement(int(c)) for c in np.flatnonzero(x > 0.5)), key=lambda p: p.job_id)
    inference = sorted(
        (flat.inference_placement(int(v), int(y[v]), inst.get(int(v))) for v in np.flatnonzero(y > 0)),
        key=lambda p: (p.service_id, p.offering_id),
    )
    assignments = sorted(
        (
            Assignment(
                service_id=flat.service_ids[flat.d_svc[flat.route_dem[r]]],
                region=flat.region_names[flat.d_region[flat.route_dem[r]]],
                site_id=flat.site_ids[flat.route_site[r]],
                rps=float(route_rps[r]),
                rtt_ms=float(flat.route_rtt_ms[r]),
            )
            for r in np.flatnonzero(route_rps > 1e-9)
        ),
        key=lambda a: (a.service_id, a.region, a.site_id),
    )
    return Plan(
        scenario=flat.scenario.name,
        status=status,
        total_cost_usd=sum(p.cost_usd for p in training) + sum(p.cost_usd for p in inference),
        mip_gap=mip_gap,
        solve_time_s=solve_time_s,
        training=tuple(training),
        inference=tuple(inference),
        assignments=tuple(assignments),
        notes=flat.notes + tuple(f"unplaced: {u.line()}" for u in unplaced),
        unplaced=tuple(u.workload_id for u in unplaced),
    )


def integer_start(flat: FlatProblem, model: MilpModel, p: Plan) -> np.ndarray | None:
    """A plan's integer columns (NaN elsewhere) as a solver start; None if it does not map onto
    the model (a placement on a tier or offering the model has no column for)."""
    start = np.full(len(model.col_cost), np.nan)
    start[model.integrality == 1] = 0.0
    off = {o: i for i, o in enumerate(flat.offering_ids)}
    cand = {
        (int(j), int(o), int(t)): c for c, (j, o, t) in enumerate(zip(flat.t_job, flat.t_off, flat.t_tier, strict=True))
    }
    job = {j: i for i, j in enumerate(flat.job_ids)}
    svc = {s: i for i, s in enumerate(flat.service_ids)}
    rep = {(int(s), int(o)): v for v, (s, o) in enumerate(zip(flat.r_svc, flat.r_off, strict=True))}
    n_pos = {int(v): k for k, v in enumerate(model.n_of)}
    for tp in p.training:
        c = cand.get((job.get(tp.job_id, -1), off.get(tp.offering_id, -1), TIERS.index(tp.tier)))
        if c is None:
            return None
        start[model.columns[Block.x].start + c] = 1.0
    for ip in p.inference:
        v = rep.get((svc.get(ip.service_id, -1), off.get(ip.offering_id, -1)))
        if v is None:
            return None
        start[model.columns[Block.y].start + v] = ip.replicas
        if v in n_pos:
            start[model.columns[Block.n].start + n_pos[v]] = flat.instances(v, ip.replicas)
    return start
