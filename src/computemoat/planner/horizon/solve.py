"""Solve the multi-period MILP with HiGHS and decode the answer into a :class:`HorizonPlan`."""

from __future__ import annotations

import dataclasses
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from computemoat.model import InfeasibleError, Scenario, no_plan_in_time
from computemoat.planner.horizon.formulation import HorizonModel, build, whole
from computemoat.planner.horizon.highs import run_highs
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
        raise no_plan_in_time(name, time_limit_s, status)
    gap = None if bound is None else max(0.0, (objective - bound) / max(abs(objective), 1e-9))
    state = "optimal" if status == "Optimal" else "feasible (time limit)"
    plan = decode(model, x, status=state, mip_gap=gap, solve_time_s=time.perf_counter() - t0)
    return HorizonSolution(plan, model, x)


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
    commitments = _signed(model, x)
    training = []
    for k in np.flatnonzero(x[model.blocks["x"]] > 0.5):
        o = tc.off[k]
        cost = float(spend_of_x[int(k)] - tc.egress_usd[k]) if tc.tier[k] != COMMITTED else 0.0
        if tc.tier[k] == COMMITTED:
            rate = _term_price(commitments, offs.ids[o], int(tc.start[k]))
        else:
            rate = cost / (float(tc.gpus[k]) * float(tc.expected_hours[k]))
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
                cost_usd=cost,
                egress_usd=float(tc.egress_usd[k]),
                usd_per_gpu_hour=rate,
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


def _term_price(commitments: tuple[SignedCommitment, ...], offering_id: str, period: int) -> float:
    """Term price of the commitments at ``offering_id`` that cover ``period`` (GPU-weighted if several)."""
    on = [c for c in commitments if c.offering_id == offering_id and c.start_period <= period < c.start_period
          + c.term_periods]  # fmt: skip
    gpus = sum(c.gpus for c in on)
    return sum(c.gpus * c.usd_per_gpu_hour for c in on) / gpus if gpus else 0.0


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
                usd_per_gpu_hour=opt.usd_per_gpu_hour,
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
