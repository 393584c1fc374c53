"""Everything a `simulate`/`sweep` command needs before the first run: the scenario's RTT matrix, a
plan (read from JSON, or planned now), the fault model checked against the scenario; and writing
results to files. Kept here so the CLI stays thin."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from computemoat.model import Plan, Scenario
from computemoat.planner.plan_file import read_plan
from computemoat.sim.faults import FaultModel, OutagePolicy, load_faults
from computemoat.sim.result import SimResult


@dataclass(frozen=True)
class Prepared:
    scenario: Scenario
    plan: Plan
    rtt_ms: NDArray[np.float64]
    faults: FaultModel
    planned_now: bool


def prepare(
    scenario: Scenario,
    plan_path: Path | None,
    faults_path: Path | None,
    outage_policy: OutagePolicy | None = None,
    time_limit_s: float = 60.0,
) -> Prepared:
    """RTT matrix, plan (planned with the MILP when no file is given) and a validated fault model."""
    from computemoat.latency import rtt_matrix

    faults = load_faults(faults_path) if faults_path is not None else FaultModel()
    if outage_policy is not None:
        faults = faults.model_copy(update={"outage_policy": outage_policy})
    faults.check_against(scenario, source=str(faults_path or "faults"))
    rtt = rtt_matrix(scenario).rtt_ms
    if plan_path is not None:
        return Prepared(scenario, read_plan(plan_path, scenario), rtt, faults, planned_now=False)
    from computemoat.planner import plan as solve

    return Prepared(scenario, solve(scenario, rtt, time_limit_s=time_limit_s).plan, rtt, faults, planned_now=True)


def _clean(v: object) -> object:
    if isinstance(v, float) and not np.isfinite(v):
        return None if np.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def write_run(result: SimResult, out_dir: Path) -> list[Path]:
    """jobs.parquet, services.parquet, moves.json, summary.json under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "jobs.parquet", out_dir / "services.parquet", out_dir / "moves.json", out_dir / "summary.json"]
    result.jobs.to_parquet(paths[0], index=False)
    result.services.to_parquet(paths[1], index=False)
    paths[2].write_text(result.moves_frame().to_json(orient="records", indent=1), encoding="utf-8")
    summary = {k: _clean(v) for k, v in result.summary.items()}
    paths[3].write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    return paths
