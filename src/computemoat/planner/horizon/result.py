"""A multi-period plan: what runs where in each period, which commitments are signed, and what each
provider is paid per period. Frozen dataclasses with a stable JSON shape (``to_json``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class TrainingRun:
    job_id: str
    offering_id: str
    provider: str
    tier: str  # on_demand | spot | committed
    start_period: int
    periods: int
    gpus: int
    nominal_hours: float
    expected_hours: float
    cost_usd: float  # GPU-hours billed (0 on committed capacity: paid through the commitment)
    egress_usd: float
    # what one more GPU-hour of this run costs: cost_usd / (gpus x expected_hours) when billed; on committed
    # capacity the term price of the commitments it draws on (use above the take-or-pay floor is billed at it)
    usd_per_gpu_hour: float


@dataclass(frozen=True)
class InferenceRental:
    service_id: str
    offering_id: str
    provider: str
    tier: str  # on_demand | committed
    period: int
    units: int  # whole instances (or groups of instances for replicas larger than one)
    replicas: int
    gpus: int
    cost_usd: float


@dataclass(frozen=True)
class SignedCommitment:
    option_id: str
    offering_id: str
    provider: str
    start_period: int
    term_periods: int
    gpus: int
    usd_per_gpu_hour: float  # the term price: what a GPU-hour used above the take-or-pay floor costs
    paid_usd: float  # upfront + floor + used above the floor, nominal
    used_gpu_periods: float
    utilization: float  # used / committed GPU-periods


@dataclass(frozen=True)
class HorizonPlan:
    scenario: str
    status: str  # optimal | feasible (time limit)
    periods: tuple[str, ...]  # ISO start date of each period
    period_hours: float
    objective_usd: float  # discounted (NPV when a discount rate is set)
    total_usd: float  # nominal, summed over the horizon
    mip_gap: float | None
    solve_time_s: float
    num_cols: int
    num_rows: int
    training: tuple[TrainingRun, ...]
    inference: tuple[InferenceRental, ...]
    commitments: tuple[SignedCommitment, ...]
    spend_usd_by_provider: dict[str, tuple[float, ...]]  # provider -> nominal spend per period
    gpus_by_provider: dict[str, tuple[float, ...]]  # provider -> rented GPUs per period (committed included)
    egress_usd: float

    def spend_per_period(self) -> tuple[float, ...]:
        n = len(self.periods)
        return tuple(sum(v[t] for v in self.spend_usd_by_provider.values()) for t in range(n))

    def spend_share(self, provider: str) -> tuple[float, ...]:
        total = self.spend_per_period()
        mine = self.spend_usd_by_provider.get(provider, (0.0,) * len(total))
        return tuple(m / t if t > 0 else 0.0 for m, t in zip(mine, total, strict=True))

    def gpu_share(self, provider: str) -> tuple[float, ...]:
        n = len(self.periods)
        total = [sum(v[t] for v in self.gpus_by_provider.values()) for t in range(n)]
        mine = self.gpus_by_provider.get(provider, (0.0,) * n)
        return tuple(m / t if t > 0 else 0.0 for m, t in zip(mine, total, strict=True))

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["spend_usd_by_provider"] = {k: list(v) for k, v in self.spend_usd_by_provider.items()}
        out["gpus_by_provider"] = {k: list(v) for k, v in self.gpus_by_provider.items()}
        return out
