"""Per-period parameters of a horizon as arrays: hours, discount factors, demand scale, capacity, prices.

A scenario without a horizon is one period of ``horizon_hours`` at today's prices (the single-period
planner's view). Price decline is compound, ``(1 - d) ** years since start``, applied to list prices
(energy priced separately is not discounted by it). Discount factors are at the start of each period:
``(1 + r) ** -years``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from computemoat.model import Scenario


@dataclass(frozen=True)
class PeriodGrid:
    """Everything with a time dimension, indexed [.., period]."""

    n: int
    hours: float  # hours in each period
    months_per_period: int
    start_dates: tuple[dt.date, ...]
    discount: np.ndarray  # [period] NPV factor at the period start
    demand_scale: np.ndarray  # [service, period]
    capacity_gpus: np.ndarray  # [offering, period]
    price_scale: np.ndarray  # [offering, period] multiplier on list prices

    def years(self, t: int | np.ndarray) -> np.ndarray:
        return np.asarray(t, dtype=float) * self.months_per_period / 12.0


def period_grid(scenario: Scenario) -> PeriodGrid:
    h = scenario.horizon
    n_off, n_svc = len(scenario.offerings), len(scenario.inference_services)
    cap0 = np.array([o.capacity_gpus for o in scenario.offerings], dtype=float).reshape(n_off, 1)
    if h is None:
        return PeriodGrid(
            n=1,
            hours=scenario.horizon_hours,
            months_per_period=1,
            start_dates=(dt.date.today().replace(day=1),),
            discount=np.ones(1),
            demand_scale=np.ones((n_svc, 1)),
            capacity_gpus=cap0,
            price_scale=np.ones((n_off, 1)),
        )
    n = h.periods
    years = np.arange(n) * h.period.months / 12.0
    demand = np.ones((n_svc, n))
    svc_index = {s.id: i for i, s in enumerate(scenario.inference_services)}
    for d in h.demand:
        demand[svc_index[d.service]] = (
            np.asarray(d.scale, dtype=float) if d.scale is not None else (1.0 + (d.growth_per_year or 0.0)) ** years
        )
    capacity = np.repeat(cap0, n, axis=1)
    price = np.repeat(((1.0 - h.price_decline_per_year) ** years)[None, :], n_off, axis=0)
    off_index = {o.id: i for i, o in enumerate(scenario.offerings)}
    for sched in h.offerings:
        o = off_index[sched.offering]
        if sched.capacity_gpus is not None:
            capacity[o] = np.asarray(sched.capacity_gpus, dtype=float)
        capacity[o, : sched.online_from_period] = 0.0
        if sched.price_scale is not None:
            price[o] = np.asarray(sched.price_scale, dtype=float)
        elif sched.price_decline_per_year is not None:
            price[o] = (1.0 - sched.price_decline_per_year) ** years
    return PeriodGrid(
        n=n,
        hours=h.period_hours,
        months_per_period=h.period.months,
        start_dates=tuple(h.period_start(t) for t in range(n)),
        discount=(1.0 + h.discount_rate_per_year) ** -years,
        demand_scale=demand,
        capacity_gpus=capacity,
        price_scale=price,
    )
