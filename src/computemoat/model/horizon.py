"""Time as a dimension: a horizon of periods with per-period demand, capacity and prices, training
windows, datasets (data gravity) and commitment options (term, take-or-pay, upfront).

A scenario without a ``horizon`` is the single-period special case and plans exactly as before.
Periods are indexed 0..periods-1 from ``start``; a month is 730 h (8,760 / 12), a quarter 2,190 h.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import Field, model_validator

from computemoat.model.base import Frozen

Loc = tuple[str | int, ...]
HOURS_PER_MONTH = 730.0  # 8,760 h / 12


class PeriodKind(StrEnum):
    month = "month"
    quarter = "quarter"

    @property
    def months(self) -> int:
        return 1 if self is PeriodKind.month else 3


class CapScope(StrEnum):
    """What a spend cap compares: each period's spend, or the spend summed over the horizon."""

    period = "period"
    horizon = "horizon"


class DemandSeries(Frozen):
    """How a service's demand (its ``demand_rps`` / ``total_demand_rps``, = period 0) evolves."""

    service: str = Field(min_length=1)
    scale: tuple[float, ...] | None = Field(default=None, description="multiplier per period (one per period)")
    growth_per_year: float | None = Field(default=None, gt=-1, le=100, description="compound, e.g. 0.5 = +50%/yr")

    @model_validator(mode="after")
    def _one(self) -> DemandSeries:
        if (self.scale is None) == (self.growth_per_year is None):
            raise ValueError("give exactly one of scale (per period) or growth_per_year")
        if self.scale is not None and any(v < 0 for v in self.scale):
            raise ValueError("scale values must be >= 0")
        return self


class OfferingSchedule(Frozen):
    """When an offering is available and how its capacity and price move over the horizon."""

    offering: str = Field(min_length=1)
    online_from_period: int = Field(default=0, ge=0, description="no capacity before this period")
    capacity_gpus: tuple[int, ...] | None = Field(default=None, description="GPUs per period (one per period)")
    price_scale: tuple[float, ...] | None = Field(default=None, description="multiplier on every price, per period")
    price_decline_per_year: float | None = Field(default=None, ge=0, lt=1, description="overrides the horizon's")
    commitment_only: bool = Field(default=False, description="sold only through commitments (no on-demand/spot)")

    @model_validator(mode="after")
    def _values(self) -> OfferingSchedule:
        if self.capacity_gpus is not None and any(v < 0 for v in self.capacity_gpus):
            raise ValueError("capacity_gpus values must be >= 0")
        if self.price_scale is not None and any(v <= 0 for v in self.price_scale):
            raise ValueError("price_scale values must be > 0")
        if self.price_scale is not None and self.price_decline_per_year is not None:
            raise ValueError("give at most one of price_scale or price_decline_per_year")
        return self


class TrainingWindow(Frozen):
    """A training job may start on or after ``earliest_start`` and must end by ``deadline`` (dates)."""

    job: str = Field(min_length=1)
    earliest_start: dt.date | None = None
    deadline: dt.date | None = None

    @model_validator(mode="after")
    def _monotone(self) -> TrainingWindow:
        if self.earliest_start and self.deadline and self.deadline <= self.earliest_start:
            raise ValueError(f"deadline {self.deadline} is not after earliest_start {self.earliest_start}")
        return self


class Dataset(Frozen):
    """Data a job reads, where it lives, and where its checkpoints go home (egress is paid leaving a provider)."""

    id: str = Field(min_length=1)
    site: str = Field(min_length=1, description="site holding the data (the lab's storage)")
    size_gb: float = Field(ge=0)
    jobs: tuple[str, ...] = Field(min_length=1, description="training jobs that read it")
    checkpoint_copy_every_hours: float | None = Field(
        default=None, gt=0, description="copy a checkpoint home this often; None = only the final one"
    )


class CommitmentOption(Frozen):
    """A commitment the planner may sign: N GPUs of an offering for ``term_periods`` at a term price.

    Take-or-pay: each period of the term pays ``take_or_pay_share`` x N GPUs x hours x price whether used
    or not, plus the price for every GPU used above that share (up to N). ``upfront_usd_per_gpu`` is paid
    at signing. N is a whole number of instances, 0 (not signed) or at least ``min_gpus``."""

    id: str = Field(min_length=1)
    offering: str = Field(min_length=1)
    term_periods: int = Field(gt=0)
    usd_per_gpu_hour: float = Field(gt=0)
    take_or_pay_share: float = Field(default=1.0, ge=0, le=1)
    upfront_usd_per_gpu: float = Field(default=0.0, ge=0)
    earliest_start_period: int = Field(default=0, ge=0)
    latest_start_period: int | None = Field(default=None, ge=0)
    min_gpus: int = Field(default=0, ge=0)
    max_gpus: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _starts(self) -> CommitmentOption:
        if self.latest_start_period is not None and self.latest_start_period < self.earliest_start_period:
            raise ValueError("latest_start_period is before earliest_start_period")
        if self.max_gpus is not None and self.max_gpus < self.min_gpus:
            raise ValueError("max_gpus is below min_gpus")
        return self


