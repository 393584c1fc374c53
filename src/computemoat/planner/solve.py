"""Run HiGHS on the placement MILP (build -> solve -> unflatten) and say what it found.

This is the solver core: it never diagnoses infeasibility itself (that is :mod:`infeasible`, which
re-solves relaxed scenarios through :mod:`relax`), so nothing here imports a module that imports it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from computemoat.model import InfeasibleError, Plan, PlanStatus, no_plan_in_time
from computemoat.planner.columns import Block
from computemoat.planner.families import MoveSpec
from computemoat.planner.flatten import FlatProblem
from computemoat.planner.highs_run import Incumbent, SolveOutcome, SolveRequest
from computemoat.planner.milp import MilpModel, Objective, build, unplaced_penalty
from computemoat.planner.route import route_nominal
from computemoat.planner.unflatten import Unplaced, WorkloadKind, find_unplaced, integer_start, unflatten

__all__ = ["PlanResult", "SolveProgress", "Stage", "Unplaced", "WorkloadKind", "solve_flat"]


class Stage(StrEnum):
    flatten = "flatten"
    build = "build"
    solve = "solve"
    done = "done"


@dataclass(frozen=True)
class SolveProgress:
    """One progress report: the stage, and while solving the incumbent, bound and gap."""

    stage: Stage
    elapsed_s: float
    objective_usd: float | None = None
    bound_usd: float | None = None
    gap: float | None = None


ProgressFn = Callable[[SolveProgress], None]


class ModelInfeasible(InfeasibleError):
    """HiGHS proved that the model has no solution (the caller may diagnose why)."""


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
    route_rps: np.ndarray = field(repr=False)  # nominal rps per flat.route_* (route.py)
    unplaced: tuple[Unplaced, ...] = ()


def solve_flat(
    flat: FlatProblem,
    *,
    time_limit_s: float,
    mip_gap: float,
    progress: ProgressFn | None = None,
    t0: float | None = None,
    allow_unplaced: bool = False,
    start: np.ndarray | Plan | Callable[[], Plan | None] | None = None,
    moves: MoveSpec | None = None,
    objective: Objective = Objective.cost,
    anti_dilution: bool = True,
) -> PlanResult:
    """Build, solve and unflatten within ``time_limit_s`` counted from ``t0``. Raises
    ``ModelInfeasible`` when HiGHS proves there is no plan. ``allow_unplaced`` adds penalised slack
    so what cannot be placed is reported, not fatal; ``start`` (a plan or a column vector) is tried first;
    a callable ``start`` is computed while HiGHS solves the LP (see highs_run.run)."""
    t0 = time.perf_counter() if t0 is None else t0

    def report(stage: Stage, inc: Incumbent | None = None) -> None:
        if progress is None:
            return
        if inc is None:
            progress(SolveProgress(stage, time.perf_counter() - t0))
            return
        gap = abs(inc.objective - inc.bound) / max(abs(inc.objective), 1e-9) if np.isfinite(inc.bound) else None
        progress(SolveProgress(stage, time.perf_counter() - t0, inc.objective, inc.bound, gap))

    report(Stage.build)
    penalty = unplaced_penalty(flat) if allow_unplaced else None
    model = build(flat, unplaced_penalty_usd=penalty, moves=moves, objective=objective, anti_dilution=anti_dilution)
    late = start if callable(start) else None
    if isinstance(start, Plan):
        start = integer_start(flat, model, start)
    request = request_for(
        model,
        mip_gap=mip_gap,
        time_limit_s=max(0.1, time_limit_s - (time.perf_counter() - t0)),
        start=None if callable(start) else start,
    )
    report(Stage.solve)
    from computemoat.planner.highs_run import solve as run_highs

    def late_columns() -> np.ndarray | None:
        assert late is not None
        p = late()
        return None if p is None else integer_start(flat, model, p)

    outcome = run_highs(
        request,
        on_incumbent=lambda inc: report(Stage.solve, inc),
        late_start=None if late is None else late_columns,
    )
    _raise_if_no_plan(flat, outcome, time_limit_s)
    assert outcome.col_value is not None and outcome.objective is not None
    result = _result(flat, model, outcome, time.perf_counter() - t0, mip_gap, partial_ok=allow_unplaced)
    if progress:
        progress(SolveProgress(Stage.done, result.solve_time_s, outcome.objective, outcome.bound, result.mip_gap))
    return result


def request_for(model: MilpModel, *, mip_gap: float, time_limit_s: float, start: np.ndarray | None) -> SolveRequest:
    m = model.matrix
    return SolveRequest(
        col_cost=model.col_cost,
        bound_cost=model.bound_cost,
        col_lower=model.col_lower,
        col_upper=model.col_upper,
        integrality=model.integrality,
        row_lower=model.row_lower,
        row_upper=model.row_upper,
        a_start=m.indptr.astype(np.int32),
        a_index=m.indices.astype(np.int32),
        a_value=m.data,
        col_group=model.col_group,
        svc_group=model.svc_group,
        mip_gap=float(mip_gap),
        time_limit_s=time_limit_s,
        log=bool(os.environ.get("CMOAT_HIGHS_LOG")),
        start=start,
    )


def _raise_if_no_plan(flat: FlatProblem, outcome: SolveOutcome, time_limit_s: float) -> None:
    if outcome.infeasible:
        raise ModelInfeasible(f"scenario {flat.scenario.name}: no plan satisfies every constraint")
    if outcome.col_value is None:
        raise no_plan_in_time(flat.scenario.name, time_limit_s, outcome.status)


def _result(
    flat: FlatProblem, model: MilpModel, outcome: SolveOutcome, elapsed: float, mip_gap: float, *, partial_ok: bool
) -> PlanResult:
    assert outcome.col_value is not None and outcome.objective is not None
    col_value = outcome.col_value
    gap = None
    if outcome.bound is not None:
        gap = max(0.0, (outcome.objective - outcome.bound) / max(abs(outcome.objective), 1e-9))
    unplaced = find_unplaced(flat, model, col_value) if partial_ok else ()
    status = PlanStatus.optimal if outcome.status == "Optimal" else PlanStatus.time_limit
    if unplaced:
        status = PlanStatus.partial
    route_rps = route_nominal(flat, np.rint(col_value[model.columns[Block.y]]))
    plan = unflatten(
        flat, model, col_value, route_rps, status=status, mip_gap=gap, solve_time_s=elapsed, unplaced=unplaced
    )
    m = model.matrix
    return PlanResult(
        plan=plan,
        model_status=outcome.status,
        objective_usd=float(outcome.objective),
        bound_usd=outcome.bound,
        mip_gap=gap,
        solve_time_s=elapsed,
        num_cols=int(m.shape[1]),
        num_rows=int(m.shape[0]),
        num_integer=int(model.integrality.sum()),
        pruned_offering_ids=(),
        flat=flat,
        model=model,
        col_value=col_value,
        row_value=m @ col_value,
        route_rps=route_rps,
        unplaced=unplaced,
    )


def start_from_result(result: PlanResult, model: MilpModel) -> np.ndarray:
    """A solved result's columns as a start for a model of the same flat problem with more blocks (m)."""
    start = np.full(len(model.col_cost), np.nan)
    n = len(result.col_value)
    start[:n] = result.col_value
    ints = model.integrality[:n] == 1
    start[:n][ints] = np.rint(result.col_value[ints])
    return start


def col_block(model: MilpModel, col_value: np.ndarray, block: Block) -> np.ndarray:
    return col_value[model.columns[block]]
