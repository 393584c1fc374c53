"""Reading a plan JSON back (written by `computemoat plan --out`), with one-line errors."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from computemoat.model import InferencePlacement, Plan, Scenario, TrainingPlacement, UserError


def read_plan(path: Path, scenario: Scenario | None = None) -> Plan:
    """The plan at ``path``; when ``scenario`` is given, the plan must have been made for it."""
    try:
        plan = Plan.model_validate_json(path.read_bytes())  # bad UTF-8 becomes a ValidationError
    except OSError as e:
        raise UserError(f"{path}: cannot read plan ({e.strerror}; write one with `computemoat plan --out`)") from None
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(map(str, first["loc"])) or "(top level)"
        raise UserError(
            f"{path}: not a computemoat plan ({e.error_count()} errors, first at {where}: {first['msg']}; "
            "write one with `computemoat plan --out`)"
        ) from None
    if scenario is not None:
        if plan.scenario != scenario.name:
            raise UserError(
                f"{path}: plan is for scenario {plan.scenario!r}, not {scenario.name!r} (pass that one with --scenario)"
            )
        _check_references(path, plan, scenario)
    return plan


def _check_references(path: Path, plan: Plan, scenario: Scenario) -> None:
    """Every placement must name a workload, offering and site of ``scenario`` (a renamed or edited
    scenario would otherwise surface as a crash deep in a later stage)."""
    offerings = {o.id: o.site for o in scenario.offerings}
    jobs = {j.id for j in scenario.training_jobs}
    services = {s.id for s in scenario.inference_services}
    rows: list[tuple[str, str, set[str], TrainingPlacement | InferencePlacement]] = [
        *(("training job", t.job_id, jobs, t) for t in plan.training),
        *(("inference service", i.service_id, services, i) for i in plan.inference),
    ]
    for kind, workload_id, known, p in rows:
        if workload_id not in known or offerings.get(p.offering_id) != p.site_id:
            raise UserError(
                f"{path}: {kind} {workload_id} on {p.offering_id} does not match scenario {scenario.name!r} "
                "(pass the scenario the plan was made from with --scenario)"
            )
