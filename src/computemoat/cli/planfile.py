"""Which scenario a command on a plan file uses: ``--scenario`` when given, else the YAML file the plan
records it was made from (checked unchanged by its SHA-256), else the bundled default."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from computemoat.cli.common import load_scenario_arg
from computemoat.model.errors import UserError

if TYPE_CHECKING:
    from computemoat.model import Plan, Scenario, ScenarioSource


def recorded_source(plan_file: Path) -> ScenarioSource | None:
    """The ``scenario_source`` a plan file records, or None (unreadable files are reported later, by
    read_plan, with the full message)."""
    from pydantic import ValidationError

    from computemoat.model import ScenarioSource

    try:
        raw = json.loads(plan_file.read_bytes()).get("scenario_source")
        return None if raw is None else ScenarioSource.model_validate(raw)
    except (OSError, ValueError, AttributeError, ValidationError):
        return None


def scenario_for_plan(plan_file: Path | None, scenario: Path | None) -> tuple[Scenario, Path | None]:
    """The scenario to read ``plan_file`` against (see the module docstring) and the file it came from
    (None: bundled); a recorded file that is gone or was edited since is one clear error, never a
    silent switch to another scenario."""
    from computemoat.catalog import scenario_source

    if scenario is not None or plan_file is None:
        return load_scenario_arg(scenario), scenario
    source = recorded_source(plan_file)
    if source is None:
        return load_scenario_arg(None), None
    path = Path(source.path)
    if not path.is_file():
        raise UserError(f"{plan_file}: made from {path}, which no longer exists (pass the scenario with --scenario)")
    if scenario_source(path).sha256 != source.sha256:
        raise UserError(
            f"{plan_file}: {path} changed since this plan was made (plan it again, or pass --scenario {path} "
            "to use it as it is now)"
        )
    return load_scenario_arg(path), path


def with_source(plan: Plan, scenario: Path | None) -> Plan:
    """``plan`` recording the YAML file it was made from (nothing for the bundled default)."""
    from computemoat.catalog import scenario_source

    return plan if scenario is None else plan.model_copy(update={"scenario_source": scenario_source(scenario)})
