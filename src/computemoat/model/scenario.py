"""A scenario: everything the planner needs, fully resolved (no references to files or catalogs)."""

from __future__ import annotations

from collections import Counter

from pydantic import Field, model_validator

from computemoat.model.base import Frozen
from computemoat.model.horizon import Horizon, horizon_problems
from computemoat.model.network import NetworkSettings
from computemoat.model.policy import Policy
from computemoat.model.provider import Accelerator, Offering, Provider, Site
from computemoat.model.suggest import did_you_mean
from computemoat.model.units import HOURS_PER_MONTH
from computemoat.model.workload import InferenceService, TrainingJob, UserRegion

Loc = tuple[str | int, ...]


class UnknownReference(ValueError):
    """Fields name things the scenario does not define; ``problems`` holds (location, message) pairs."""

    def __init__(self, problems: list[tuple[Loc, str]]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems))
        self.problems = problems


class Scenario(Frozen):
    name: str = "scenario"
    description: str = ""
    horizon_hours: float = Field(default=HOURS_PER_MONTH, gt=0, description="period inference is priced over (1 month)")
    energy_usd_per_kwh: float | None = Field(
        default=None, ge=0, description="price energy separately (GPU board power x PUE); None = in the price"
    )
    providers: tuple[Provider, ...] = ()
    sites: tuple[Site, ...] = ()
    accelerators: tuple[Accelerator, ...] = ()
    offerings: tuple[Offering, ...] = ()
    user_regions: tuple[UserRegion, ...] = ()
    training_jobs: tuple[TrainingJob, ...] = ()
    inference_services: tuple[InferenceService, ...] = ()
    policy: Policy = Policy()
    network: NetworkSettings = NetworkSettings()
    horizon: Horizon | None = Field(default=None, description="periods, commitments, data; None = one period")

    # -- lookups (cheap, pure) -------------------------------------------------------------
    def provider(self, name: str) -> Provider:
        return next(p for p in self.providers if p.name == name)

    def site(self, site_id: str) -> Site:
        return next(s for s in self.sites if s.id == site_id)

    def offering(self, offering_id: str) -> Offering:
        return next(o for o in self.offerings if o.id == offering_id)

    def accelerator(self, name: str) -> Accelerator:
        return next(a for a in self.accelerators if a.name == name)

    def provider_of_offering(self, offering_id: str) -> Provider:
        return self.provider(self.site(self.offering(offering_id).site).provider)

    # -- cross-reference checks ------------------------------------------------------------
    @model_validator(mode="after")
    def _references(self) -> Scenario:
        problems: list[tuple[Loc, str]] = []
        for field, key in (
            ("providers", "name"),
            ("sites", "id"),
            ("accelerators", "name"),
            ("offerings", "id"),
            ("user_regions", "name"),
            ("training_jobs", "id"),
            ("inference_services", "id"),
        ):
            items = getattr(self, field)
            seen: Counter[str] = Counter()
            for i, item in enumerate(items):
                value = getattr(item, key)
                seen[value] += 1
                if seen[value] == 2:
                    problems.append(((field, i, key), f"duplicate {key} {value!r} (ids must be unique)"))
        providers = {p.name for p in self.providers}
        sites = {s.id for s in self.sites}
        accels = {a.name for a in self.accelerators}
        regions = {r.name for r in self.user_regions}
        jurisdictions = {p.jurisdiction for p in self.providers}

        def check(value: str, known: set[str], loc: Loc, what: str) -> None:
            if value not in known:
                problems.append((loc, f"unknown {what} {value!r}{_did_you_mean(value, known)}"))

        for i, s in enumerate(self.sites):
            check(s.provider, providers, ("sites", i, "provider"), "provider")
        for i, o in enumerate(self.offerings):
            check(o.site, sites, ("offerings", i, "site"), "site")
            check(o.accelerator, accels, ("offerings", i, "accelerator"), "accelerator")
        for field in ("training_jobs", "inference_services"):
            for i, w in enumerate(getattr(self, field)):
                for j, a in enumerate(w.accelerators):
                    check(a, accels, (field, i, "accelerators", j), "accelerator")
                for rule in ("allowed_providers", "excluded_providers"):
                    for j, p in enumerate(getattr(w, rule)):
                        check(p, providers, (field, i, rule, j), "provider")
        for i, svc in enumerate(self.inference_services):
            for r in svc.demand_rps or {}:
                check(r, regions, ("inference_services", i, "demand_rps", r), "user region")
            if svc.demand_rps is not None and sum(svc.demand_rps.values()) <= 0:
                problems.append((("inference_services", i, "demand_rps"), "total demand must be > 0"))
        for j, p in enumerate(self.policy.excluded_providers):
            check(p, providers, ("policy", "excluded_providers", j), "provider")
        for r, allowed in self.policy.residency.items():
            check(r, regions, ("policy", "residency", r), "user region")
            for j, jur in enumerate(allowed):
                check(jur, jurisdictions, ("policy", "residency", r, j), "jurisdiction")
        if self.inference_services and not self.user_regions:
            problems.append((("user_regions",), "inference services need at least one user region"))
        if self.horizon is not None:
            problems.extend(
                horizon_problems(
                    self.horizon,
                    offerings={o.id for o in self.offerings},
                    sites=sites,
                    jobs={j.id for j in self.training_jobs},
                    services={s.id for s in self.inference_services},
                )
            )
        if problems:
            raise UnknownReference(problems)
        return self

    # -- derived views -----------------------------------------------------------------------
    def demand_rps(self, service: InferenceService) -> dict[str, float]:
        """Requests/s per user region for ``service`` (explicit, or total split by region weight)."""
        if service.demand_rps is not None:
            return {r: v for r, v in service.demand_rps.items() if v > 0}
        total_w = sum(r.weight for r in self.user_regions)
        assert service.total_demand_rps is not None
        return {r.name: service.total_demand_rps * r.weight / total_w for r in self.user_regions}


def _did_you_mean(value: str, known: set[str]) -> str:
    hint = did_you_mean(value, known)
    return f" ({hint})" if hint else ""
