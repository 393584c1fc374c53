r"""The placement MILP, built from the arrays of :mod:`computemoat.planner.flatten`.

Sets
    J training jobs; C training candidates c = (job, offering o(c), tier) whose expected wall-clock
    hours meet the job's deadline; O offerings; S services; V replica variables v = (service, offering);
    D demand rows d = (service, region); F failure sets f of a service (f = {} plus every set of k
    providers that can serve it); A assignments a = (d, site, f) with RTT <= SLO, residency allowed,
    site not in f; P providers; W sites with a power cap.

Variables (column blocks of :class:`columns.Block`)
    x_c in {0,1}       job placed on candidate c           (gang: all its GPUs at one offering)
    y_v in Z+          replicas of a service at an offering
    n_v in Z+          whole instances of v, for offerings where several replicas share an instance
                       (rpi_v = floor(gpi / gpr) > 1); elsewhere instances = ipr_v y_v with
                       ipr_v = ceil(gpr / gpi) (a replica spanning whole instances) and no column
    z_a >= 0           requests/s of a demand row served by a site while failure set f is down
    T, G >= 0          total spend (USD) and total GPUs rented, so the share caps are linear
    s_j in {0,1}       (partial plans) job j is not placed, paying the unplaced penalty P
    w_df >= 0          (partial plans) rps of demand row d not served under f, paying P / rps_per_replica
    m_v in {0,1}       (replan, second stage) the replicas at v differ from the current plan

Objective (first stage, and every plan)
    min sum_c cost_c x_c + sum_v inst_cost_v (instances of v) [+ P sum_j s_j + sum_df P/rpr w_df]
    cost_c = GPUs rented x expected wall-clock hours x ($/GPU-h(tier) x multiplier + energy): the GPUs
    are paid while lost work is redone (reliability.job_reliability, the simulator's model);
    inst_cost_v = GPUs per instance x horizon_hours x (on-demand $/GPU-h x multiplier + energy),
    times (1 + 1e-7 x the demand-weighted RTT in ms from the service's regions to the site), so that
    of two sites at the same price the nearer one is chosen (the share caps use the real cost).
    Which region's traffic goes to which site is decided after the MILP (route.py: min rps x RTT
    over the nominal routes, replicas fixed); the MILP's demand keys merge regions that reach the
    same sites, which is exact for feasibility and cost.
    Replan's second stage: min (jobs moved or re-tiered) + sum_v m_v subject to [budget].

Constraints (row names in brackets)
    [assign_job]     sum_{c in j} x_c (+ s_j) = 1
    [capacity]       GPUs rented at offering o (jobs' whole instances + gpi x instances) <= capacity_o
    [power]          sum over the site's GPUs rented x board_W x PUE / 1e6 <= power_capacity_mw
    [pack]           0 <= rpi_v n_v - y_v <= rpi_v - 1        (whole instances, none of them empty)
    [demand]         sum_{a in (d, f)} z_a (+ w_df) = rps_d              for every d and f of its service
    [serve]          sum_{a in (s, site, f)} z_a <= rps_per_replica x sum_{v: s, site(v)=site} y_v
    [cover]          surviving replicas of s under f >= ceil(sum_r rps_{s,r} / rps_per_replica)   (valid cut)
    [region_cover]   the same per (d, f) over the sites serving d under f                        (valid cut)
    [instance_cover] instances (n, or y where a replica fills >= 1 instance) of survivors of f
                     >= ceil(ceil(demand / rpr) / max rpi): the LP's fractional instances, rounded (valid cut)
    [min_replicas]   sum_{v in s} y_v >= min_replicas_s
    [replica_bound]  sum_{v in s} y_v <= U_s = max(min_replicas, (1 + k_s) sum_r ceil(rps_{s,r} / rpr_s))
                     only when a share cap is set: the anti-dilution rule (a cap is met by moving real
                     work, never by buying idle replicas elsewhere to grow the total); the validator
                     checks the same bound, and T, G are the plan's real totals.
    [total_spend]    T = real spend;  [spend_cap] spend_p - cap_spend T <= 0
    [total_gpus]     G = real GPUs;   [gpus_cap]  gpus_p  - cap_gpus  G <= 0
    [changed]        y_v - old_v <= M_v m_v,  old_v - y_v <= old_v m_v                 (replan stage 2)
    [budget]         first-stage objective <= (1 + tolerance) x first-stage cost       (replan stage 2)

Size: columns ~ |C| + |V| + |A|, with |A| = sum_s regions_s x sites_s x (1 + C(P_s, k_s)).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import scipy.sparse as sp

from computemoat.planner import families as fam
from computemoat.planner.columns import Block, Columns
from computemoat.planner.families import MoveSpec, Rented
from computemoat.planner.flatten import (
    TIERS,
    FlatProblem,
    caps_set,
    demand_keys,
    fail_label,
    key_label,
    key_of_assignment,
)
from computemoat.planner.rows import Rows


class Objective(StrEnum):
    cost = "cost"
    moves = "moves"


@dataclass(frozen=True)
class MilpModel:
    """A model ready for HiGHS: CSC matrix, bounds, and where each block of columns and rows lives."""

    col_cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integrality: np.ndarray  # 0 continuous, 1 integer
    matrix: sp.csc_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    columns: Columns
    row_names: list[str]
    rows: dict[str, slice]  # one entry per bracketed constraint family
    col_group: np.ndarray  # job index of each x and s column, -1 for every other column
    svc_group: np.ndarray  # service index of each y, n and z column, -1 for every other column
    n_of: np.ndarray  # replica variable of each n column
    w_dem: np.ndarray  # demand row d of each w column (slack only)
    w_fail: np.ndarray  # failure set f of each w column (slack only)
    plan_cost: np.ndarray  # real cost of every column (no penalties, no move counts)
    bound_cost: np.ndarray | None = None  # the LP relaxation's objective (col_cost at real prices)

    @property
    def cols(self) -> dict[Block, slice]:
        return {b: self.columns[b] for b in Block}

    @property
    def col_names(self) -> list[str]:
        return self.columns.names()


def unplaced_penalty(flat: FlatProblem) -> float:
    """P: 100 x the dearest single candidate (job placement or instance), at least $1M."""
    dearest = max(float(flat.t_cost_usd.max(initial=0.0)), float(flat.r_cost_usd_per_instance.max(initial=0.0)))
    return 100.0 * max(dearest, 1e4)


def build(
    flat: FlatProblem,
    *,
    unplaced_penalty_usd: float | None = None,
    moves: MoveSpec | None = None,
    objective: Objective = Objective.cost,
    anti_dilution: bool = True,
) -> MilpModel:
    """Assemble the MILP above; ``unplaced_penalty_usd`` adds the slack blocks s and w (partial
    plans); ``moves`` with ``objective=moves`` is replan's second stage; ``anti_dilution=False``
    drops [replica_bound] (only to tell the user that only idle capacity could meet a cap)."""
    cols = Columns()
    replica_usd = _replica_costs(flat)
    rented = _add_placement_columns(flat, cols, replica_usd)
    _add_slack_and_totals(flat, cols, unplaced_penalty_usd)
    rows = Rows()
    ctx = fam.Context(flat, cols, rows, rented, anti_dilution)
    for family in (
        fam.assign_job,
        fam.capacity,
        fam.power,
        fam.pack,
        fam.demand,
        fam.serve,
        fam.cover,
        fam.instance_cover,
        fam.region_cover,
        fam.min_replicas,
        fam.replica_bound,
        fam.share_caps,
    ):
        family(ctx)
    stage1 = cols.arrays()[0]
    if moves is not None and objective == Objective.moves:
        assert moves.budget_usd is not None
        fam.changed(ctx, moves)
        fam.budget(ctx, stage1, moves.budget_usd)
    cost, lower, upper, integrality = cols.arrays()
    if moves is not None and moves.slack_upper is not None:
        # stage 2 may not leave out more than stage 1 did (the budget alone would let it trade a
        # sliver of unserved demand for a move)
        sl = np.r_[cols.idx(Block.s), cols.idx(Block.w)]
        upper[sl] = np.maximum(lower[sl], np.minimum(upper[sl], moves.slack_upper))
    if objective == Objective.moves:
        assert moves is not None
        cost = np.zeros(cols.n)
        cost[cols[Block.x]] = -moves.x_current.astype(float)
        cost[cols[Block.m]] = 1.0
        cost[cols[Block.s]] = 1.0  # an unplaced job is a move too (forced ones are constant)
    plan_cost = np.zeros(cols.n)
    plan_cost[: len(stage1)] = _at_real_prices(stage1, cols, replica_usd)
    plan_cost[cols[Block.s]] = 0.0
    plan_cost[cols[Block.w]] = 0.0
    # the LP bound on real prices: the nearer-site factor only breaks ties, and in the LP it cost 20%
    # more simplex pivots
    bound_cost = _at_real_prices(cost, cols, replica_usd) if objective == Objective.cost else cost
    model = _finish(flat, cols, rows, cost, lower, upper, integrality, plan_cost, rented)
    return dataclasses.replace(model, bound_cost=bound_cost)


def _replica_costs(flat: FlatProblem) -> tuple[np.ndarray, np.ndarray]:
    """Real USD per unit of the y columns (0 where instances are counted by n) and of the n columns."""
    shared = flat.r_replicas_per_instance > 1
    y_usd = np.where(shared, 0.0, flat.r_instances_per_replica * flat.r_cost_usd_per_instance)
    return y_usd, flat.r_cost_usd_per_instance[shared]


def _at_real_prices(cost: np.ndarray, cols: Columns, replica_usd: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """``cost`` with the y and n columns at their real prices (no nearer-site factor)."""
    out = cost.copy()
    out[cols[Block.y]], out[cols[Block.n]] = replica_usd
    return out


NEARER_SITE_PER_MS = 1e-7  # relative cost per ms of RTT: $0.01 per ms on a $100k replica


def _served_rtt_ms(flat: FlatProblem) -> np.ndarray:
    """Per replica variable: the demand-weighted mean RTT from its service's regions that may use its
    site (nominal routes). A tie-breaker only: between two sites at the same price the MILP would
    otherwise pick either, and traffic can only be routed to where the replicas are."""
    ns = len(flat.site_ids)
    key = flat.d_svc[flat.route_dem] * ns + flat.route_site
    w = flat.d_rps[flat.route_dem]
    size = len(flat.service_ids) * ns
    num = np.bincount(key, weights=w * flat.route_rtt_ms, minlength=size)
    den = np.bincount(key, weights=w, minlength=size)
    v_key = flat.r_svc * ns + flat.off_site[flat.r_off]
    out: np.ndarray = np.where(den[v_key] > 0, num[v_key] / np.maximum(den[v_key], 1e-12), 0.0)
    return out


def _add_placement_columns(flat: FlatProblem, cols: Columns, replica_usd: tuple[np.ndarray, np.ndarray]) -> Rented:
    """x, y, n and z blocks; returns the GPU-renting columns for capacity, power and the caps
    (priced at ``replica_usd``, the real prices; the objective adds the nearer-site factor)."""
    nx, ny = len(flat.t_job), len(flat.r_svc)
    x = cols.add(Block.x, nx, lambda: _x_names(flat), cost=flat.t_cost_usd, upper=1.0, integer=True)
    shared = flat.r_replicas_per_instance > 1
    gpi = flat.off_gpus_per_instance[flat.r_off]
    near = 1.0 + NEARER_SITE_PER_MS * _served_rtt_ms(flat)  # equal prices: the nearer site wins
    y_cost, n_cost = replica_usd
    inst_cap = np.floor(flat.off_capacity_gpus[flat.r_off] / gpi)
    y_upper = np.floor(inst_cap * flat.r_replicas_per_instance / flat.r_instances_per_replica)
    y = cols.add(
        Block.y,
        ny,
        lambda: [f"y[{_y_name(flat, v)}]" for v in range(ny)],
        cost=y_cost * near,
        upper=y_upper,
        integer=True,
    )
    n_of = np.flatnonzero(shared)
    n = cols.add(
        Block.n,
        len(n_of),
        lambda: [f"n[{_y_name(flat, int(v))}]" for v in n_of],
        cost=n_cost * near[n_of],
        upper=inst_cap[n_of],
        integer=True,
    )
    cols.add(Block.z, len(flat.a_dem), lambda: _z_names(flat), upper=flat.key_rps[key_of_assignment(flat)])
    whole = np.flatnonzero(~shared)
    return Rented(
        cols=np.concatenate([x, y[whole], n]),
        off=np.concatenate([flat.t_off, flat.r_off[whole], flat.r_off[n_of]]),
        gpus=np.concatenate([flat.t_gpus, (flat.r_instances_per_replica * gpi)[whole], gpi[n_of]]),
        cost=np.concatenate([flat.t_cost_usd, y_cost[whole], n_cost]),
    )


def _add_slack_and_totals(flat: FlatProblem, cols: Columns, penalty: float | None) -> None:
    """T and G (when a cap is set), and the s / w slack blocks of partial plans."""
    if caps_set(flat.scenario):
        cols.add(Block.T, 1, lambda: ["total_spend_usd"])
        cols.add(Block.G, 1, lambda: ["total_gpus"])
    if penalty is None:
        return
    nj = len(flat.job_ids)
    forced_s = ~np.isin(np.arange(nj), flat.t_job)
    # Forced slack (a job with no candidate, a demand row with no site under f) is fixed and free: a
    # constant P in the objective would swamp the relative MIP gap.
    cols.add(
        Block.s,
        nj,
        lambda: [f"unplaced[{j}]" for j in flat.job_ids],
        cost=np.where(forced_s, 0.0, penalty),
        lower=forced_s.astype(float),
        upper=1.0,
        integer=True,
    )
    dkeys = demand_keys(flat)
    nf = max(1, len(flat.f_failed))
    w_dem = dkeys // nf
    svc_rps = np.array([s.rps_per_replica for s in flat.scenario.inference_services], dtype=float)
    forced_w = ~np.isin(dkeys, flat.a_dem * nf + flat.a_fail)
    rps = flat.key_rps
    cols.add(
        Block.w,
        len(dkeys),
        lambda: [f"unserved[{key_label(flat, k)}]" for k in range(len(dkeys))],
        cost=np.where(forced_w, 0.0, penalty / svc_rps[flat.d_svc[w_dem]]) if len(dkeys) else 0.0,
        lower=np.where(forced_w, rps, 0.0),
        upper=rps,
    )


def _finish(
    flat: FlatProblem,
    cols: Columns,
    rows: Rows,
    cost: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    integrality: np.ndarray,
    plan_cost: np.ndarray,
    rented: Rented,
) -> MilpModel:
    def cat(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(0)

    matrix = sp.csc_matrix((cat(rows.v), (cat(rows.r), cat(rows.c))), shape=(rows.n, cols.n))
    group = np.full(cols.n, -1, dtype=np.int64)
    group[cols[Block.x]] = flat.t_job
    group[cols[Block.s]] = np.arange(cols[Block.s].stop - cols[Block.s].start)
    svc = np.full(cols.n, -1, dtype=np.int64)
    svc[cols[Block.y]] = flat.r_svc
    svc[cols[Block.n]] = flat.r_svc[flat.r_replicas_per_instance > 1]
    svc[cols[Block.z]] = flat.d_svc[flat.a_dem]
    dkeys = demand_keys(flat)
    nf = max(1, len(flat.f_failed))
    has_w = cols[Block.w].stop > cols[Block.w].start
    return MilpModel(
        col_cost=cost,
        col_lower=lower,
        col_upper=upper,
        integrality=integrality,
        matrix=matrix,
        row_lower=cat(rows.lo),
        row_upper=cat(rows.hi),
        columns=cols,
        row_names=rows.names,
        rows=rows.groups,
        col_group=group,
        svc_group=svc,
        n_of=np.flatnonzero(flat.r_replicas_per_instance > 1),
        w_dem=dkeys // nf if has_w else np.zeros(0, np.int64),
        w_fail=dkeys % nf if has_w else np.zeros(0, np.int64),
        plan_cost=plan_cost,
    )


def _y_name(flat: FlatProblem, v: int) -> str:
    return f"{flat.service_ids[flat.r_svc[v]]}|{flat.offering_ids[flat.r_off[v]]}"


def _x_names(flat: FlatProblem) -> list[str]:
    return [
        f"x[{flat.job_ids[j]}|{flat.offering_ids[o]}|{TIERS[t].value}]"
        for j, o, t in zip(flat.t_job, flat.t_off, flat.t_tier, strict=True)
    ]


def _z_names(flat: FlatProblem) -> list[str]:
    return [
        f"z[{flat.service_ids[flat.d_svc[d]]}|{flat.region_names[flat.d_region[d]]}|{flat.site_ids[s]}|"
        f"{fail_label(flat, f)}]"
        for d, s, f in zip(flat.a_dem, flat.a_site, flat.a_fail, strict=True)
    ]
