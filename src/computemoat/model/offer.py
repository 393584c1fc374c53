"""An offer from a provider (new or existing): capacity at its sites, a term price, a term, a take-or-pay
share and a minimum commitment, starting on a date. ``computemoat deal`` evaluates it against a scenario."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from computemoat.model.base import Frozen
from computemoat.model.horizon import Horizon
from computemoat.model.provider import ProviderKind


class OfferCapacity(Frozen):
    """GPUs of one accelerator offered at one site (an existing site of the scenario)."""

    site: str = Field(min_length=1)
    accelerator: str = Field(min_length=1)
    gpus_per_instance: int = Field(default=8, ge=1, le=256)
    capacity_gpus: int = Field(gt=0, description="GPUs offered in every period of the term")
    # a new site (the site id is not in the scenario): where it is and its power envelope
    lat_deg: float | None = Field(default=None, ge=-90, le=90)
    lon_deg: float | None = Field(default=None, ge=-180, le=180)
    pue: float = Field(default=1.2, ge=1.0, le=3.0)
    power_capacity_mw: float | None = Field(default=None, gt=0)
    ground_station: bool = False


class Offer(Frozen):
    name: str = Field(default="offer", min_length=1)
    provider: str = Field(min_length=1, description="an existing provider, or a new one (give jurisdiction)")
    kind: ProviderKind = ProviderKind.specialized
    jurisdiction: str | None = Field(default=None, min_length=2, description="needed for a new provider")
    capacity: tuple[OfferCapacity, ...] = Field(min_length=1)
    usd_per_gpu_hour: float = Field(gt=0, description="term price per GPU-hour")
    term_months: int = Field(gt=0)
    take_or_pay_share: float = Field(ge=0, le=1, description="share of committed GPUs paid whether used or not")
    min_commit_gpus: int = Field(default=0, ge=0, description="smallest commitment accepted (0 = any)")
    upfront_usd_per_gpu: float = Field(default=0.0, ge=0)
    start: dt.date = Field(description="capacity available from this date (first day of a period)")
    withdrawal_probability_per_year: float = Field(
        default=0.05, ge=0, le=1, description="chance the provider withdraws (policy shift) in any year"
    )
    exposure_step_months: int = Field(default=6, gt=0, description="spacing of the withdrawal curve")
    horizon: Horizon | None = Field(default=None, description="evaluate over this horizon (else the scenario's)")
    illustrative: bool = False
    source: str = ""
