"""Evaluate a provider's offer against a scenario over time: savings, break-even price, diversification
and exposure to the provider's withdrawal (above the planner and the simulator's fault model)."""

from computemoat.planner.deal.apply import apply_offer, offer_problems, without_offer
from computemoat.planner.deal.evaluate import DealSettings, evaluate_deal
from computemoat.planner.deal.offer_file import load_offer
from computemoat.planner.deal.result import SCHEMA, BreakEven, DealResult, ExposurePoint, LandlordView, ShareSeries

__all__ = [
    "SCHEMA",
    "BreakEven",
    "DealResult",
    "DealSettings",
    "ExposurePoint",
    "LandlordView",
    "ShareSeries",
    "apply_offer",
    "evaluate_deal",
    "load_offer",
    "offer_problems",
    "without_offer",
]
