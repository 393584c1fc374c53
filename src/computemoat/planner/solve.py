"""Run HiGHS on the placement MILP and turn its answer back into a frozen ``Plan``."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from computemoat.model import (
    Assignment,
    InfeasibleError,
    Plan,
    Scenario,
)
from computemoat.planner.flatten import TIERS, FlatProblem, flatten
from computemoat.planner.milp import MilpModel, build


@dataclass(frozen=True)
class SolveProgress:
    """One progress report: the stage, and while solving the incumbent, bound and gap."""

    stage: str  # "flatten" | "build" | "solve" | "done"
    elapsed_s: float
    objective_usd: float | None = None
    bound_usd: float | None = None
    gap: float | None = None


ProgressFn = Callable[[SolveProgress], None]


@dataclass(frozen=True)
class PlanResult:
    """The plan plus what the solver said and what explain/replan need to look inside."""

    plan: Plan
    model_status: str
    objective_usd: float
    bound_usd: float | None
    mip_gap: float | None
    solve_time_s: float
    num_cols: int
    num_rows: int
    num_integer: int
    pruned_offering_ids: tuple[str, ...]
    flat: FlatProblem = field(repr=False)
    model: MilpModel = field(repr=False)
    col_value: np.ndarray = field(repr=False)
    row_value: np.ndarray = field(repr=False)
    unplaced: tuple[Unplaced, ...] = ()


def plan(
    scenario: Scenario,
    rtt_ms: np.ndarray,
    *,
    time_limit_s: float = 60,
    mip_gap: float = 0.01,
    progress: ProgressFn | None = None,
) -> PlanResult:
    """Cost-optimal placement of every workload of ``scenario`` (see :mod:`milp` for the model).

    ``rtt_ms`` is [user_regions x sites] in scenario order (np.inf = unreachable). Raises
    ``InfeasibleError`` naming the conflicting constraints when no plan exists.

    The greedy baseline, when it is valid, is handed to the solver as a starting point, so the
    result is never costlier than greedy whenever greedy is feasible."""
    from computemoat.planner.greedy import greedy_plan
    from computemoat.planner.validate import validate_plan

    t0 = time.perf_counter()
    if progress:
        progress(SolveProgress("flatten", 0.0))
    flat = flatten(scenario, rtt_ms)
    g = greedy_plan(scenario, rtt_ms)
    start = None if g.unplaced or validate_plan(scenario, g.plan, rtt_ms) else g.plan
    return solve_flat(flat, time_limit_s=time_limit_s, mip_gap=mip_gap, progress=progress, t0=t0, start_plan=start)


def solve_flat(
    flat: FlatProblem,
    *,
    time_limit_s: float,
    mip_gap: float,
    progress: ProgressFn | None = None,
    t0: float | None = None,
    extra_cost_x: np.ndarray | None = None,
    new_placement_penalty_usd: np.ndarray | None = None,
    diagnose: bool = True,
    allow_unplaced: bool = False,
    start_plan: Plan | None = None,
) -> PlanResult:
    """Build, solve (see :mod:`highs_run`) and unflatten, all within ``time_limit_s`` counted from
    ``t0``; on infeasibility explain which policies conflict (``diagnose``, in the time left).
    ``allow_unplaced`` adds penalised slack so what cannot be placed is reported, not fatal."""
    from computemoat.planner.highs_run import run as run_highs
    from computemoat.planner.milp import unplaced_penalty

    t0 = time.perf_counter() if t0 is None else t0
    if progress:
        progress(SolveProgress("build", time.perf_counter() - t0))
    model = build(
        flat,
        extra_cost_x=extra_cost_x,
        new_placement_penalty_usd=new_placement_penalty_usd,
        unplaced_penalty_usd=unplaced_penalty(flat) if allow_unplaced else None,
    )
    m = model.matrix
    request = {
        "col_cost": model.col_cost,
        "col_lower": model.col_lower,
        "col_upper": model.col_upper,
        "integrality": model.integrality,
        "row_lower": model.row_lower,
        "row_upper": model.row_upper,
        "a_start": m.indptr.astype(np.int32),
        "a_index": m.indices.astype(np.int32),
        "a_value": m.data,
        "col_group": model.col_group,
        "tie_cost": model.tie_cost,
        "mip_gap": float(mip_gap),
        "time_limit_s": max(0.1, time_limit_s - (time.perf_counter() - t0)),
        "log": bool(os.environ.get("CMOAT_HIGHS_LOG")),
        "start": None if start_plan is None else integer_start(flat, model, start_plan),
    }
    if progress:
        progress(SolveProgress("solve", time.perf_counter() - t0))

    def relay(msg: tuple) -> None:
        if progress and msg[0] == "incumbent":
            obj, bound = float(msg[1]), float(msg[2])
            gap = abs(obj - bound) / max(abs(obj), 1e-9) if np.isfinite(bound) else None
            progress(SolveProgress("solve", time.perf_counter() - t0, obj, bound, gap))

    _, status_text, objective, bound, col_value = run_highs(request, on_message=relay)
    if status_text == "Infeasible" or col_value is None:
        left = time_limit_s - (time.perf_counter() - t0)
        if status_text == "Infeasible" and diagnose and left > 0.5:
            from computemoat.planner.infeasible import diagnose_infeasible

            raise InfeasibleError(*diagnose_infeasible(flat.scenario, flat.rtt_ms, time_limit_s=left))
        if status_text == "Infeasible":
            raise InfeasibleError(f"scenario {flat.scenario.name}: no plan satisfies every constraint")
        raise InfeasibleError(
            f"scenario {flat.scenario.name}: no plan found within --time-limit {time_limit_s:g} s "
            f"(solver status: {status_text}; raise the time limit)"
        )
    col_value = np.asarray(col_value)
    row_value = model.matrix @ col_value
    optimal = status_text == "Optimal"
    gap = None
    if bound is not None and np.isfinite(bound):
        gap = max(0.0, (objective - bound) / max(abs(objective), 1e-9))
    elapsed = time.perf_counter() - t0
    unplaced = find_unplaced(flat, model, col_value)
    result_plan = unflatten(
        flat,
        model,
        col_value,
        status="optimal" if optimal else "feasible (time limit)",
        mip_gap=gap,
        solve_time_s=elapsed,
        unplaced=unplaced,
    )
    if progress:
        progress(SolveProgress("done", elapsed, objective, bound, gap))
    return PlanResult(
        plan=result_plan,
        model_status=status_text,
        objective_usd=float(objective),
        bound_usd=None if bound is None or not np.isfinite(bound) else float(bound),
        mip_gap=gap,
        solve_time_s=elapsed,
        num_cols=int(m.shape[1]),
        num_rows=int(m.shape[0]),
        num_integer=int(model.integrality.sum()),
        pruned_offering_ids=flat.pruned_offering_ids,
        flat=flat,
        model=model,
        col_value=col_value,
        row_value=row_value,
        unplaced=unplaced,
    )


def integer_start(flat: FlatProblem, model: MilpModel, p: Plan) -> np.ndarray | None:
    """A plan's integer columns (NaN elsewhere) as a solver start; None if it does not map onto
    the model (a placement on a pruned offering or a tier the model has no column for)."""
    start = np.full(len(model.col_cost), np.nan)
    start[model.integrality == 1] = 0.0
    off = {o: i for i, o in enumerate(flat.offering_ids)}
    cand = {
        (int(j), int(o), int(t)): c for c, (j, o, t) in enumerate(zip(flat.t_job, flat.t_off, flat.t_tier, strict=True))
    }
    job = {j: i for i, j in enumerate(flat.job_ids)}
    svc = {s: i for i, s in enumerate(flat.service_ids)}
    rep = {(int(s), int(o)): v for v, (s, o) in enumerate(zip(flat.r_svc, flat.r_off, strict=True))}
    for tp in p.training:
        c = cand.get((job.get(tp.job_id, -1), off.get(tp.offering_id, -1), TIERS.index(tp.tier)))
        if c is None:
            return None
        start[model.cols["x"].start + c] = 1.0
    for ip in p.inference:
        v = rep.get((svc.get(ip.service_id, -1), off.get(ip.offering_id, -1)))
        if v is None:
            return None
        start[model.cols["y"].start + v] = ip.replicas
    u = model.cols["u"]
    start[u] = start[model.cols["y"].start + model.u_of] > 0
    return start


def new_highs():  # type: ignore[no-untyped-def]
    """A silent ``Highs`` (see :func:`highs_run.new_highs`)."""
    from computemoat.planner.highs_run import new_highs as make

    return make()


@dataclass(frozen=True)
class Unplaced:
    """A workload a partial plan could not (fully) place, and why."""

    workload_id: str
    kind: str  # "training" | "inference"
    reason: str
    unserved_rps: float = 0.0  # inference: nominal demand not served

    def line(self) -> str:
        return f"{self.workload_id}: {self.reason}"


def find_unplaced(flat: FlatProblem, model: MilpModel, col_value: np.ndarray) -> tuple[Unplaced, ...]:
    """Read the slack columns: unplaced jobs, and per service the demand not served (nominal or
    under a failure set, i.e. N+k not met for that region)."""
    from computemoat.planner.milp import fail_label

    why = dict(flat.structural)
    out: list[Unplaced] = []
    s = col_value[model.cols["s"]]
    for j in np.flatnonzero(s > 0.5):
        job_id = flat.job_ids[j]
        reason = why.get(job_id, "no room left: capacity, power or provider caps are used up by the rest of the plan")
        out.append(Unplaced(job_id, "training", reason))
    w = col_value[model.cols["w"]]
    by_svc: dict[int, list[str]] = {}
    nominal_short: dict[int, float] = {}
    for k in np.flatnonzero(w > 1e-6):
        d, f = model.w_dem[k], model.w_fail[k]
        svc, region = int(flat.d_svc[d]), flat.region_names[flat.d_region[d]]
        if len(flat.f_failed[f]) == 0:
            nominal_short[svc] = nominal_short.get(svc, 0.0) + float(w[k])
            by_svc.setdefault(svc, []).append(f"{region}: {w[k]:.1f} of {flat.d_rps[d]:.1f} rps not served")
        else:
            by_svc.setdefault(svc, []).append(
                f"{region} {fail_label(flat, f)}: {w[k]:.1f} of {flat.d_rps[d]:.1f} rps short (N+k not met)"
            )
    for svc, parts in sorted(by_svc.items()):
        svc_id = flat.service_ids[svc]
        head = [why[svc_id]] if svc_id in why else []
        shown = parts[:4] + ([f"... {len(parts) - 4} more"] if len(parts) > 4 else [])
        out.append(Unplaced(svc_id, "inference", "; ".join(head + shown), nominal_short.get(svc, 0.0)))
    return tuple(out)


def unflatten(
    flat: FlatProblem,
    model: MilpModel,
    col_value: np.ndarray,
    *,
    status: str,
    mip_gap: float | None,
    solve_time_s: float | None,
    unplaced: tuple[Unplaced, ...] = (),
) -> Plan:
    """Column values -> frozen Plan (placements sorted by workload id, costs recomputed exactly)."""
    sc = flat.scenario
    x = col_value[model.cols["x"]]
    y = np.rint(col_value[model.cols["y"]]).astype(np.int64)
    z = col_value[model.cols["z"]]
    training = [flat.training_placement(c) for c in np.flatnonzero(x > 0.5)]
    inference = [flat.inference_placement(v, y[v]) for v in np.flatnonzero(y > 0)]
    nominal = flat.nominal_fail[flat.a_fail]
    assignments = [
        Assignment(
            service_id=flat.service_ids[flat.d_svc[flat.a_dem[a]]],
            region=flat.region_names[flat.d_region[flat.a_dem[a]]],
            site_id=flat.site_ids[flat.a_site[a]],
            rps=float(z[a]),
            rtt_ms=float(flat.a_rtt_ms[a]),
        )
        for a in np.flatnonzero(nominal & (z > 1e-9))
    ]
    training.sort(key=lambda p: p.job_id)
    inference.sort(key=lambda p: (p.service_id, p.offering_id))
    assignments.sort(key=lambda a: (a.service_id, a.region, a.site_id))
    total = sum(p.cost_usd for p in training) + sum(p.cost_usd for p in inference)
    return Plan(
        scenario=sc.name,
        status=status,
        total_cost_usd=total,
        mip_gap=mip_gap,
        solve_time_s=solve_time_s,
        training=tuple(training),
        inference=tuple(inference),
        assignments=tuple(assignments),
        notes=flat.notes + tuple(f"unplaced: {u.line()}" for u in unplaced),
        unplaced=tuple(u.workload_id for u in unplaced),
    )
