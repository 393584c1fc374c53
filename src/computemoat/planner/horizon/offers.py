"""Offerings over the horizon as arrays (site, provider, instance size, power, effective price per tier and
period) and the commitment options the planner may sign (explicit ones and those derived from reserved
prices), each with the start periods it may be signed at."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from computemoat.model import CommitmentOption, Scenario, Tier
from computemoat.planner.horizon.periods import PeriodGrid
from computemoat.planner.rules import energy_usd_per_gpu_hour

PAY_TIERS: tuple[Tier, ...] = (Tier.on_demand, Tier.spot)  # billed per GPU-hour; committed use is in the term


@dataclass(frozen=True)
class OfferingArrays:
    ids: tuple[str, ...]
    site: np.ndarray  # site index
    provider: np.ndarray  # provider index
    gpus_per_instance: np.ndarray
    mw_per_gpu: np.ndarray  # board W x PUE / 1e6
    usd_per_gpu_hour: np.ndarray  # [offering, tier (PAY_TIERS), period], nan = tier not sold
    site_power_mw: np.ndarray  # [site], inf = no cap


@dataclass(frozen=True)
class Commitments:
    """Commitment options (index k) and their allowed starts; decision (k, s) is one column block."""

    options: tuple[CommitmentOption, ...]
    offering: np.ndarray  # [k] offering index
    starts: tuple[tuple[int, ...], ...]  # [k] allowed start periods


def offering_arrays(scenario: Scenario, grid: PeriodGrid) -> OfferingArrays:
    sc = scenario
    p_index = {p.name: i for i, p in enumerate(sc.providers)}
    s_index = {s.id: i for i, s in enumerate(sc.sites)}
    site_by_id = {s.id: s for s in sc.sites}
    accel = {a.name: a for a in sc.accelerators}
    mult = {p.name: p.price_multiplier for p in sc.providers}
    n_off = len(sc.offerings)
    price = np.full((n_off, len(PAY_TIERS), grid.n), np.nan)
    mw = np.zeros(n_off)
    for i, o in enumerate(sc.offerings):
        site = site_by_id[o.site]
        board_w = accel[o.accelerator].board_power_w
        mw[i] = board_w * site.pue / 1e6
        energy = energy_usd_per_gpu_hour(sc, board_w, site.pue)
        for k, tier in enumerate(PAY_TIERS):
            list_price = o.price(tier)
            if list_price is not None:
                price[i, k] = list_price * mult[site.provider] * grid.price_scale[i] + energy
    if sc.horizon is not None:
        off_index = {o.id: i for i, o in enumerate(sc.offerings)}
        for sched in sc.horizon.offerings:
            if sched.commitment_only:
                price[off_index[sched.offering]] = np.nan
    return OfferingArrays(
        ids=tuple(o.id for o in sc.offerings),
        site=np.array([s_index[o.site] for o in sc.offerings], dtype=np.int64),
        provider=np.array([p_index[site_by_id[o.site].provider] for o in sc.offerings], dtype=np.int64),
        gpus_per_instance=np.array([o.gpus_per_instance for o in sc.offerings], dtype=np.int64),
        mw_per_gpu=mw,
        usd_per_gpu_hour=price,
        site_power_mw=np.array([np.inf if s.power_capacity_mw is None else s.power_capacity_mw for s in sc.sites]),
    )


def commitment_options(scenario: Scenario, grid: PeriodGrid) -> Commitments:
    """Explicit options, plus one per offering with a reserved price: a take-or-pay term of
    ``horizon.reserved_term_periods`` at that price (x the provider's multiplier)."""
    h = scenario.horizon
    if h is None:
        return Commitments((), np.zeros(0, dtype=np.int64), ())
    options = list(h.commitments)
    if h.reserved_term_periods is not None and h.reserved_term_periods <= grid.n:
        mult = {p.name: p.price_multiplier for p in scenario.providers}
        site_provider = {s.id: s.provider for s in scenario.sites}
        for o in scenario.offerings:
            if o.usd_per_gpu_hour_reserved is not None:
                options.append(
                    CommitmentOption(
                        id=f"reserved:{o.id}",
                        offering=o.id,
                        term_periods=h.reserved_term_periods,
                        usd_per_gpu_hour=o.usd_per_gpu_hour_reserved * mult[site_provider[o.site]],
                        take_or_pay_share=1.0,
                    )
                )
    off_index = {o.id: i for i, o in enumerate(scenario.offerings)}
    starts = []
    for c in options:
        last = grid.n - c.term_periods
        if c.latest_start_period is not None:
            last = min(last, c.latest_start_period)
        starts.append(tuple(range(c.earliest_start_period, last + 1)))
    return Commitments(
        options=tuple(options),
        offering=np.array([off_index[c.offering] for c in options], dtype=np.int64),
        starts=tuple(starts),
    )
