"""Evaluate a provider's offer against a scenario over time: savings, break-even price, diversification
and exposure to the provider's withdrawal (above the planner and the simulator's fault model)."""

from computemoat.planner.deal.apply import apply_offer, offer_problems, without_offer
from computemoat.planner.deal.evaluate import DealSettings, evaluate_deal
from computemoat.planner.deal.offer_file import load_offer
from computemoat.planner.deal.result import (
    SCHEMA,
    BreakEven,
    DealResult,
    ExposurePoint,
    FaultMonteCarlo,
    LandlordView,
    PlanFaults,
    ShareSeries,
)
from computemoat.planner.deal.withdrawal import WithdrawalTiming, withdrawal_timing

__all__ = [
    "SCHEMA",
    "BreakEven",
    "DealResult",
    "DealSettings",
    "ExposurePoint",
    "FaultMonteCarlo",
    "LandlordView",
    "PlanFaults",
    "ShareSeries",
    "WithdrawalTiming",
    "apply_offer",
    "evaluate_deal",
    "load_offer",
    "offer_problems",
    "withdrawal_timing",
    "without_offer",
]
