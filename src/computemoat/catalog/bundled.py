"""The bundled public catalog: SkyPilot-catalog list prices, provider region locations, accelerator specs.

The CSVs in ``data/`` are copied unchanged from the project's shared data (see ``data/SOURCES.md``);
this module only reshapes them into domain objects. Capacity is not public: bundled offerings get an
illustrative capacity per accelerator class (``DEFAULT_CAPACITY_GPUS``) that scenarios override.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from computemoat.model import Accelerator, Offering, Provider, ProviderKind, Site

# Illustrative, not public data: GPUs one provider region can supply of one instance type at once.
# Chosen to be plausible for on-demand/capacity-block purchases in 2025; override in the scenario.
DEFAULT_CAPACITY_GPUS: Mapping[str, int] = {
    "H100": 2048,
    "H200": 1024,
    "B200": 512,
    "A100-80GB": 1024,
    "L4": 512,
    "A10": 256,
}
FALLBACK_CAPACITY_GPUS = 256  # illustrative, for an accelerator not listed above


def data_path(name: str) -> Path:
    return Path(str(resources.files("computemoat.catalog") / "data" / name))


def _rows(name: str) -> list[dict[str, str]]:
    with data_path(name).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@dataclass(frozen=True)
class BundledCatalog:
    providers: tuple[Provider, ...]
    sites: tuple[Site, ...]
    accelerators: tuple[Accelerator, ...]
    offerings: tuple[Offering, ...]


def _round_to_instances(gpus: int, per_instance: int) -> int:
    return max(per_instance, gpus // per_instance * per_instance)


@cache
def _load_all() -> BundledCatalog:
    prov_rows = {r["name"]: r for r in _rows("providers.csv")}
    providers = tuple(
        Provider(
            name=r["name"],
            kind=ProviderKind(r["kind"]),
            jurisdiction=r["jurisdiction"],
            egress_usd_per_gb=float(r["egress_usd_per_gb"]),
            source=r["source"],
        )
        for r in prov_rows.values()
    )
    sites = tuple(
        Site(
            id=f"{r['provider']}:{r['region']}",
            provider=r["provider"],
            region=r["region"],
            city=r["city"],
            country_iso2=r["country_iso2"],
            lat_deg=float(r["lat_deg"]),
            lon_deg=float(r["lon_deg"]),
            pue=float(prov_rows[r["provider"]]["pue"]),
            source=r["source"],
        )
        for r in _rows("regions.csv")
    )
    accelerators = tuple(
        Accelerator(
            name=r["name"],
            board_power_w=float(r["board_power_w"]),
            memory_gb=float(r["memory_gb"]),
            source=r["source"],
        )
        for r in _rows("accelerators.csv")
    )
    offerings = []
    for r in _rows("offerings.csv"):
        per_instance = int(r["gpus_per_instance"])
        capacity = DEFAULT_CAPACITY_GPUS.get(r["accelerator"], FALLBACK_CAPACITY_GPUS)
        spot = r["usd_per_gpu_hour_spot"]
        offerings.append(
            Offering(
                id=f"{r['provider']}:{r['region']}:{r['instance_type']}",
                site=f"{r['provider']}:{r['region']}",
                accelerator=r["accelerator"],
                instance_type=r["instance_type"],
                gpus_per_instance=per_instance,
                usd_per_gpu_hour_on_demand=float(r["usd_per_gpu_hour_on_demand"]),
                usd_per_gpu_hour_spot=float(spot) if spot else None,
                capacity_gpus=_round_to_instances(capacity, per_instance),
                capacity_illustrative=True,
                source=r["source"],
            )
        )
    return BundledCatalog(providers, sites, accelerators, tuple(offerings))


def bundled_catalog(
    providers: Iterable[str] | None = None, capacity_gpus: Mapping[str, int] | None = None
) -> BundledCatalog:
    """The bundled catalog, optionally restricted to ``providers`` and with other default capacities."""
    full = _load_all()
    keep = set(providers) if providers is not None else {p.name for p in full.providers}
    sites = tuple(s for s in full.sites if s.provider in keep)
    site_ids = {s.id for s in sites}
    offerings = tuple(o for o in full.offerings if o.site in site_ids)
    if capacity_gpus:
        offerings = tuple(
            o.model_copy(
                update={"capacity_gpus": _round_to_instances(capacity_gpus[o.accelerator], o.gpus_per_instance)}
            )
            if o.accelerator in capacity_gpus
            else o
            for o in offerings
        )
    return BundledCatalog(
        tuple(p for p in full.providers if p.name in keep), sites, full.accelerators, offerings
    )


def bundled_provider_names() -> tuple[str, ...]:
    return tuple(p.name for p in _load_all().providers)
