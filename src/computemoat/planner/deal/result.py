"""What ``deal`` answers, with a stable JSON shape (``DealResult.to_json``, ``schema: computemoat.deal/1``).

Money is nominal USD summed over the horizon unless the name says NPV; shares are fractions per period.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from computemoat.planner.horizon import HorizonPlan

SCHEMA = "computemoat.deal/1"


@dataclass(frozen=True)
class BreakEven:
    usd_per_gpu_hour: float | None  # highest price proven to keep the minimum commitment; None = never taken
    tolerance_usd_per_gpu_hour: float
    bisection_steps: int
    method: str


@dataclass(frozen=True)
class ShareSeries:
    provider: str
    spend_share_without: tuple[float, ...]
    spend_share_with: tuple[float, ...]
    gpu_share_without: tuple[float, ...]
    gpu_share_with: tuple[float, ...]
    spend_cap: float | None
    gpu_cap: float | None


@dataclass(frozen=True)
class ExposurePoint:
    period: int  # withdrawal at the start of this period
    month: int  # months after the horizon start
    date: str
    stranded_usd: float  # upfront paid for the part of the term that is never delivered
    replan_extra_usd: float  # cost of the re-planned horizon minus the plan with the offer
    savings_usd: float  # savings left against the plan without the offer (negative: the deal lost money)


@dataclass(frozen=True)
class LandlordView:
    usd_per_gpu_hour: float | None
    revenue_usd: float  # everything the lab pays for the offer's commitments (upfront, floor, use above it)
    committed_gpus: int
    utilization_of_offered: float  # GPU-periods used / GPU-periods offered over the term
    utilization_of_committed: float  # GPU-periods used / GPU-periods committed


@dataclass(frozen=True)
class DealResult:
    offer: str
    provider: str
    scenario: str
    periods: tuple[str, ...]
    offered_usd_per_gpu_hour: float
    without: HorizonPlan
    with_offer: HorizonPlan
    savings_usd: float
    savings_npv_usd: float
    savings_by_period_usd: tuple[float, ...]
    committed_gpus: int
    break_even: BreakEven
    shares: tuple[ShareSeries, ...]
    exposure: tuple[ExposurePoint, ...]
    withdrawal_probability_per_year: float
    expected_savings_usd: float
    savings_p5_p50_p95_usd: tuple[float, float, float]
    landlord_offered: LandlordView
    landlord_break_even: LandlordView | None
    solves: int
    elapsed_s: float

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema": SCHEMA}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, HorizonPlan):
                out[name] = value.to_json()
            elif isinstance(value, tuple) and value and hasattr(value[0], "__dataclass_fields__"):
                out[name] = [asdict(v) for v in value]
            elif hasattr(value, "__dataclass_fields__"):
                out[name] = asdict(value)
            else:
                out[name] = list(value) if isinstance(value, tuple) else value
        return out
