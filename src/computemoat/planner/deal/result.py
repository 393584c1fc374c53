"""What ``deal`` answers, with a stable JSON shape (``DealResult.to_json``, ``schema: computemoat.deal/1``).

Money is nominal USD summed over the horizon unless the name says NPV; shares are fractions per period.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from computemoat.planner.horizon import HorizonPlan, TrainingRun

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
    training: tuple[TrainingRun, ...] = ()  # where the re-plan runs the training jobs (the fault Monte-Carlo's input)


@dataclass(frozen=True)
class PlanFaults:
    """One plan's training runs under the simulator's faults, over the draws (sim/deal.py)."""

    plan: str  # without | with_offer (the plan with the offer, or its re-plan when the draw withdraws)
    overrun_usd_mean: float  # mean of sum over jobs (completion - planned expected hours) x GPUs x $/GPU-h
    overrun_usd_ci95: tuple[float, float]  # normal interval of that mean
    overrun_usd_p5_p50_p95: tuple[float, float, float]
    overrun_hours_mean: float  # GPU-weighted hours late: sum of (completion - expected) x GPUs / GPUs
    deadline_miss_share: float  # share of draws in which some job ends after its deadline (or never)


@dataclass(frozen=True)
class FaultMonteCarlo:
    """Savings over draws of the withdrawal period *and* the simulator's faults on the training runs;
    every plan of a draw sees the same seed (common random numbers), so the difference is the plans'."""

    sampled: str  # what was sampled, in words
    runner: str  # ray | in-process
    draws: int
    first_seed: int  # draw i uses simulator seed first_seed + i and the i-th withdrawal draw
    window_hours: float  # each job is simulated from its start for this long (censored there)
    withdrawals: int  # draws in which the provider withdraws during the term
    savings_p5_p50_p95_usd: tuple[float, float, float]
    savings_mean_usd: float
    savings_mean_ci95_usd: tuple[float, float]
    plans: tuple[PlanFaults, ...]
    elapsed_s: float


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
    faults_mc: FaultMonteCarlo | None = None  # None: withdrawal timing only (sim.deal adds it)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema": SCHEMA}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if name == "faults_mc" and value is None:
                continue  # optional: files without it are timing-only results (and older files)
            if isinstance(value, HorizonPlan):
                out[name] = value.to_json()
            elif isinstance(value, tuple) and value and hasattr(value[0], "__dataclass_fields__"):
                out[name] = [asdict(v) for v in value]
            elif hasattr(value, "__dataclass_fields__"):
                out[name] = asdict(value)
            else:
                out[name] = list(value) if isinstance(value, tuple) else value
        return out
