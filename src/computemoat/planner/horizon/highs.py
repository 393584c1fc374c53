"""HiGHS on a multi-period model: LP bound, a caller's start, restricted MIPs around the LP point (RENS),
then the full MIP from the best incumbent, all under one deadline."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from computemoat.planner.highs_run import fix_settled_jobs
from computemoat.planner.horizon.formulation import HorizonModel

OBJECTIVE_SCALE = 1e-3  # the solver sees k$: costs of 1e2..1e8 USD would be badly scaled against its tolerances


def run_highs(
    model: HorizonModel, *, time_limit_s: float, mip_gap: float, start: np.ndarray | None = None
) -> tuple[str, float, float | None, np.ndarray | None]:
    """(status, objective, best bound or None, column values or None when there is no solution).

    LP relaxation (a valid bound L), a caller's start, then restricted MIPs around the LP point
    (:func:`_neighbourhoods`, fixed columns taken out); when an incumbent is within ``mip_gap`` of L the
    gap is proven and we stop, else the full MIP runs from it. (HiGHS's own heuristics can take minutes
    to find an incumbent of the full model, or none: 1,000 workloads x 12 periods.)"""
    deadline = time.perf_counter() + time_limit_s
    ints = model.integrality == 1
    status, obj, x = _solve_lp(model, model.col_lower, model.col_upper, time_limit_s=time_limit_s)
    if x is None or not ints.any():
        return status, obj, (obj if x is not None else None), x
    bound = obj
    best: tuple[float, np.ndarray] | None = None
    if start is not None:  # the hint's integers fixed, its continuous part re-solved as an LP
        lo, hi = model.col_lower.copy(), model.col_upper.copy()
        lo[ints] = hi[ints] = np.clip(np.rint(start[ints]), model.col_lower[ints], model.col_upper[ints])
        _, h_obj, h_x = _solve_lp(model, lo, hi, time_limit_s=deadline - time.perf_counter())
        if h_x is not None:
            h_x[ints] = np.rint(h_x[ints])
            best = (h_obj, h_x)
            if h_obj - bound <= mip_gap * abs(h_obj):
                return "Optimal", h_obj, bound, h_x
    for lo, hi in _neighbourhoods(model, x, ints):
        left = deadline - time.perf_counter()
        if left <= 0.2:
            break
        found = _restricted_mip(model, lo, hi, bound=bound, gap=mip_gap, time_limit_s=max(0.2, 0.4 * left))
        if found is not None:
            if best is None or found[0] < best[0]:
                best = found
            break
    if best is not None and best[0] - bound <= mip_gap * abs(best[0]):
        return "Optimal", best[0], bound, best[1]
    left = deadline - time.perf_counter()
    if left > 0.2:
        status, m_obj, m_bound, m_x = _branch_and_bound(model, bound, best, time_limit_s=left, gap=mip_gap)
        bound = max(bound, m_bound)
        if m_x is not None and (best is None or m_obj <= best[0]):
            best = (m_obj, m_x)
    if best is None:
        return ("Infeasible" if status == "Infeasible" else "no incumbent in the time limit"), float("inf"), None, None
    gap_ok = best[0] - bound <= mip_gap * abs(best[0])
    return ("Optimal" if gap_ok else "Time limit reached"), best[0], bound, best[1]


def _branch_and_bound(
    model: HorizonModel,
    bound: float,
    best: tuple[float, np.ndarray] | None,
    *,
    time_limit_s: float,
    gap: float,
) -> tuple[str, float, float, np.ndarray | None]:
    """The full MIP from the incumbent (or the caller's start), through the single-period runner: a large
    model runs in its killable child process, since HiGHS's branch and bound does not check its time
    limit everywhere (1,000 workloads x 12 periods ran 23 s past a 12 s limit in-process). Returns
    (status, objective, best bound, column values or None)."""
    from computemoat.planner.highs_run import run

    # only a proven-feasible incumbent: the runner treats its start as one (the caller's own start was
    # tried above, its integers fixed, and is ``best`` if it completed)
    first = None if best is None else best[1]
    req = {
        **_request(model),
        "col_lower": model.col_lower,
        "col_upper": model.col_upper,
        "mip_gap": float(gap),
        "time_limit_s": float(time_limit_s),
        "log": bool(os.environ.get("CMOAT_HIGHS_LOG")),
        "start": first,
        "known_bound": bound * OBJECTIVE_SCALE,
        "branch_and_bound_only": True,
    }
    _, status, _, m_bound, x = run(req)
    b = bound if m_bound is None or not np.isfinite(m_bound) else float(m_bound) / OBJECTIVE_SCALE
    if x is None:
        return str(status), float("inf"), b, None
    x = np.asarray(x, dtype=float)
    return str(status), float(model.col_cost @ x), b, x


def _request(model: HorizonModel) -> dict[str, Any]:
    """The model in the wire form of the single-period runner (planner/highs_run.py), whose
    ``restrict`` takes fixed columns out before HiGHS sees them."""
    m = model.matrix
    return {
        "a_start": m.indptr.astype(np.int32),
        "a_index": m.indices.astype(np.int32),
        "a_value": m.data,
        "row_lower": model.row_lower,
        "row_upper": model.row_upper,
        "col_cost": model.col_cost * OBJECTIVE_SCALE,
        "integrality": model.integrality,
    }


def _restricted_mip(
    model: HorizonModel,
    lower: np.ndarray,
    upper: np.ndarray,
    *,
    bound: float,
    gap: float,
    time_limit_s: float,
) -> tuple[float, np.ndarray] | None:
    """The MIP over the columns ``lower``/``upper`` leave free, the fixed ones taken out (HiGHS's presolve
    spent most of the time finding them); stopped as soon as an incumbent is within ``gap`` of the full
    model's LP ``bound`` (the sub-model's own bound is no use for that), or when the sub-MIP proves its
    own optimum to half that gap."""
    from computemoat.planner.highs_run import new_highs, restrict, stream_until

    sub = restrict(_request(model), lower, upper)
    if sub is None:
        return None
    h = new_highs()
    h.setOptionValue("output_flag", bool(os.environ.get("CMOAT_HIGHS_LOG")))
    h.setOptionValue("time_limit", float(max(0.1, time_limit_s)))
    h.setOptionValue("mip_rel_gap", float(gap / 2))
    h.setOptionValue("random_seed", 0)
    h.passModel(sub.lp)
    best: list[tuple[float, np.ndarray]] = []

    def take(x: np.ndarray) -> bool:
        obj = float(model.col_cost @ x)
        if not best or obj < best[0][0]:
            best[:] = [(obj, x)]
        return best[0][0] - bound <= gap * abs(best[0][0])

    stream_until(h, sub, take)
    h.run()
    if h.getInfo().primal_solution_status == 2:
        take(sub.expand(h.getSolution().col_value))
    if not best:
        return None
    x = best[0][1]
    ints = model.integrality == 1
    x[ints] = np.rint(x[ints])
    return float(model.col_cost @ x), x


def _neighbourhoods(model: HorizonModel, x: np.ndarray, ints: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Restricted MIPs around the LP solution, tightest first: (1) every integer in [floor, ceil] of its
    LP value (RENS; signing decisions may still drop to 0); (2) binaries the LP already set fixed,
    general integers free; (3) as the single-period warm start: every job the LP placed whole fixed
    there, the other jobs free over all their candidates, rental units boxed to [floor, ceil] of the LP,
    commitments free (on 1,000 workloads x 12 periods (1) and (2) are infeasible: a job the LP splits
    between two offerings fits in neither once the others are fixed; (3) without the unit box found no
    plan in 60 s, with it one in ~7 s)."""
    lo, hi = model.col_lower.copy(), model.col_upper.copy()
    lo[ints] = np.maximum(lo[ints], np.floor(x[ints] + 1e-6))
    hi[ints] = np.minimum(hi[ints], np.ceil(x[ints] - 1e-6))
    for block in ("n", "b"):  # a commitment is all-or-minimum: rounding must be allowed to drop it
        cols = model.blocks.get(block, slice(0, 0))
        lo[cols] = model.col_lower[cols]
    lo2, hi2 = model.col_lower.copy(), model.col_upper.copy()
    binary = ints & (model.col_upper <= 1) & (np.abs(x - np.rint(x)) < 1e-6)
    lo2[binary] = hi2[binary] = np.rint(x[binary])
    xs = model.blocks.get("x", slice(0, 0))
    group = np.full(len(x), -1, dtype=np.int64)
    group[xs] = model.problem.train.job
    lo3, hi3 = fix_settled_jobs(group, x, model.col_lower, model.col_upper)
    us = model.blocks.get("u", slice(0, 0))
    lo3[us] = np.floor(x[us] + 1e-6)
    hi3[us] = np.minimum(model.col_upper[us], np.maximum(lo3[us], np.ceil(x[us] - 1e-6)))
    return [(lo, hi), (lo2, hi2), (lo3, hi3)]