class Horizon(Frozen):
    """The planning horizon and everything that varies over it."""

    start: dt.date
    periods: int = Field(default=12, ge=1, le=240)
    period: PeriodKind = PeriodKind.month
    discount_rate_per_year: float = Field(default=0.0, ge=0, le=1, description="NPV rate; 0 = no discounting")
    spend_cap_scope: CapScope = Field(
        default=CapScope.horizon, description="spend share per period or over the horizon"
    )
    gpu_cap_scope: CapScope = Field(
        default=CapScope.period, description="GPU share per period (GPUs) or over the horizon (GPU-periods)"
    )
    price_decline_per_year: float = Field(default=0.0, ge=0, lt=1, description="every list price, compound")
    reserved_term_periods: int | None = Field(
        default=12, gt=0, description="offerings' reserved price becomes a take-or-pay commitment of this term"
    )
    demand: tuple[DemandSeries, ...] = ()
    offerings: tuple[OfferingSchedule, ...] = ()
    training_windows: tuple[TrainingWindow, ...] = ()
    datasets: tuple[Dataset, ...] = ()
    commitments: tuple[CommitmentOption, ...] = ()

    @property
    def period_hours(self) -> float:
        return HOURS_PER_MONTH * self.period.months

    def period_start(self, t: int) -> dt.date:
        months = self.start.month - 1 + t * self.period.months
        return dt.date(self.start.year + months // 12, months % 12 + 1, 1)

    def period_of(self, day: dt.date) -> int:
        """Index of the period containing ``day`` (negative before the start, >= periods after the end)."""
        months = (day.year - self.start.year) * 12 + day.month - self.start.month
        return months // self.period.months


def horizon_problems(
    h: Horizon, *, offerings: set[str], sites: set[str], jobs: set[str], services: set[str]
) -> list[tuple[Loc, str]]:
    """Cross-checks against the scenario and the horizon's length: (location, message) per problem."""
    out: list[tuple[Loc, str]] = []
    n = h.periods

    def known(value: str, pool: set[str], loc: Loc, what: str) -> None:
        if value not in pool:
            out.append((("horizon", *loc), f"unknown {what} {value!r}"))

    def length(values: tuple[object, ...] | None, loc: Loc) -> None:
        if values is not None and len(values) != n:
            out.append((("horizon", *loc), f"has {len(values)} values, the horizon has {n} periods (one per period)"))

    for i, d in enumerate(h.demand):
        known(d.service, services, ("demand", i, "service"), "inference service")
        length(d.scale, ("demand", i, "scale"))
    for i, o in enumerate(h.offerings):
        known(o.offering, offerings, ("offerings", i, "offering"), "offering")
        length(o.capacity_gpus, ("offerings", i, "capacity_gpus"))
        length(o.price_scale, ("offerings", i, "price_scale"))
        if o.online_from_period >= n:
            out.append((("horizon", "offerings", i, "online_from_period"), f"must be < periods ({n})"))
    for i, w in enumerate(h.training_windows):
        known(w.job, jobs, ("training_windows", i, "job"), "training job")
        for name in ("earliest_start", "deadline"):
            day = getattr(w, name)
            if day is not None and day < h.start:
                out.append((("horizon", "training_windows", i, name), f"{day} is before the horizon start {h.start}"))
    for i, ds in enumerate(h.datasets):
        known(ds.site, sites, ("datasets", i, "site"), "site")
        for j, job in enumerate(ds.jobs):
            known(job, jobs, ("datasets", i, "jobs", j), "training job")
    for i, c in enumerate(h.commitments):
        known(c.offering, offerings, ("commitments", i, "offering"), "offering")
        if c.earliest_start_period + c.term_periods > n:
            out.append(
                (
                    ("horizon", "commitments", i, "term_periods"),
                    f"term {c.term_periods} from period {c.earliest_start_period} ends after the horizon "
                    f"({n} periods; shorten the term or lengthen the horizon)",
                )
            )
    return out
