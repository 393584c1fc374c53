"""Loading and validating scenarios; the bundled default data, each number with its public source."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from computemoat.catalog.bundled import bundled_catalog
from computemoat.catalog.cities import Place, resolve_place, top_cities
from computemoat.catalog.scenario_file import build_scenario, load_scenario
from computemoat.model import Scenario


def default_scenario_path() -> Path:
    return Path(str(resources.files("computemoat.catalog") / "data" / "default.yaml"))


@cache
def default_scenario() -> Scenario:
    """The bundled default scenario (real offerings + clearly labelled illustrative parts)."""
    return load_scenario(default_scenario_path())


__all__ = [
    "Place",
    "build_scenario",
    "bundled_catalog",
    "default_scenario",
    "default_scenario_path",
    "load_scenario",
    "resolve_place",
    "top_cities",
]
