"""``--format json``: one JSON document on stdout per command, with a ``schema`` name and version so a
script can check what it reads (shapes documented in docs/cli.md, "Machine-readable output")."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, is_dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from computemoat.model import Plan, Scenario
    from computemoat.planner import PlanResult, ReplanResult


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


FormatOpt = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="table for people; json: one document on stdout for scripts"),
]


def _plain(v: Any) -> Any:
    """JSON-safe: NaN -> null, +-inf -> "inf"/"-inf", numpy scalars -> Python, dataclasses -> dicts."""
    if is_dataclass(v) and not isinstance(v, type):
        return _plain(asdict(v))
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if hasattr(v, "item") and callable(v.item):  # numpy scalar
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def emit(doc: dict[str, Any]) -> None:
    """Print ``doc`` as one JSON document on stdout (nothing else goes to stdout with --format json)."""
    typer.echo(json.dumps(_plain(doc), indent=2, ensure_ascii=False))


def _validation(scenario: Scenario, plan: Plan, rtt_ms: np.ndarray) -> dict[str, Any]:
    from computemoat.planner import validate_plan

    violations = validate_plan(scenario, plan, rtt_ms)
    return {"valid": not violations, "violations": [{"kind": str(v.kind), "message": v.message} for v in violations]}


def plan_doc(scenario: Scenario, result: PlanResult, plan: Plan, rtt_ms: np.ndarray) -> dict[str, Any]:
    """``computemoat-plan/1``: the plan (as in plan.json), what the solver said, independent validation."""
    return {
        "schema": "computemoat-plan/1",
        "scenario": scenario.name,
        "plan": plan.model_dump(mode="json"),
        "solver": {
            "model_status": result.model_status,
            "objective_usd": result.objective_usd,
            "bound_usd": result.bound_usd,
            "mip_gap": result.mip_gap,
            "solve_time_s": result.solve_time_s,
            "num_cols": result.num_cols,
            "num_rows": result.num_rows,
            "num_integer": result.num_integer,
            "pruned_offering_ids": list(result.pruned_offering_ids),
        },
        "unplaced": [asdict(u) for u in result.unplaced],
        "validation": _validation(scenario, plan, rtt_ms),
    }


def replan_doc(old: Plan, result: ReplanResult, plan: Plan, rtt_ms: np.ndarray) -> dict[str, Any]:
    """``computemoat-replan/1``: the new plan, the moves, what could not be placed, the cost change."""
    return {
        "schema": "computemoat-replan/1",
        "scenario": result.scenario.name,
        "plan": plan.model_dump(mode="json"),
        "moves": [asdict(m) for m in result.moves],
        "unplaced": [asdict(u) for u in result.unplaced],
        "cost_before_usd": old.total_cost_usd,
        "cost_after_usd": plan.total_cost_usd,
        "partial": bool(result.unplaced),
        "like_for_like_usd": dict(zip(("before", "after"), result.like_for_like_usd(old), strict=True)),
        "cost_tolerance": result.cost_tolerance,
        "validation": _validation(result.scenario, plan, rtt_ms),
    }


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in df.to_dict(orient="records")]
