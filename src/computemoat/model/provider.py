"""Providers, sites and the accelerator offerings they sell."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from computemoat.model.base import Frozen

IdStr = str


class ProviderKind(StrEnum):
    hyperscaler = "hyperscaler"
    specialized = "specialized"
    edge = "edge"


class Provider(Frozen):
    """A company that rents accelerators; the unit of failure for N+k redundancy."""

    name: IdStr = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$", description="short id, e.g. aws")
    kind: ProviderKind
    jurisdiction: str = Field(min_length=2, description="ISO country or bloc code the provider answers to, e.g. US")
    egress_usd_per_gb: float = Field(default=0.0, ge=0, description="internet egress list price")
    price_multiplier: float = Field(
        default=1.0, gt=0, le=10, description="negotiated discount as a multiplier on every list price"
    )
    illustrative: bool = Field(default=False, description="true when the numbers are made up for the demo")
    source: str = Field(default="", description="where the numbers come from")


class Site(Frozen):
    """A data center (or a provider region treated as one) with a location and a power envelope."""

    id: IdStr = Field(min_length=1, description="unique id, by convention provider:region")
    provider: IdStr
    region: str = Field(min_length=1)
    city: str = ""
    country_iso2: str = Field(default="", max_length=2)
    lat_deg: float = Field(ge=-90, le=90)
    lon_deg: float = Field(ge=-180, le=180)
    pue: float = Field(default=1.2, ge=1.0, le=3.0, description="facility power / IT power")
    power_capacity_mw: float | None = Field(default=None, gt=0, description="facility power cap; None = unknown")
    ground_station: bool = Field(default=False, description="can host a LEO satellite ground station")
    illustrative: bool = False
    source: str = ""


class Accelerator(Frozen):
    """An accelerator class; board power turns GPU counts into facility megawatts."""

    name: str = Field(min_length=1)
    board_power_w: float = Field(gt=0)
    memory_gb: float = Field(gt=0)
    source: str = ""


class Tier(StrEnum):
    on_demand = "on_demand"
    spot = "spot"
    reserved = "reserved"


class Offering(Frozen):
    """An instance type at a site: price per GPU-hour for each tier and how many GPUs can be had."""

    id: IdStr = Field(min_length=1, description="unique id, by convention site:instance_type")
    site: IdStr
    accelerator: str
    instance_type: str = ""
    gpus_per_instance: int = Field(default=8, ge=1, le=256)
    usd_per_gpu_hour_on_demand: float = Field(gt=0)
    usd_per_gpu_hour_spot: float | None = Field(default=None, gt=0)
    usd_per_gpu_hour_reserved: float | None = Field(default=None, gt=0)
    capacity_gpus: int = Field(gt=0, description="GPUs this offering can supply at once")
    capacity_illustrative: bool = Field(default=True, description="list prices are public; capacity rarely is")
    source: str = ""

    @model_validator(mode="after")
    def _capacity_whole_instances(self) -> Offering:
        if self.capacity_gpus % self.gpus_per_instance:
            raise ValueError(
                f"capacity_gpus {self.capacity_gpus} is not a multiple of gpus_per_instance "
                f"{self.gpus_per_instance} (capacity is sold in whole instances)"
            )
        return self

    def price(self, tier: Tier) -> float | None:
        """USD per GPU-hour at ``tier``; None when the tier is not sold."""
        return {
            Tier.on_demand: self.usd_per_gpu_hour_on_demand,
            Tier.spot: self.usd_per_gpu_hour_spot,
            Tier.reserved: self.usd_per_gpu_hour_reserved,
        }[tier]
