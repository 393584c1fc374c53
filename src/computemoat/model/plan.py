"""A plan: where each workload runs, what it costs, and how the solver got there."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from computemoat.model.base import Frozen
from computemoat.model.provider import Tier


class PlanStatus(StrEnum):
    """How a plan came to be: solved to the gap, stopped by the time limit, the greedy baseline, or a
    partial re-plan that leaves workloads (listed in ``Plan.unplaced``) out or degraded."""

    optimal = "optimal"
    time_limit = "feasible (time limit)"
    greedy = "greedy"
    partial = "partial"
    hand_built = "hand-built"  # written by hand or by another tool (tests, benches)


class TrainingPlacement(Frozen):
    job_id: str
    offering_id: str
    site_id: str
    provider: str
    tier: Tier
    gpus: int = Field(gt=0)
    cost_usd: float = Field(ge=0, description="whole job: GPUs x expected hours x price (+ energy)")
    nominal_hours: float | None = Field(default=None, gt=0, description="the job's hours of work")
    expected_hours: float | None = Field(
        default=None, gt=0, description="expected wall-clock hours with failures, restarts and preemptions"
    )

    @property
    def usd_per_hour(self) -> float:
        """What the placement costs per wall-clock hour it holds its GPUs."""
        hours = self.expected_hours or self.nominal_hours
        return self.cost_usd / hours if hours else 0.0


class InferencePlacement(Frozen):
    service_id: str
    offering_id: str
    site_id: str
    provider: str
    tier: Tier = Tier.on_demand
    replicas: int = Field(gt=0)
    gpus: int = Field(gt=0, description="GPUs rented: instances x GPUs per instance")
    instances: int | None = Field(default=None, gt=0, description="whole instances the replicas pack into")
    cost_usd: float = Field(ge=0, description="instances x GPUs per instance x price over the horizon")


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
    status: PlanStatus
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
