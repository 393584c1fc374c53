"""A plan: where each workload runs, what it costs, and how the solver got there."""

from __future__ import annotations

from pydantic import Field

from computemoat.model.base import Frozen
from computemoat.model.provider import Tier


class TrainingPlacement(Frozen):
    job_id: str
    offering_id: str
    site_id: str
    provider: str
    tier: Tier
    gpus: int = Field(gt=0)
    cost_usd: float = Field(ge=0, description="whole job: GPUs x hours x price (+ energy)")


class InferencePlacement(Frozen):
    service_id: str
    offering_id: str
    site_id: str
    provider: str
    tier: Tier = Tier.on_demand
    replicas: int = Field(gt=0)
    gpus: int = Field(gt=0)
    cost_usd: float = Field(ge=0, description="over the scenario horizon")


class Assignment(Frozen):
    """Demand of one user region of one service sent to one site when nothing has failed."""

    service_id: str
    region: str
    site_id: str
    rps: float = Field(ge=0)
    rtt_ms: float = Field(ge=0)


class ScenarioSource(Frozen):
    """The scenario file a plan was made from, so later commands can find it (and notice an edit)."""

    path: str = Field(description="absolute path of the scenario YAML")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the file's bytes when planned")


class Plan(Frozen):
    scenario: str
    scenario_source: ScenarioSource | None = Field(
        default=None, description="the YAML file the plan was made from (None: bundled default or built in code)"
    )
    status: str = Field(description="optimal | feasible (time limit) | greedy")
    total_cost_usd: float = Field(ge=0)
    mip_gap: float | None = None
    solve_time_s: float | None = None
    training: tuple[TrainingPlacement, ...] = ()
    inference: tuple[InferencePlacement, ...] = ()
    assignments: tuple[Assignment, ...] = ()
    notes: tuple[str, ...] = ()
    unplaced: tuple[str, ...] = Field(
        default=(), description="workloads a partial re-plan could not (fully) place; reasons in notes"
    )

    def placements(self) -> tuple[TrainingPlacement | InferencePlacement, ...]:
        return (*self.training, *self.inference)

    def cost_by_provider(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for p in self.placements():
            out[p.provider] = out.get(p.provider, 0.0) + p.cost_usd
        return out

    def gpus_by_provider(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.placements():
            out[p.provider] = out.get(p.provider, 0) + p.gpus
        return out
