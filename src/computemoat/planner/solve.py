"""Run HiGHS on the placement MILP and turn its answer back into a frozen ``Plan``."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from computemoat.model import (
    Assignment,
    InfeasibleError,
    InferencePlacement,
    Plan,
    Scenario,
    Tier,
    TrainingPlacement,
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
    ``InfeasibleError`` naming the conflicting constraints when no plan exists."""
    t0 = time.perf_counter()
    if progress:
        progress(SolveProgress("flatten", 0.0))
    flat = flatten(scenario, rtt_ms)
    return solve_flat(flat, time_limit_s=time_limit_s, mip_gap=mip_gap, progress=progress, t0=t0)


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
) -> PlanResult:
    """Build, solve and unflatten; on infeasibility explain which policies conflict (``diagnose``)."""
    import highspy

    t0 = time.perf_counter() if t0 is None else t0
    if progress:
        progress(SolveProgress("build", time.perf_counter() - t0))
    model = build(flat, extra_cost_x=extra_cost_x, new_placement_penalty_usd=new_placement_penalty_usd)
    h = new_highs()
    if os.environ.get("CMOAT_HIGHS_LOG"):
        h.setOptionValue("output_flag", True)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    h.setOptionValue("random_seed", 0)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = model.matrix.shape[1], model.matrix.shape[0]
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = model.col_cost, model.col_lower, model.col_upper
    lp.row_lower_, lp.row_upper_ = model.row_lower, model.row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = model.matrix.indptr.astype(np.int32)
    lp.a_matrix_.index_ = model.matrix.indices.astype(np.int32)
    lp.a_matrix_.value_ = model.matrix.data
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = lp.num_col_, lp.num_row_
    lp.integrality_ = [highspy.HighsVarType(int(v)) for v in model.integrality]
    lp.col_names_, lp.row_names_ = model.col_names, model.row_names
    h.passModel(lp)
    if progress:
        _subscribe_progress(h, progress, t0)
        progress(SolveProgress("solve", time.perf_counter() - t0))
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    status_text = h.modelStatusToString(status)
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    if status == highspy.HighsModelStatus.kInfeasible or not has_solution:
        if status == highspy.HighsModelStatus.kInfeasible and diagnose:
            from computemoat.planner.infeasible import diagnose_infeasible

            raise InfeasibleError(*diagnose_infeasible(flat.scenario, flat.rtt_ms, time_limit_s=time_limit_s))
        if status == highspy.HighsModelStatus.kInfeasible:
            raise InfeasibleError(f"scenario {flat.scenario.name}: no plan satisfies every constraint")
        raise InfeasibleError(
            f"scenario {flat.scenario.name}: no plan found within --time-limit {time_limit_s:g} s "
            f"(solver status: {status_text}; raise the time limit)"
        )
    sol = h.getSolution()
    col_value = np.asarray(sol.col_value)
    row_value = np.asarray(sol.row_value)
    optimal = status == highspy.HighsModelStatus.kOptimal
    gap = float(info.mip_gap) if np.isfinite(info.mip_gap) else None
    elapsed = time.perf_counter() - t0
    result_plan = unflatten(
        flat,
        model,
        col_value,
        status="optimal" if optimal else "feasible (time limit)",
        mip_gap=gap,
        solve_time_s=elapsed,
    )
    if progress:
        progress(SolveProgress("done", elapsed, float(info.objective_function_value), float(info.mip_dual_bound), gap))
    return PlanResult(
        plan=result_plan,
        model_status=status_text,
        objective_usd=float(info.objective_function_value),
        bound_usd=float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else None,
        mip_gap=gap,
        solve_time_s=elapsed,
        num_cols=int(lp.num_col_),
        num_rows=int(lp.num_row_),
        num_integer=int(model.integrality.sum()),
        pruned_offering_ids=flat.pruned_offering_ids,
        flat=flat,
        model=model,
        col_value=col_value,
        row_value=row_value,
    )


_BANNER_SHOWN = False


def new_highs():  # type: ignore[no-untyped-def]
    """A silent ``Highs``. The first construction in a process prints a banner straight to fd 1,
    which would corrupt piped CLI output, so that one is built with fd 1 pointed at /dev/null."""
    import highspy

    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        h = highspy.Highs()
    else:
        sys.stdout.flush()
        saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)
        _BANNER_SHOWN = True
    h.setOptionValue("output_flag", False)
    return h


def _subscribe_progress(h: object, progress: ProgressFn, t0: float) -> None:
    def on_improve(event: object) -> None:
        data = event.data_out  # type: ignore[attr-defined]
        obj, bound = float(data.objective_function_value), float(data.mip_dual_bound)
        gap = abs(obj - bound) / max(abs(obj), 1e-9) if np.isfinite(bound) else None
        progress(SolveProgress("solve", time.perf_counter() - t0, obj, bound, gap))

    h.cbMipImprovingSolution.subscribe(on_improve)  # type: ignore[attr-defined]


def unflatten(
    flat: FlatProblem,
    model: MilpModel,
    col_value: np.ndarray,
    *,
    status: str,
    mip_gap: float | None,
    solve_time_s: float | None,
) -> Plan:
    """Column values -> frozen Plan (placements sorted by workload id, costs recomputed exactly)."""
    sc = flat.scenario
    x = col_value[model.cols["x"]]
    y = np.rint(col_value[model.cols["y"]]).astype(np.int64)
    z = col_value[model.cols["z"]]
    training: list[TrainingPlacement] = []
    for c in np.flatnonzero(x > 0.5):
        o = flat.t_off[c]
        training.append(
            TrainingPlacement(
                job_id=flat.job_ids[flat.t_job[c]],
                offering_id=flat.offering_ids[o],
                site_id=flat.site_ids[flat.off_site[o]],
                provider=flat.provider_names[flat.off_provider[o]],
                tier=TIERS[flat.t_tier[c]],
                gpus=int(flat.t_gpus[c]),
                cost_usd=float(flat.t_cost_usd[c]),
            )
        )
    inference: list[InferencePlacement] = []
    for v in np.flatnonzero(y > 0):
        o = flat.r_off[v]
        inference.append(
            InferencePlacement(
                service_id=flat.service_ids[flat.r_svc[v]],
                offering_id=flat.offering_ids[o],
                site_id=flat.site_ids[flat.off_site[o]],
                provider=flat.provider_names[flat.off_provider[o]],
                tier=Tier.on_demand,
                replicas=int(y[v]),
                gpus=int(y[v] * flat.r_gpus_per_replica[v]),
                cost_usd=float(y[v] * flat.r_cost_usd_per_replica[v]),
            )
        )
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
        notes=flat.notes,
    )
