"""Solve the multi-period MILP with HiGHS and decode the answer into a :class:`HorizonPlan`."""

from __future__ import annotations

import dataclasses
import os
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from computemoat.model import InfeasibleError, Scenario
from computemoat.planner.horizon.formulation import HorizonModel, build, whole
from computemoat.planner.horizon.problem import HorizonProblem, flatten_horizon
from computemoat.planner.horizon.result import HorizonPlan, InferenceRental, SignedCommitment, TrainingRun
from computemoat.planner.horizon.training import COMMITTED, TIER_NAMES
from computemoat.reliability import FaultModel


@dataclass(frozen=True)
class HorizonSolution:
    """The plan plus the model and column values (for re-plans that fix the past)."""

    plan: HorizonPlan
    model: HorizonModel
    col_value: np.ndarray


def plan_horizon(
    scenario: Scenario,
    rtt_ms: np.ndarray,
    *,
    faults: FaultModel | None = None,
    time_limit_s: float = 60.0,
    mip_gap: float = 0.01,
    start: HorizonSolution | None = None,
) -> HorizonSolution:
    """Cost-optimal multi-period plan (see :mod:`formulation`); raises InfeasibleError when none exists."""
    t0 = time.perf_counter()
    model = build(flatten_horizon(scenario, rtt_ms, faults))
    return solve_model(model, time_limit_s=time_limit_s, mip_gap=mip_gap, t0=t0, start=start)


def solve_problem(
    problem: HorizonProblem,
    *,
    time_limit_s: float = 60.0,
    mip_gap: float = 0.01,
    t0: float | None = None,
) -> HorizonSolution:
    t0 = time.perf_counter() if t0 is None else t0
    return solve_model(build(problem), time_limit_s=time_limit_s, mip_gap=mip_gap, t0=t0)


def replan_from(
    previous: HorizonSolution,
    scenario: Scenario,
    rtt_ms: np.ndarray,
    *,
    from_period: int,
    faults: FaultModel | None = None,
    time_limit_s: float = 60.0,
    mip_gap: float = 0.01,
) -> HorizonSolution:
    """Re-plan the changed ``scenario`` keeping every decision of ``previous`` that belongs to a period
    before ``from_period`` (columns matched by name: what ran, what was rented, what was signed)."""
    t0 = time.perf_counter()
    model = build(flatten_horizon(scenario, rtt_ms, faults))
    value = dict(zip(previous.model.col_names, previous.col_value, strict=True))
    lower, upper = model.col_lower.copy(), model.col_upper.copy()
    for c in np.flatnonzero(model.col_period < from_period):
        v = value.get(model.col_names[c])
        if v is not None:
            lower[c] = upper[c] = float(np.rint(v)) if model.integrality[c] else v
    upper = np.maximum(upper, lower)
    fixed = dataclasses.replace(model, col_lower=lower, col_upper=upper)
    return solve_model(fixed, time_limit_s=time_limit_s, mip_gap=mip_gap, t0=t0)


def solve_model(
    model: HorizonModel,
    *,
    time_limit_s: float = 60.0,
    mip_gap: float = 0.01,
    t0: float | None = None,
    start: HorizonSolution | None = None,
) -> HorizonSolution:
    """``start``: a solution of a related model (e.g. the plan without an offer) whose columns, matched by
    name (absent ones at 0), are handed to the branch and bound as a first incumbent."""
    t0 = time.perf_counter() if t0 is None else t0
    left = max(0.5, time_limit_s - (time.perf_counter() - t0))
    hint = None
    if start is not None:
        value = dict(zip(start.model.col_names, start.col_value, strict=True))
        hint = np.array([value.get(name, 0.0) for name in model.col_names])
    status, objective, bound, x = run_highs(model, time_limit_s=left, mip_gap=mip_gap, start=hint)
    if x is None:
        name = model.problem.scenario.name
        if status == "Infeasible":
            raise InfeasibleError(f"scenario {name}: no multi-period plan satisfies every constraint")
        raise InfeasibleError(f"scenario {name}: no plan found within time_limit_s {time_limit_s:g} (status {status})")
    gap = None if bound is None else max(0.0, (objective - bound) / max(abs(objective), 1e-9))
    state = "optimal" if status == "Optimal" else "feasible (time limit)"
    plan = decode(model, x, status=state, mip_gap=gap, solve_time_s=time.perf_counter() - t0)
    return HorizonSolution(plan, model, x)


