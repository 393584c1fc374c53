from __future__ import annotations

from pathlib import Path

import pytest

from computemoat.catalog import load_scenario

OFFERS = {"deal.yaml"}  # offers for `computemoat deal`, loaded in tests/deal
EXAMPLES = sorted(p for p in (Path(__file__).parents[2] / "examples").glob("*.yaml") if p.name not in OFFERS)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_scenarios_load(path: Path) -> None:
    s = load_scenario(path)
    assert s.offerings and (s.training_jobs or s.inference_services)


def test_examples_exist() -> None:
    assert len(EXAMPLES) >= 2


def test_docs_show_the_bundled_default_verbatim() -> None:
    """docs/scenario.md promises the full default scenario; keep it from drifting."""
    from computemoat.catalog import default_scenario_path

    docs = (Path(__file__).parents[2] / "docs" / "scenario.md").read_text(encoding="utf-8")
    assert default_scenario_path().read_text(encoding="utf-8") in docs
