"""Re-plan after a change (provider withdrawn, capacity cut, price change), moving as little as possible.

The MILP is the same; moving costs money and risk, so every training candidate off the job's current
offering and every new (service, offering) placement pays a move penalty in the objective. The
reported plan cost excludes the penalties. Default penalty per move: 10% of the workload's current
cost plus, for training, the egress of its checkpoint out of the current provider.

Partial replan (``allow_unplaced``, the default): a workload that cannot be placed after the change
(the 16,384-GPU job when the only site that large is withdrawn, a region whose only in-SLO
providers are gone) does not sink the whole replan. The MILP gets penalised slack — "job j not
placed", "w rps of region r not served under failure set f" — at a price far above any real cost
(:func:`milp.unplaced_penalty`), so slack is used only where nothing else is feasible; everything
else is replanned as usual and ``unplaced`` says what was left out and why.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np

from computemoat.model import InfeasibleError, Plan, Scenario, UserError
from computemoat.planner.columns import Block
from computemoat.planner.families import MoveSpec
from computemoat.planner.flatten import TIERS, FlatProblem, flatten
from computemoat.planner.milp import Objective, build
from computemoat.planner.solve import PlanResult, solve_flat, start_from_result
from computemoat.planner.unflatten import Unplaced, WorkloadKind
from computemoat.reliability import FaultModel

DEFAULT_COST_TOLERANCE = 0.005


@dataclass(frozen=True)
class Change:
    withdraw_providers: tuple[str, ...] = ()
    capacity_factor: Mapping[str, float] = field(default_factory=dict)  # offering id -> x capacity_gpus
    price_factor: Mapping[str, float] = field(default_factory=dict)  # provider -> x its prices


class MoveKind(StrEnum):
    moved = "moved"  # a job on another offering
    tier_change = "tier change"  # a job on the same offering, another tier
    unplaced = "unplaced"  # a job placed before and not now
    added = "added"  # a service at an offering it did not use
    removed = "removed"  # a service no longer at an offering
    scaled_up = "scaled up"
    scaled_down = "scaled down"


@dataclass(frozen=True)
class Move:
    workload_id: str
    kind: WorkloadKind
    from_offering: str | None
    to_offering: str | None
    change: MoveKind = MoveKind.moved
    from_replicas: int = 0
    to_replicas: int = 0


@dataclass(frozen=True)
class ReplanResult:
    plan: Plan
    scenario: Scenario  # the scenario after the change
    moves: tuple[Move, ...]
    unplaced: tuple[Unplaced, ...] = ()  # workloads not (fully) placed after the change, with reasons
    cost_tolerance: float = DEFAULT_COST_TOLERANCE
    cheapest_cost_usd: float | None = None  # the first (cost) solve's plan cost

    def like_for_like_usd(self, old: Plan) -> tuple[float, float]:
        """(old, new) cost of the workloads placed in full in both plans: a delta that compares like with like."""
        gone = set(self.plan.unplaced)
        keep_t = {p.job_id for p in self.plan.training} - gone
        keep_s = {p.service_id for p in self.plan.inference} - gone

        def cost(p: Plan) -> float:
            return sum(t.cost_usd for t in p.training if t.job_id in keep_t) + sum(
                i.cost_usd for i in p.inference if i.service_id in keep_s
            )

        return cost(old), cost(self.plan)


def apply_change(scenario: Scenario, change: Change) -> Scenario:
    """The scenario after ``change``: withdrawn providers are excluded by policy, capacities scaled
    down to whole instances (an offering at 0 disappears), the provider's list prices scaled."""
    known_p = {p.name for p in scenario.providers}
    known_o = {o.id for o in scenario.offerings}
    errors = [
        f"change: unknown provider {p!r}"
        for p in (*change.withdraw_providers, *change.price_factor)
        if p not in known_p
    ]
    errors += [f"change: unknown offering {o!r}" for o in change.capacity_factor if o not in known_o]
    errors += [
        f"change: factor for {k!r} must be >= 0, got {v}"
        for k, v in (*change.capacity_factor.items(), *change.price_factor.items())
        if v < 0
    ]
    errors += [f"change: price factor for {k!r} must be > 0" for k, v in change.price_factor.items() if v == 0]
    if errors:
        raise UserError(*errors)
    site_provider = {s.id: s.provider for s in scenario.sites}
    offerings = []
    for o in scenario.offerings:
        cap = o.capacity_gpus
        if o.id in change.capacity_factor:
            cap = int(cap * change.capacity_factor[o.id] // o.gpus_per_instance) * o.gpus_per_instance
            if cap <= 0:
                continue
        update: dict[str, object] = {"capacity_gpus": cap}
        f = change.price_factor.get(site_provider[o.site])
        if f is not None:
            for name in ("usd_per_gpu_hour_on_demand", "usd_per_gpu_hour_spot", "usd_per_gpu_hour_reserved"):
                if getattr(o, name) is not None:
                    update[name] = getattr(o, name) * f
        offerings.append(o.model_copy(update=update))
    excluded = tuple(dict.fromkeys((*scenario.policy.excluded_providers, *change.withdraw_providers)))
    return scenario.model_copy(
        update={
            "offerings": tuple(offerings),
            "policy": scenario.policy.model_copy(update={"excluded_providers": excluded}),
        }
    )


def replan(
    scenario: Scenario,
    plan: Plan,
    change: Change,
    rtt_ms: np.ndarray,
    *,
    time_limit_s: float = 30,
    allow_unplaced: bool = True,
    faults: FaultModel | None = None,
    cost_tolerance: float = DEFAULT_COST_TOLERANCE,
    move_penalty_usd: float | None = None,
) -> ReplanResult:
    """The fewest-moves plan among those within ``cost_tolerance`` of the cheapest for the changed
    scenario. With ``allow_unplaced`` what cannot be placed any more is reported in ``unplaced`` (and
    in ``plan.unplaced``) instead of raising ``InfeasibleError``. ``move_penalty_usd`` is ignored (moves
    are no longer priced: they are minimised within the cost tolerance); it stays so callers keep working."""
    del move_penalty_usd
    t0 = time.perf_counter()
    changed = apply_change(scenario, change)
    flat = flatten(changed, rtt_ms, allow_unplaced=allow_unplaced, faults=faults)
    first = solve_flat(
        flat, time_limit_s=time_limit_s * 0.6, mip_gap=cost_tolerance / 2, t0=t0, allow_unplaced=allow_unplaced
    )
    # the tolerance applies to the plan's real cost, not to any unplaced penalty in the objective
    spec = _move_spec(flat, plan, budget_usd=first.objective_usd + cost_tolerance * first.plan.total_cost_usd + 1e-6)
    m1 = first.model
    slack = np.r_[first.col_value[m1.columns[Block.s]], first.col_value[m1.columns[Block.w]]]
    spec = replace(spec, slack_upper=np.where(slack > 1e-6, slack, 0.0))
    result = first
    left = time_limit_s - (time.perf_counter() - t0)
    if left > 0.5:
        result = _fewest_moves(flat, first, spec, left, allow_unplaced)
    return ReplanResult(
        plan=result.plan,
        scenario=changed,
        moves=diff_plans(plan, result.plan),
        unplaced=result.unplaced,
        cost_tolerance=cost_tolerance,
        cheapest_cost_usd=first.plan.total_cost_usd,
    )


def _fewest_moves(flat: FlatProblem, first: PlanResult, spec: MoveSpec, left_s: float, partial: bool) -> PlanResult:
    """Second stage, started from the first stage's plan (feasible for it by construction)."""
    from computemoat.planner.milp import unplaced_penalty

    model = build(
        flat, unplaced_penalty_usd=unplaced_penalty(flat) if partial else None, moves=spec, objective=Objective.moves
    )
    start = start_from_result(first, model)
    y = np.rint(first.col_value[first.model.columns[Block.y]])
    start[model.columns[Block.m]] = (y != spec.y_current).astype(float)
    try:
        second = solve_flat(
            flat,
            time_limit_s=left_s,
            mip_gap=1e-9,
            allow_unplaced=partial,
            start=start,
            moves=spec,
            objective=Objective.moves,
        )
    except InfeasibleError:  # no incumbent in the time left: the first stage's plan stands
        return first
    return second


def _move_spec(flat: FlatProblem, plan: Plan, *, budget_usd: float) -> MoveSpec:
    """Where the current plan is, in the new model's candidates and replica variables."""
    old_t = {p.job_id: (p.offering_id, p.tier) for p in plan.training}
    x_current = np.array(
        [
            old_t.get(flat.job_ids[j]) == (flat.offering_ids[o], TIERS[t])
            for j, o, t in zip(flat.t_job, flat.t_off, flat.t_tier, strict=True)
        ],
        dtype=bool,
    )
    old_y = {(p.service_id, p.offering_id): p.replicas for p in plan.inference}
    y_current = np.array(
        [
            old_y.get((flat.service_ids[s], flat.offering_ids[o]), 0)
            for s, o in zip(flat.r_svc, flat.r_off, strict=True)
        ],
        dtype=float,
    )
    return MoveSpec(x_current=x_current, y_current=y_current, budget_usd=budget_usd)


def diff_plans(old: Plan, new: Plan) -> tuple[Move, ...]:
    """Every move from ``old`` to ``new``, counted as the model counts them (module docstring)."""
    moves: list[Move] = []
    old_t = {p.job_id: p for p in old.training}
    new_t = {p.job_id: p for p in new.training}
    for job_id in sorted(old_t.keys() | new_t.keys()):
        a, b = old_t.get(job_id), new_t.get(job_id)
        if a is not None and b is not None and (a.offering_id, a.tier) == (b.offering_id, b.tier):
            continue
        kind = (
            MoveKind.unplaced
            if b is None
            else MoveKind.added
            if a is None
            else (MoveKind.tier_change if a.offering_id == b.offering_id else MoveKind.moved)
        )
        moves.append(
            Move(job_id, WorkloadKind.training, a.offering_id if a else None, b.offering_id if b else None, kind)
        )
    old_i = {(p.service_id, p.offering_id): p.replicas for p in old.inference}
    new_i = {(p.service_id, p.offering_id): p.replicas for p in new.inference}
    for svc, off in sorted(old_i.keys() | new_i.keys()):
        a_n, b_n = old_i.get((svc, off), 0), new_i.get((svc, off), 0)
        if a_n == b_n:
            continue
        kind = (
            MoveKind.added
            if a_n == 0
            else MoveKind.removed
            if b_n == 0
            else MoveKind.scaled_up
            if b_n > a_n
            else MoveKind.scaled_down
        )
        moves.append(Move(svc, WorkloadKind.inference, off if a_n else None, off if b_n else None, kind, a_n, b_n))
    return tuple(moves)