OBJECTIVE_SCALE = 1e-3  # the solver sees k$: costs of 1e2..1e8 USD would be badly scaled against its tolerances


def run_highs(
    model: HorizonModel, *, time_limit_s: float, mip_gap: float, start: np.ndarray | None = None
) -> tuple[str, float, float | None, np.ndarray | None]:
    """(status, objective, best bound or None, column values or None when there is no solution).

    LP relaxation (a valid bound L), then RENS: every integer boxed to [floor, ceil] of its LP value and
    solved as a small MIP; when its cost is within ``mip_gap`` of L the gap is proven and we stop, else the
    full MIP runs from that incumbent. (On these models L is within ~1e-5 of the optimum, but HiGHS's own
    heuristics can take minutes to find an incumbent near it.)"""
    deadline = time.perf_counter() + time_limit_s
    ints = model.integrality == 1
    status, obj, x = _solve(
        model, model.col_lower, model.col_upper, integer=False, time_limit_s=time_limit_s, gap=mip_gap
    )
    if x is None or not ints.any():
        return status, obj, (obj if x is not None else None), x
    bound = obj
    best: tuple[float, np.ndarray] | None = None
    if start is not None:  # the hint's integers fixed, its continuous part re-solved as an LP
        lo, hi = model.col_lower.copy(), model.col_upper.copy()
        lo[ints] = hi[ints] = np.clip(np.rint(start[ints]), model.col_lower[ints], model.col_upper[ints])
        _, h_obj, h_x = _solve(model, lo, hi, integer=False, time_limit_s=deadline - time.perf_counter(), gap=mip_gap)
        if h_x is not None:
            h_x[ints] = np.rint(h_x[ints])
            best = (h_obj, h_x)
            if h_obj - bound <= mip_gap * abs(h_obj):
                return "Optimal", h_obj, bound, h_x
    for lo, hi in _neighbourhoods(model, x, ints):
        left = deadline - time.perf_counter()
        if left <= 0.2:
            break
        _, r_obj, r_x = _solve(model, lo, hi, integer=True, time_limit_s=max(0.2, 0.4 * left), gap=mip_gap / 2)
        if r_x is not None:
            if best is None or r_obj < best[0]:
                best = (r_obj, r_x)
            break
    if best is not None and best[0] - bound <= mip_gap * abs(best[0]):
        return "Optimal", best[0], bound, best[1]
    left = deadline - time.perf_counter()
    if left > 0.2:
        status, m_obj, m_x = _solve(
            model, model.col_lower, model.col_upper, integer=True, time_limit_s=left, gap=mip_gap,
            start=start if best is None else best[1],
        )  # fmt: skip
        if m_x is not None and (best is None or m_obj <= best[0]):
            best = (m_obj, m_x)
    if best is None:
        return ("Infeasible" if status == "Infeasible" else "no incumbent in the time limit"), float("inf"), None, None
    gap_ok = best[0] - bound <= mip_gap * abs(best[0])
    return ("Optimal" if gap_ok else "Time limit reached"), best[0], bound, best[1]