def _solve_lp(
    model: HorizonModel, lower: np.ndarray, upper: np.ndarray, *, time_limit_s: float
) -> tuple[str, float, np.ndarray | None]:
    """The LP over ``lower``/``upper`` (the relaxation, or a start's continuous part)."""
    import highspy

    from computemoat.planner.highs_run import new_highs

    h = new_highs()
    h.setOptionValue("output_flag", bool(os.environ.get("CMOAT_HIGHS_LOG")))
    h.setOptionValue("time_limit", float(max(0.1, time_limit_s)))
    h.setOptionValue("random_seed", 0)
    lp = highspy.HighsLp()
    m = model.matrix
    lp.num_col_, lp.num_row_ = m.shape[1], m.shape[0]
    lp.col_cost_ = model.col_cost * OBJECTIVE_SCALE
    lp.col_lower_, lp.col_upper_ = lower, upper
    lp.row_lower_, lp.row_upper_ = model.row_lower, model.row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = m.indptr.astype(np.int32)
    lp.a_matrix_.index_ = m.indices.astype(np.int32)
    lp.a_matrix_.value_ = m.data
    h.passModel(lp)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    info = h.getInfo()
    if info.primal_solution_status != 2:  # kSolutionStatusFeasible
        return status, float("inf"), None
    x = np.asarray(h.getSolution().col_value)
    return status, float(model.col_cost @ x), x
