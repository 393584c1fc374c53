"""An offer applied to a scenario: its provider, sites and capacity as commitment-only offerings, and one
commitment option per capacity line (term, take-or-pay, upfront, minimum) starting at the offer's period.

Checks run first and name each problem with its location (``offer_problems``): unknown sites or
accelerators, a start before the horizon, a term that ends after it, a minimum above the capacity.
"""

from __future__ import annotations

from computemoat.model import (
    CommitmentOption,
    Horizon,
    Offer,
    Offering,
    OfferingSchedule,
    Provider,
    Scenario,
    Site,
)

Loc = tuple[str | int, ...]


def offer_horizon(scenario: Scenario, offer: Offer) -> Horizon | None:
    return offer.horizon or scenario.horizon


def start_period(h: Horizon, offer: Offer) -> int:
    """First whole period from the offer's start date on."""
    p = h.period_of(offer.start)
    return p if h.period_start(p) == offer.start else p + 1


def term_periods(h: Horizon, offer: Offer) -> int:
    return -(-offer.term_months // h.period.months)


def offer_problems(scenario: Scenario, offer: Offer) -> list[tuple[Loc, str]]:
    out: list[tuple[Loc, str]] = []
    providers = {p.name for p in scenario.providers}
    if offer.provider not in providers and offer.jurisdiction is None:
        out.append((("provider",), f"unknown provider {offer.provider!r} (give jurisdiction: to add it as new)"))
    sites = {s.id: s for s in scenario.sites}
    accels = {a.name for a in scenario.accelerators}
    for i, line in enumerate(offer.capacity):
        site = sites.get(line.site)
        if site is None and (line.lat_deg is None or line.lon_deg is None):
            out.append((("capacity", i, "site"), f"unknown site {line.site!r} (give lat_deg/lon_deg for a new site)"))
        elif site is not None and site.provider != offer.provider:
            out.append(
                (("capacity", i, "site"), f"site {line.site!r} belongs to {site.provider}, not {offer.provider}")
            )
        if line.accelerator not in accels:
            out.append((("capacity", i, "accelerator"), f"unknown accelerator {line.accelerator!r} "
                        f"(known: {', '.join(sorted(accels))})"))  # fmt: skip
        if line.capacity_gpus % line.gpus_per_instance:
            out.append((("capacity", i, "capacity_gpus"), "must be a multiple of gpus_per_instance"))
        if offer.min_commit_gpus > line.capacity_gpus:
            out.append((("min_commit_gpus",), f"{offer.min_commit_gpus} exceeds the {line.capacity_gpus} GPUs offered"))
    h = offer_horizon(scenario, offer)
    if h is None:
        out.append((("horizon",), "no horizon to evaluate over: add horizon: to the offer or the scenario"))
        return out
    first = start_period(h, offer)
    end = h.period_start(h.periods)
    if offer.start < h.start:
        out.append((("start",), f"{offer.start} is before the horizon start {h.start} (dates must not go back)"))
    elif offer.start >= end:
        out.append((("start",), f"{offer.start} is after the horizon ({h.periods} {h.period.value}s from {h.start} "
                    f"to {end}; start earlier or lengthen the horizon)"))  # fmt: skip
    elif first + term_periods(h, offer) > h.periods:
        out.append((("term_months",), f"a {offer.term_months}-month term from {offer.start} ends after the horizon "
                    f"({h.periods} {h.period.value}s to {end}; shorten the term or lengthen the horizon)"))  # fmt: skip
    return out


def offer_option_ids(offer: Offer) -> tuple[str, ...]:
    return tuple(f"offer:{offer.name}:{i}" for i in range(len(offer.capacity)))


def without_offer(scenario: Scenario, offer: Offer) -> Scenario:
    """The scenario on the offer's horizon, nothing of the offer added."""
    return scenario.model_copy(update={"horizon": offer_horizon(scenario, offer)})


def apply_offer(
    scenario: Scenario, offer: Offer, *, usd_per_gpu_hour: float | None = None, until_period: int | None = None
) -> Scenario:
    """The scenario with the offer (at ``usd_per_gpu_hour``, default the offered price); ``until_period``
    cuts the offer short (the provider withdraws then: no capacity, no payment owed from that period)."""
    h = offer_horizon(scenario, offer)
    assert h is not None, "offer_problems reports a missing horizon"
    price = offer.usd_per_gpu_hour if usd_per_gpu_hour is None else usd_per_gpu_hour
    first = start_period(h, offer)
    last = first + term_periods(h, offer) if until_period is None else until_period
    providers = list(scenario.providers)
    if offer.provider not in {p.name for p in providers}:
        providers.append(Provider(name=offer.provider, kind=offer.kind, jurisdiction=offer.jurisdiction or "",
                                  illustrative=offer.illustrative, source=offer.source))  # fmt: skip
    sites = list(scenario.sites)
    known = {s.id for s in sites}
    offerings, schedules, options = list(scenario.offerings), list(h.offerings), list(h.commitments)
    for i, (line, option_id) in enumerate(zip(offer.capacity, offer_option_ids(offer), strict=True)):
        if line.site not in known:
            sites.append(Site(id=line.site, provider=offer.provider, region=line.site.split(":")[-1],
                              lat_deg=line.lat_deg or 0.0, lon_deg=line.lon_deg or 0.0, pue=line.pue,
                              power_capacity_mw=line.power_capacity_mw, ground_station=line.ground_station,
                              illustrative=offer.illustrative))  # fmt: skip
            known.add(line.site)
        off_id = f"{line.site}:offer-{i}-{line.accelerator.lower()}x{line.gpus_per_instance}"
        offerings.append(Offering(id=off_id, site=line.site, accelerator=line.accelerator,
                                  instance_type=f"offer-{line.accelerator.lower()}x{line.gpus_per_instance}",
                                  gpus_per_instance=line.gpus_per_instance, usd_per_gpu_hour_on_demand=price,
                                  capacity_gpus=line.capacity_gpus, source=offer.source))  # fmt: skip
        capacity = tuple(line.capacity_gpus if first <= t < last else 0 for t in range(h.periods))
        schedules.append(OfferingSchedule(offering=off_id, capacity_gpus=capacity, commitment_only=True))
        if last > first:
            options.append(CommitmentOption(id=option_id, offering=off_id, term_periods=last - first,
                                            usd_per_gpu_hour=price, take_or_pay_share=offer.take_or_pay_share,
                                            upfront_usd_per_gpu=offer.upfront_usd_per_gpu,
                                            earliest_start_period=first, latest_start_period=first,
                                            min_gpus=offer.min_commit_gpus, max_gpus=line.capacity_gpus))  # fmt: skip
    horizon = h.model_copy(update={"offerings": tuple(schedules), "commitments": tuple(options)})
    return Scenario.model_validate(
        {**scenario.model_dump(), "providers": providers, "sites": sites, "offerings": offerings, "horizon": horizon}
    )