def _neighbourhoods(model: HorizonModel, x: np.ndarray, ints: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Restricted MIPs around the LP solution, tightest first: (1) every integer in [floor, ceil] of its
    LP value (RENS; signing decisions may still drop to 0); (2) binaries the LP already set fixed,
    general integers free."""
    lo, hi = model.col_lower.copy(), model.col_upper.copy()
    lo[ints] = np.maximum(lo[ints], np.floor(x[ints] + 1e-6))
    hi[ints] = np.minimum(hi[ints], np.ceil(x[ints] - 1e-6))
    for block in ("n", "b"):  # a commitment is all-or-minimum: rounding must be allowed to drop it
        cols = model.blocks.get(block, slice(0, 0))
        lo[cols] = model.col_lower[cols]
    lo2, hi2 = model.col_lower.copy(), model.col_upper.copy()
    binary = ints & (model.col_upper <= 1) & (np.abs(x - np.rint(x)) < 1e-6)
    lo2[binary] = hi2[binary] = np.rint(x[binary])
    return [(lo, hi), (lo2, hi2)]


def _solve(
    model: HorizonModel,
    lower: np.ndarray,
    upper: np.ndarray,
    *,
    integer: bool,
    time_limit_s: float,
    gap: float,
    start: np.ndarray | None = None,
) -> tuple[str, float, np.ndarray | None]:
    import highspy

    from computemoat.planner.highs_run import new_highs

    h = new_highs()
    h.setOptionValue("output_flag", bool(os.environ.get("CMOAT_HIGHS_LOG")))
    h.setOptionValue("time_limit", float(max(0.1, time_limit_s)))
    h.setOptionValue("mip_rel_gap", float(gap))
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
    if integer:
        lp.integrality_ = [highspy.HighsVarType(int(v)) for v in model.integrality]
    h.passModel(lp)
    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = list(start)
        h.setSolution(sol)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    info = h.getInfo()
    if info.primal_solution_status != 2:  # kSolutionStatusFeasible
        return status, float("inf"), None
    x = np.asarray(h.getSolution().col_value)
    return status, float(model.col_cost @ x), x


def decode(
    model: HorizonModel, x: np.ndarray, *, status: str, mip_gap: float | None, solve_time_s: float
) -> HorizonPlan:
    p = model.problem
    sc, grid, offs, n = p.scenario, p.grid, p.offs, p.grid.n
    # spend and rented GPUs per provider and period, straight from the entries the rows were built from
    spend = np.zeros((len(p.provider_names), n))
    c, t, prov, usd = model.spend
    np.add.at(spend, (prov, t), usd * x[c])
    gpus = np.zeros((len(p.provider_names), n))
    c, t, off, g = model.rented
    np.add.at(gpus, (offs.provider[off], t), g * x[c])
    used = sorted(set(np.flatnonzero(spend.sum(axis=1) > 1e-6)) | set(np.flatnonzero(gpus.sum(axis=1) > 1e-9)))
    tc = p.train
    spend_of_x: defaultdict[int, float] = defaultdict(float)
    xs = model.blocks["x"].start
    for cc, uu in zip(model.spend[0], model.spend[3], strict=True):
        if model.blocks["x"].start <= cc < model.blocks["x"].stop:
            spend_of_x[int(cc - xs)] += uu
    training = []
    for k in np.flatnonzero(x[model.blocks["x"]] > 0.5):
        o = tc.off[k]
        training.append(
            TrainingRun(
                job_id=sc.training_jobs[tc.job[k]].id,
                offering_id=offs.ids[o],
                provider=p.provider_names[offs.provider[o]],
                tier=TIER_NAMES[tc.tier[k]],
                start_period=int(tc.start[k]),
                periods=int(tc.periods[k]),
                gpus=int(tc.gpus[k]),
                nominal_hours=float(tc.nominal_hours[k]),
                expected_hours=float(tc.expected_hours[k]),
                cost_usd=float(spend_of_x[int(k)] - tc.egress_usd[k]) if tc.tier[k] != COMMITTED else 0.0,
                egress_usd=float(tc.egress_usd[k]),
            )
        )
    inf = p.inf
    u = np.rint(x[model.blocks.get("u", slice(0, 0))]).reshape(-1, n) if len(inf.v_svc) else np.zeros((0, n))
    inference = []
    for v, tt in zip(*np.nonzero(u > 0), strict=True):
        o, units = inf.v_off[v], int(u[v, tt])
        od = inf.v_tier[v] == 0
        inference.append(
            InferenceRental(
                service_id=sc.inference_services[inf.v_svc[v]].id,
                offering_id=offs.ids[o],
                provider=p.provider_names[offs.provider[o]],
                tier="on_demand" if od else "committed",
                period=int(tt),
                units=units,
                replicas=int(units * inf.v_replicas[v]),
                gpus=int(units * inf.v_gpus[v]),
                cost_usd=float(units * inf.v_gpus[v] * grid.hours * offs.usd_per_gpu_hour[o, 0, tt]) if od else 0.0,
            )
        )
    commitments = _signed(model, x)
    disc = float(np.sum(spend * grid.discount[None, :]))
    return HorizonPlan(
        scenario=sc.name,
        status=status,
        periods=tuple(d.isoformat() for d in grid.start_dates),
        period_hours=grid.hours,
        objective_usd=disc,
        total_usd=float(spend.sum()),
        mip_gap=mip_gap,
        solve_time_s=solve_time_s,
        num_cols=int(model.matrix.shape[1]),
        num_rows=int(model.matrix.shape[0]),
        training=tuple(sorted(training, key=lambda r: r.job_id)),
        inference=tuple(sorted(inference, key=lambda r: (r.period, r.service_id, r.offering_id, r.tier))),
        commitments=commitments,
        spend_usd_by_provider={p.provider_names[i]: tuple(map(float, spend[i])) for i in used},
        gpus_by_provider={p.provider_names[i]: tuple(map(float, gpus[i])) for i in used},
        egress_usd=float(sum(r.egress_usd for r in training)),
    )


def _signed(model: HorizonModel, x: np.ndarray) -> tuple[SignedCommitment, ...]:
    p = model.problem
    if "n" not in model.blocks:
        return ()
    n_val = np.rint(x[model.blocks["n"]])
    used_at = _committed_use(model, x, n_val)
    out = []
    c, usd = model.spend[0], model.spend[3]
    paid: defaultdict[int, float] = defaultdict(float)
    for cc, uu in zip(c, usd, strict=True):
        paid[int(cc)] += uu * x[cc]
    n0, e0 = model.blocks["n"].start, model.blocks["e"].start
    for i in np.flatnonzero(n_val > 0):
        k, s = model.ks_k[i], model.ks_s[i]
        opt = p.commits.options[k]
        o = p.commits.offering[k]
        gpi = int(p.offs.gpus_per_instance[o])
        terms = np.flatnonzero(model.kst == i)
        used = float(used_at[i].sum())
        committed = float(n_val[i] * gpi * opt.term_periods)
        out.append(
            SignedCommitment(
                option_id=opt.id,
                offering_id=p.offs.ids[o],
                provider=p.provider_names[p.offs.provider[o]],
                start_period=int(s),
                term_periods=opt.term_periods,
                gpus=whole(n_val[i] * gpi),
                paid_usd=paid[n0 + int(i)] + sum(paid[e0 + int(j)] for j in terms),
                used_gpu_periods=used,
                utilization=used / committed if committed else 0.0,
            )
        )
    return tuple(out)


def _committed_use(model: HorizonModel, x: np.ndarray, n_val: np.ndarray) -> np.ndarray:
    """GPUs actually drawn from each signed commitment per period [decision, period]: the pool's draw at
    (offering, period), shared among the commitments active there in proportion to their size."""
    p = model.problem
    n = p.grid.n
    c, t, off, g = model.pool
    draw = np.zeros((len(p.offs.ids), n))
    pos = g > 0
    np.add.at(draw, (off[pos], t[pos]), g[pos] * x[c[pos]])
    size = np.zeros((len(model.ks_k), n))
    gpi = p.offs.gpus_per_instance[p.commits.offering[model.ks_k]]
    size[model.kst, model.kst_t] = (n_val * gpi)[model.kst]
    o_of = p.commits.offering[model.ks_k]
    total = np.zeros((len(p.offs.ids), n))
    np.add.at(total, o_of, size)
    share = np.divide(size, total[o_of], out=np.zeros_like(size), where=total[o_of] > 0)
    return np.asarray(share * draw[o_of])
