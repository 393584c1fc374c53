from __future__ import annotations

import pytest

from computemoat.catalog import resolve_place, top_cities
from computemoat.model import UserError


def test_resolve_city_and_coordinates() -> None:
    london = resolve_place("London")
    assert london.country_iso2 == "GB" and abs(london.lat_deg - 51.5) < 0.1
    assert resolve_place("sao paulo").name == "São Paulo"
    p = resolve_place("40.7, -74.0")
    assert (p.lat_deg, p.lon_deg) == (40.7, -74.0)


@pytest.mark.parametrize("text", ["Xyzzyville", "95,10"])
def test_bad_place_is_one_line(text: str) -> None:
    with pytest.raises(UserError) as info:
        resolve_place(text)
    assert len(info.value.lines) == 1


def test_top_cities_by_population_with_country_cap() -> None:
    cities = top_cities(10, max_per_country=1)
    assert len(cities) == 10
    assert len({c.country_iso2 for c in cities}) == 10
    weights = [c.weight for c in cities]
    assert weights == sorted(weights, reverse=True)
