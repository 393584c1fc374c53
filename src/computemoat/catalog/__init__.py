"""Loading and validating scenarios; the bundled default data, each number with its public source."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from pathlib import Path

from computemoat.catalog.bundled import bundled_catalog
from computemoat.catalog.cities import Place, resolve_place, top_cities
from computemoat.catalog.scenario_file import build_scenario, load_scenario
from computemoat.model import Scenario, ScenarioSource, UserError


def default_scenario_path() -> Path:
    return Path(str(resources.files("computemoat.catalog") / "data" / "default.yaml"))


def starter_scenario_text() -> str:
    """The commented starter scenario that `computemoat init` writes (it validates and plans as is)."""
    return (resources.files("computemoat.catalog") / "data" / "starter.yaml").read_text(encoding="utf-8")


def scenario_source(path: Path) -> ScenarioSource:
    """Where a scenario came from, for a plan to record: its absolute path and SHA-256 of its bytes."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UserError(f"{path}: cannot read scenario ({e.strerror or e})") from None
    return ScenarioSource(path=str(path.resolve()), sha256=hashlib.sha256(data).hexdigest())


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
    "scenario_source",
    "starter_scenario_text",
    "top_cities",
]
