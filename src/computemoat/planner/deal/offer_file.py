"""Read an offer YAML file: every problem is one line ``file:line: field: what is wrong (fix)``."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from computemoat.catalog.errors import dotted, pydantic_lines
from computemoat.catalog.yamlsource import read_yaml
from computemoat.model import Offer, Scenario, UserError
from computemoat.model.horizon import horizon_problems
from computemoat.planner.deal.apply import offer_problems


def load_offer(path: str | Path, scenario: Scenario) -> Offer:
    doc = read_yaml(path)
    if not isinstance(doc.data, dict):
        raise UserError(f"{doc.path}:1: an offer is a mapping of keys (see examples/deal.yaml)")
    try:
        offer = Offer.model_validate(doc.data)
    except ValidationError as e:
        raise UserError(*pydantic_lines(doc, e, Offer)) from None
    problems = offer_problems(scenario, offer)
    if offer.horizon is not None:
        problems += horizon_problems(
            offer.horizon,
            offerings={o.id for o in scenario.offerings},
            sites={s.id for s in scenario.sites},
            jobs={j.id for j in scenario.training_jobs},
            services={s.id for s in scenario.inference_services},
        )
    if problems:
        raise UserError(*(f"{doc.where(loc)}: {dotted(loc)}: {msg}" for loc, msg in problems))
    return offer
