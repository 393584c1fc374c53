"""The scenario's offerings, sites and providers as arrays (one entry per offering, site, provider)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from computemoat.model import PlacementRules, Scenario, Tier
from computemoat.planner.rules import TIER_INDEX, TIERS, energy_usd_per_gpu_hour, provider_block_reason


@dataclass(frozen=True)
class CatalogArrays:
    provider_names: tuple[str, ...]
    site_ids: tuple[str, ...]
    offering_ids: tuple[str, ...]
    region_names: tuple[str, ...]
    region_index: dict[str, int]
    accelerator: tuple[str, ...]  # per offering
    site: np.ndarray  # per offering: site index
    provider: np.ndarray  # per offering: provider index
    site_provider: np.ndarray  # per site: provider index
    capacity_gpus: np.ndarray
    gpus_per_instance: np.ndarray
    mw_per_gpu: np.ndarray  # board W x PUE / 1e6
    price: np.ndarray  # [offering x tier] list price x multiplier + energy; NaN when not sold
    site_power_cap_mw: np.ndarray

    def usd_per_gpu_hour(self, i: int, tier: Tier) -> float | None:
        v = float(self.price[i, TIER_INDEX[tier]])
        return None if np.isnan(v) else v

    allowed_memo: dict[tuple[object, ...], list[int]] = field(default_factory=dict, compare=False, repr=False)

    def allowed(self, sc: Scenario, rules: PlacementRules, accelerators: tuple[str, ...]) -> list[int]:
        """Offerings of one of ``accelerators`` at providers the rules and the policy allow (``sc`` is
        the scenario these arrays were built from; memoised per rules: 10,000 jobs share a few dozen)."""
        key = (
            rules.allowed_providers,
            rules.excluded_providers,
            rules.allowed_jurisdictions,
            rules.excluded_jurisdictions,
            accelerators,
        )
        found = self.allowed_memo.get(key)
        if found is None:
            found = [
                i
                for i, a in enumerate(self.accelerator)
                if a in accelerators and provider_block_reason(sc, rules, sc.providers[int(self.provider[i])]) is None
            ]
            self.allowed_memo[key] = found
        return list(found)


def catalog_arrays(sc: Scenario) -> CatalogArrays:
    p_index = {p.name: i for i, p in enumerate(sc.providers)}
    s_index = {s.id: i for i, s in enumerate(sc.sites)}
    sites = {s.id: s for s in sc.sites}
    accel = {a.name: a for a in sc.accelerators}
    mult = {p.name: p.price_multiplier for p in sc.providers}
    off_site = np.array([s_index[o.site] for o in sc.offerings], dtype=np.int64)
    site_provider = np.array([p_index[s.provider] for s in sc.sites], dtype=np.int64)
    pue = np.array([sites[o.site].pue for o in sc.offerings], dtype=float)
    board_w = np.array([accel[o.accelerator].board_power_w for o in sc.offerings], dtype=float)
    price = np.full((len(sc.offerings), len(TIERS)), np.nan)
    for i, o in enumerate(sc.offerings):
        energy = energy_usd_per_gpu_hour(sc, board_w[i], pue[i])
        for k, tier in enumerate(TIERS):
            list_price = o.price(tier)
            if list_price is not None:
                price[i, k] = list_price * mult[sites[o.site].provider] + energy
    regions = tuple(r.name for r in sc.user_regions)
    return CatalogArrays(
        provider_names=tuple(p.name for p in sc.providers),
        site_ids=tuple(s.id for s in sc.sites),
        offering_ids=tuple(o.id for o in sc.offerings),
        region_names=regions,
        region_index={r: i for i, r in enumerate(regions)},
        accelerator=tuple(o.accelerator for o in sc.offerings),
        site=off_site,
        provider=site_provider[off_site] if len(off_site) else np.zeros(0, dtype=np.int64),
        site_provider=site_provider,
        capacity_gpus=np.array([o.capacity_gpus for o in sc.offerings], dtype=float),
        gpus_per_instance=np.array([o.gpus_per_instance for o in sc.offerings], dtype=float),
        mw_per_gpu=board_w * pue / 1e6,
        price=price,
        site_power_cap_mw=np.array([np.inf if s.power_capacity_mw is None else s.power_capacity_mw for s in sc.sites]),
    )
