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
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from computemoat.model import Plan, Scenario, UserError
from computemoat.planner.flatten import flatten
from computemoat.planner.solve import Unplaced, solve_flat

DEFAULT_MOVE_PENALTY_SHARE = 0.10


@dataclass(frozen=True)
class Change:
    withdraw_providers: tuple[str, ...] = ()
    capacity_factor: Mapping[str, float] = field(default_factory=dict)  # offering id -> x capacity_gpus
    price_factor: Mapping[str, float] = field(default_factory=dict)  # provider -> x its prices


@dataclass(frozen=True)
class Move:
    workload_id: str
    kind: str  # "training" | "inference"
    from_offering: str | None
    to_offering: str | None


@dataclass(frozen=True)
class ReplanResult:
    plan: Plan
    scenario: Scenario  # the scenario after the change
    moves: tuple[Move, ...]
    unplaced: tuple[Unplaced, ...] = ()  # workloads not (fully) placed after the change, with reasons


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
    move_penalty_usd: float | None = None,
    time_limit_s: float = 30,
    allow_unplaced: bool = True,
) -> ReplanResult:
    """A new plan for the changed scenario that keeps workloads where they are unless moving pays.
    With ``allow_unplaced`` what cannot be placed any more is reported in ``unplaced`` (and in
    ``plan.unplaced``) instead of raising ``InfeasibleError``."""
    t0 = time.perf_counter()
    changed = apply_change(scenario, change)
    flat = flatten(changed, rtt_ms, allow_unplaced=allow_unplaced)
    providers = {p.name: p for p in scenario.providers}
    jobs = {j.id: j for j in scenario.training_jobs}
    old_train = {p.job_id: p for p in plan.training}
    penalty_x = np.zeros(len(flat.t_job))
    for j, job_id in enumerate(flat.job_ids):
        old = old_train.get(job_id)
        if old is None:
            continue
        if move_penalty_usd is not None:
            pen = move_penalty_usd
        else:
            egress = jobs[job_id].checkpoint_size_gb * providers[old.provider].egress_usd_per_gb
            pen = DEFAULT_MOVE_PENALTY_SHARE * old.cost_usd + egress
        mask = (flat.t_job == j) & (np.asarray(flat.offering_ids, dtype=object)[flat.t_off] != old.offering_id)
        penalty_x[mask] = pen
    old_inf: dict[str, dict[str, float]] = defaultdict(dict)
    for p in plan.inference:
        old_inf[p.service_id][p.offering_id] = p.cost_usd
    penalty_y = np.zeros(len(flat.r_svc))
    for v in range(len(flat.r_svc)):
        placed = old_inf.get(flat.service_ids[flat.r_svc[v]])
        if not placed or flat.offering_ids[flat.r_off[v]] in placed:
            continue
        penalty_y[v] = (
            move_penalty_usd
            if move_penalty_usd is not None
            else DEFAULT_MOVE_PENALTY_SHARE * sum(placed.values()) / len(placed)
        )
    result = solve_flat(
        flat,
        time_limit_s=time_limit_s,
        mip_gap=0.01,
        t0=t0,
        extra_cost_x=penalty_x,
        new_placement_penalty_usd=penalty_y,
        allow_unplaced=allow_unplaced,
    )
    return ReplanResult(
        plan=result.plan, scenario=changed, moves=diff_plans(plan, result.plan), unplaced=result.unplaced
    )


def diff_plans(old: Plan, new: Plan) -> tuple[Move, ...]:
    """Workloads whose offering changed: a job moved, or a service gained/lost an offering."""
    moves: list[Move] = []
    old_t = {p.job_id: p.offering_id for p in old.training}
    new_t = {p.job_id: p.offering_id for p in new.training}
    for job_id in sorted(old_t.keys() | new_t.keys()):
        a, b = old_t.get(job_id), new_t.get(job_id)
        if a != b:
            moves.append(Move(job_id, "training", a, b))
    old_i: dict[str, set[str]] = defaultdict(set)
    new_i: dict[str, set[str]] = defaultdict(set)
    for p in old.inference:
        old_i[p.service_id].add(p.offering_id)
    for p in new.inference:
        new_i[p.service_id].add(p.offering_id)
    for svc in sorted(old_i.keys() | new_i.keys()):
        gone, added = sorted(old_i[svc] - new_i[svc]), sorted(new_i[svc] - old_i[svc])
        for k in range(max(len(gone), len(added))):
            moves.append(
                Move(svc, "inference", gone[k] if k < len(gone) else None, added[k] if k < len(added) else None)
            )
    return tuple(moves)
