"""What moved between two plans (before/after a replan) and why, for the dashboard's replan page.

The moves are the planner's own (:func:`computemoat.planner.replan.diff_plans`); the reasons are read
from the plans and the scenario, most specific first: the workload could not be placed (the plan's
``unplaced: <id>: <reason>`` note), the old provider is blocked by policy, the old provider or
offering is no longer in the plan or the catalog, or the new place is cheaper per GPU."""

from __future__ import annotations

from dataclasses import dataclass, replace

from computemoat.model import PlacementRules, Plan, Scenario
from computemoat.planner.replan import diff_plans
from computemoat.planner.rules import provider_block_reason


@dataclass(frozen=True)
class MoveRow:
    workload_id: str
    kind: str
    from_offering: str | None
    to_offering: str | None
    from_provider: str | None
    to_provider: str | None
    gpus_before: int
    gpus_after: int
    cost_before_usd: float
    cost_after_usd: float
    why: str


@dataclass(frozen=True)
class ShareRow:
    provider: str
    spend_share_before: float
    spend_share_after: float
    gpu_share_before: float
    gpu_share_after: float


@dataclass(frozen=True)
class PlanDiff:
    cost_before_usd: float
    cost_after_usd: float
    moves: tuple[MoveRow, ...]
    shares: tuple[ShareRow, ...]
    unchanged: int  # workloads on the same offerings before and after
    unplaced: tuple[str, ...]

    @property
    def cost_delta_usd(self) -> float:
        return self.cost_after_usd - self.cost_before_usd


def _placed(plan: Plan) -> dict[tuple[str, str], tuple[str, str, int, float]]:
    """(workload, offering) -> (provider, kind, GPUs, cost)."""
    out: dict[tuple[str, str], tuple[str, str, int, float]] = {}
    for t in plan.training:
        out[(t.job_id, t.offering_id)] = (t.provider, "training", t.gpus, t.cost_usd)
    for i in plan.inference:
        out[(i.service_id, i.offering_id)] = (i.provider, "inference", i.gpus, i.cost_usd)
    return out


def _unplaced_reason(plan: Plan, workload_id: str) -> str | None:
    if workload_id not in plan.unplaced:
        return None
    prefix = f"unplaced: {workload_id}: "
    reasons = [n.removeprefix(prefix) for n in plan.notes if n.startswith(prefix)]
    return "not placed after the change: " + ("; ".join(reasons) if reasons else "no feasible place left")


def _provider_reason(scenario: Scenario, after: Plan, row: MoveRow) -> str | None:
    providers = {p.name: p for p in scenario.providers}
    old = providers.get(row.from_provider or "")
    blocked = provider_block_reason(scenario, PlacementRules(), old) if old is not None else None
    if blocked is not None:
        return blocked
    if row.from_provider not in after.cost_by_provider():
        return f"provider {row.from_provider} has no placement in the new plan (withdrawn or out of capacity)"
    if row.from_offering not in {o.id for o in scenario.offerings}:
        return f"offering {row.from_offering} is no longer in the catalog"
    return None


def _why(scenario: Scenario, after: Plan, row: MoveRow) -> str:
    """Why the workload left its old place (policy, provider gone, offering gone), plus what could
    not be placed after the change; failing those, price or the plan as a whole."""
    reasons = [r for r in (
        _provider_reason(scenario, after, row) if row.from_offering is not None else None,
        _unplaced_reason(after, row.workload_id),
    ) if r is not None]
    if reasons:
        return "; ".join(reasons)
    if row.from_offering is None:
        return f"added: {row.to_offering} takes over capacity or redundancy lost elsewhere"
    if row.to_offering is None:
        return f"dropped: the new plan serves {row.workload_id} without {row.from_offering}"
    per_gpu_before = row.cost_before_usd / row.gpus_before if row.gpus_before else 0.0
    per_gpu_after = row.cost_after_usd / row.gpus_after if row.gpus_after else 0.0
    if per_gpu_after < per_gpu_before:
        return f"cheaper per GPU: ${per_gpu_before:,.0f} -> ${per_gpu_after:,.0f} over the horizon"
    return "re-optimized: the new plan as a whole is cheaper or meets a cap/redundancy rule this way"


def _shares(before: Plan, after: Plan) -> tuple[ShareRow, ...]:
    def share(d: dict[str, float] | dict[str, int]) -> dict[str, float]:
        total = float(sum(d.values())) or 1.0
        return {k: v / total for k, v in d.items()}

    sb, sa = share(before.cost_by_provider()), share(after.cost_by_provider())
    gb, ga = share(before.gpus_by_provider()), share(after.gpus_by_provider())
    names = sorted(sb.keys() | sa.keys(), key=lambda n: -max(sb.get(n, 0.0), sa.get(n, 0.0)))
    return tuple(
        ShareRow(n, sb.get(n, 0.0), sa.get(n, 0.0), gb.get(n, 0.0), ga.get(n, 0.0)) for n in names
    )


def plan_diff(scenario: Scenario, before: Plan, after: Plan) -> PlanDiff:
    """Every move from ``before`` to ``after`` with its reason, the provider shares on both sides."""
    old, new = _placed(before), _placed(after)
    rows = []
    for m in diff_plans(before, after):
        a = old.get((m.workload_id, m.from_offering or ""))
        b = new.get((m.workload_id, m.to_offering or ""))
        row = MoveRow(
            workload_id=m.workload_id, kind=m.kind, from_offering=m.from_offering, to_offering=m.to_offering,
            from_provider=a[0] if a else None, to_provider=b[0] if b else None,
            gpus_before=a[2] if a else 0, gpus_after=b[2] if b else 0,
            cost_before_usd=a[3] if a else 0.0, cost_after_usd=b[3] if b else 0.0, why="",
        )
        rows.append(replace(row, why=_why(scenario, after, row)))
    return PlanDiff(
        cost_before_usd=before.total_cost_usd,
        cost_after_usd=after.total_cost_usd,
        moves=tuple(rows),
        shares=_shares(before, after),
        unchanged=len(old.keys() & new.keys()),
        unplaced=after.unplaced,
    )
