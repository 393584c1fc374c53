"""Filtering and sorting offerings for display; flat rows so tables, JSON and CSV share one shape."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from computemoat.model import Scenario, UserError

SortKey = Literal["price", "spot", "provider", "region", "accelerator", "capacity"]


@dataclass(frozen=True, slots=True)
class OfferingRow:
    offering: str
    provider: str
    region: str
    city: str
    accelerator: str
    instance_type: str
    gpus_per_instance: int
    usd_per_gpu_hour_on_demand: float
    usd_per_gpu_hour_spot: float | None
    usd_per_gpu_hour_reserved: float | None
    capacity_gpus: int
    source: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def offering_rows(
    scenario: Scenario,
    *,
    provider: str | None = None,
    accelerator: str | None = None,
    region: str | None = None,
    sort: SortKey = "price",
) -> list[OfferingRow]:
    """Offerings after the provider's price multiplier, filtered (case-insensitive) and sorted."""
    providers = {p.name: p for p in scenario.providers}
    sites = {s.id: s for s in scenario.sites}
    for value, known, what in (
        (provider, set(providers), "provider"),
        (accelerator, {a.name for a in scenario.accelerators}, "accelerator"),
    ):
        if value is not None and value.lower() not in {k.lower() for k in known}:
            raise UserError(f"--{what} {value!r}: not in the catalog (known: {', '.join(sorted(known))})")
    rows = []
    for o in scenario.offerings:
        site = sites[o.site]
        if provider and site.provider.lower() != provider.lower():
            continue
        if accelerator and o.accelerator.lower() != accelerator.lower():
            continue
        if region and region.lower() not in f"{site.region} {site.city}".lower():
            continue
        mult = providers[site.provider].price_multiplier

        def scaled(price: float | None, mult: float = mult) -> float | None:
            return None if price is None else round(price * mult, 5)

        rows.append(
            OfferingRow(
                offering=o.id,
                provider=site.provider,
                region=site.region,
                city=site.city,
                accelerator=o.accelerator,
                instance_type=o.instance_type,
                gpus_per_instance=o.gpus_per_instance,
                usd_per_gpu_hour_on_demand=o.usd_per_gpu_hour_on_demand * mult,
                usd_per_gpu_hour_spot=scaled(o.usd_per_gpu_hour_spot),
                usd_per_gpu_hour_reserved=scaled(o.usd_per_gpu_hour_reserved),
                capacity_gpus=o.capacity_gpus,
                source=o.source,
            )
        )
    keys = {
        "price": lambda r: (r.usd_per_gpu_hour_on_demand, r.offering),
        "spot": lambda r: (r.usd_per_gpu_hour_spot is None, r.usd_per_gpu_hour_spot or 0.0, r.offering),
        "provider": lambda r: (r.provider, r.region, r.accelerator),
        "region": lambda r: (r.region, r.provider, r.accelerator),
        "accelerator": lambda r: (r.accelerator, r.usd_per_gpu_hour_on_demand),
        "capacity": lambda r: (-r.capacity_gpus, r.usd_per_gpu_hour_on_demand),
    }
    return sorted(rows, key=keys[sort])
