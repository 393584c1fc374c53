"""Reading a plan JSON back (written by `computemoat plan --out`), with one-line errors."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from computemoat.model import Plan, Scenario, UserError


def read_plan(path: Path, scenario: Scenario | None = None) -> Plan:
    """The plan at ``path``; when ``scenario`` is given, the plan must have been made for it."""
    try:
        plan = Plan.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise UserError(f"{path}: cannot read plan ({e.strerror}; write one with `computemoat plan --out`)") from None
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(map(str, first["loc"])) or "(top level)"
        raise UserError(
            f"{path}: not a computemoat plan ({e.error_count()} errors, first at {where}: {first['msg']}; "
            "write one with `computemoat plan --out`)"
        ) from None
    if scenario is not None and plan.scenario != scenario.name:
        raise UserError(
            f"{path}: plan is for scenario {plan.scenario!r}, not {scenario.name!r} (pass that one with --scenario)"
        )
    return plan
