"""When the provider withdraws: a constant hazard per period during the term, and the savings left at
each withdrawal period (the exposure curve, linear between its grid points; the full savings when the
term ends first). Shared by the closed-form expectation, the timing-only Monte-Carlo and the fault
Monte-Carlo of sim/deal.py, which draws the same periods from the same seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from computemoat.model import Offer, Scenario
from computemoat.planner.deal.apply import offer_horizon, start_period, term_periods
from computemoat.planner.deal.result import DealResult, ExposurePoint


@dataclass(frozen=True)
class WithdrawalTiming:
    first_period: int  # the term's first period
    term_periods: int
    hazard_per_period: float  # P(withdrawal in a period | none before) = 1 - (1 - p_year)^(months / 12)
    savings_usd: float  # savings without a withdrawal
    curve: tuple[ExposurePoint, ...]

    @property
    def end_period(self) -> int:
        return self.first_period + self.term_periods

    @property
    def at_risk(self) -> bool:
        return bool(self.curve) and self.hazard_per_period > 0

    def draw_periods(self, n: int, seed: int) -> NDArray[np.int64]:
        """The withdrawal period of ``n`` draws: the first failing period after the start (geometric);
        ``end_period`` or later means none during the term. Draw i is the same for any ``n`` > i."""
        if not self.at_risk:
            return np.full(n, self.end_period, dtype=np.int64)
        rng = np.random.default_rng(seed)
        return (self.first_period + rng.geometric(self.hazard_per_period, size=n)).astype(np.int64)

    def savings_usd_at(self, periods: NDArray[np.int64]) -> NDArray[np.float64]:
        """Savings left for a withdrawal at each period (linear between curve points)."""
        if not self.curve:
            return np.full(periods.shape, self.savings_usd)
        xs = np.array([c.period for c in self.curve] + [self.end_period], dtype=float)
        ys = np.array([c.savings_usd for c in self.curve] + [self.savings_usd])
        return np.where(periods < self.end_period, np.interp(periods, xs, ys), self.savings_usd)

    def replan_index(self, periods: NDArray[np.int64]) -> NDArray[np.intp]:
        """Index of the curve's re-plan that stands for a withdrawal at each period: the grid point at or
        before it (the first one for a withdrawal before every point); -1 = no withdrawal in the term."""
        if not self.curve:
            return np.full(periods.shape, -1, dtype=np.intp)
        grid = np.array([c.period for c in self.curve])
        k = np.clip(np.searchsorted(grid, periods, side="right") - 1, 0, grid.size - 1)
        return np.where(periods < self.end_period, k, -1).astype(np.intp)

    def expected_savings_usd(self) -> float:
        """Exact expectation over the withdrawal period's distribution."""
        if not self.at_risk:
            return self.savings_usd
        periods = np.arange(self.first_period + 1, self.end_period)
        h = self.hazard_per_period
        p_at = (1 - h) ** (periods - self.first_period - 1) * h
        return float(p_at @ self.savings_usd_at(periods) + (1 - p_at.sum()) * self.savings_usd)


def hazard_per_period(p_year: float, months_per_period: int) -> float:
    return 1 - (1 - p_year) ** (months_per_period / 12) if p_year > 0 else 0.0


def withdrawal_timing(scenario: Scenario, offer: Offer, result: DealResult) -> WithdrawalTiming:
    """The timing model of an evaluated deal (what ``evaluate_deal`` sampled)."""
    h = offer_horizon(scenario, offer)
    assert h is not None, "offer_problems reports a missing horizon"
    return WithdrawalTiming(
        first_period=start_period(h, offer),
        term_periods=term_periods(h, offer),
        hazard_per_period=hazard_per_period(result.withdrawal_probability_per_year, h.period.months),
        savings_usd=result.savings_usd,
        curve=result.exposure,
    )
