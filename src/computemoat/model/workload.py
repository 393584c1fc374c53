"""What the tenant wants to run: user regions, training jobs, inference services."""

from __future__ import annotations

from pydantic import Field, model_validator

from computemoat.model.base import Frozen


class UserRegion(Frozen):
    """A population of users at a point; weight splits a service's total demand."""

    name: str = Field(min_length=1)
    lat_deg: float = Field(ge=-90, le=90)
    lon_deg: float = Field(ge=-180, le=180)
    country_iso2: str = Field(default="", max_length=2)
    weight: float = Field(default=1.0, gt=0, description="share of demand, e.g. population")
    source: str = ""


class PlacementRules(Frozen):
    """Which providers and jurisdictions a workload may use (empty allowed_* = any)."""

    allowed_providers: tuple[str, ...] = ()
    excluded_providers: tuple[str, ...] = ()
    allowed_jurisdictions: tuple[str, ...] = ()
    excluded_jurisdictions: tuple[str, ...] = ()


class TrainingJob(PlacementRules):
    """A gang-scheduled job: all GPUs at one site, one accelerator class, for a number of hours."""

    id: str = Field(min_length=1)
    accelerators: tuple[str, ...] = Field(min_length=1, description="acceptable accelerator classes")
    gpus: int = Field(gt=0)
    hours: float = Field(gt=0, description="wall-clock hours the job runs")
    deadline_hours: float | None = Field(default=None, gt=0, description="must finish within, from start")
    spot_allowed: bool = False
    reserved_allowed: bool = True
    checkpoint_write_s: float = Field(default=300.0, gt=0, description="time to write one checkpoint")
    checkpoint_size_gb: float = Field(default=1000.0, ge=0, description="moved on migration (egress)")

    @model_validator(mode="after")
    def _fits_deadline(self) -> TrainingJob:
        if self.deadline_hours is not None and self.hours > self.deadline_hours:
            raise ValueError(f"hours {self.hours} exceed deadline_hours {self.deadline_hours}")
        return self


class InferenceService(PlacementRules):
    """A model served to user regions within a latency SLO, surviving the loss of any k providers."""

    id: str = Field(min_length=1)
    model: str = Field(min_length=1, description="model name clients ask for, e.g. llama-3.1-70b")
    accelerators: tuple[str, ...] = Field(min_length=1)
    gpus_per_replica: int = Field(default=1, gt=0)
    rps_per_replica: float = Field(gt=0, description="requests/s one replica sustains")
    demand_rps: dict[str, float] | None = Field(default=None, description="requests/s per user region")
    total_demand_rps: float | None = Field(default=None, gt=0, description="split over regions by weight")
    latency_slo_ms: float = Field(gt=0, description="max network RTT user -> site")
    redundancy_k: int = Field(default=0, ge=0, le=3, description="survive the loss of any k providers")
    min_replicas: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _one_demand(self) -> InferenceService:
        if (self.demand_rps is None) == (self.total_demand_rps is None):
            raise ValueError("give exactly one of demand_rps (per region) or total_demand_rps")
        if self.demand_rps is not None:
            bad = [r for r, v in self.demand_rps.items() if v < 0]
            if bad:
                raise ValueError(f"negative demand for {bad}")
        return self
