"""Who may run what where: the placement rules of a workload combined with the fleet policy.

One function per question so the MILP, the greedy baseline and the validator all read the same
rules (the rules are the specification; the solvers are what the validator checks).
"""

from __future__ import annotations

from computemoat.model import PlacementRules, Provider, Scenario, Tier, TrainingJob

TIERS: tuple[Tier, ...] = (Tier.on_demand, Tier.spot, Tier.reserved)
TIER_INDEX = {t: i for i, t in enumerate(TIERS)}


def provider_block_reason(scenario: Scenario, rules: PlacementRules, provider: Provider) -> str | None:
    """Why ``rules`` (plus the global policy) forbid ``provider``; None when it is allowed."""
    policy = scenario.policy
    if provider.name in policy.excluded_providers:
        return f"provider {provider.name} is excluded by policy.excluded_providers"
    if provider.jurisdiction in policy.excluded_jurisdictions:
        return f"jurisdiction {provider.jurisdiction} is excluded by policy.excluded_jurisdictions"
    if rules.allowed_providers and provider.name not in rules.allowed_providers:
        return f"provider {provider.name} is not in allowed_providers"
    if provider.name in rules.excluded_providers:
        return f"provider {provider.name} is in excluded_providers"
    if rules.allowed_jurisdictions and provider.jurisdiction not in rules.allowed_jurisdictions:
        return f"jurisdiction {provider.jurisdiction} is not in allowed_jurisdictions"
    if provider.jurisdiction in rules.excluded_jurisdictions:
        return f"jurisdiction {provider.jurisdiction} is in excluded_jurisdictions"
    return None


def residency_allows(scenario: Scenario, region: str, provider: Provider) -> bool:
    """Data residency: a region listed in policy.residency is served only from those jurisdictions."""
    allowed = scenario.policy.residency.get(region)
    return allowed is None or provider.jurisdiction in allowed


def training_tiers(job: TrainingJob) -> tuple[Tier, ...]:
    """Tiers a training job may buy: on-demand always, spot and reserved when the job allows them."""
    tiers = [Tier.on_demand]
    if job.spot_allowed:
        tiers.append(Tier.spot)
    if job.reserved_allowed:
        tiers.append(Tier.reserved)
    return tuple(tiers)


def energy_usd_per_gpu_hour(scenario: Scenario, board_power_w: float, pue: float) -> float:
    """Energy priced separately: board power x PUE x $/kWh; zero when energy is in the price."""
    if scenario.energy_usd_per_kwh is None:
        return 0.0
    return board_power_w / 1000.0 * pue * scenario.energy_usd_per_kwh


def gpu_hour_usd(scenario: Scenario, offering_id: str, tier: Tier) -> float | None:
    """Effective USD per GPU-hour of an offering at a tier: list price x provider multiplier + energy."""
    off = scenario.offering(offering_id)
    list_price = off.price(tier)
    if list_price is None:
        return None
    site = scenario.site(off.site)
    provider = scenario.provider(site.provider)
    accel = scenario.accelerator(off.accelerator)
    return list_price * provider.price_multiplier + energy_usd_per_gpu_hour(scenario, accel.board_power_w, site.pue)
