"""Scenario (with its horizon) + RTT matrix -> everything the multi-period formulation needs, as arrays.

What no plan could satisfy on its own (a job with no candidate in its window, a region no site can
reach) is reported here, by name, before a solver is started.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from computemoat.model import InfeasibleError, Scenario
from computemoat.planner.horizon.inference import InferenceStructure, inference_structure
from computemoat.planner.horizon.offers import Commitments, OfferingArrays, commitment_options, offering_arrays
from computemoat.planner.horizon.periods import PeriodGrid, period_grid
from computemoat.planner.horizon.training import TrainingCandidates, training_candidates
from computemoat.reliability import FaultModel


@dataclass(frozen=True)
class HorizonProblem:
    scenario: Scenario
    rtt_ms: np.ndarray
    grid: PeriodGrid
    offs: OfferingArrays
    commits: Commitments
    train: TrainingCandidates
    inf: InferenceStructure
    provider_names: tuple[str, ...]


def flatten_horizon(scenario: Scenario, rtt_ms: np.ndarray, faults: FaultModel | None = None) -> HorizonProblem:
    """Build the arrays; raise InfeasibleError naming every workload no plan could place.

    ``faults`` is the failure/checkpoint model training hours are planned with (default: the
    simulator's defaults; ``FaultModel.none()`` plans nominal hours)."""
    rtt_ms = np.asarray(rtt_ms, dtype=float)
    if rtt_ms.shape != (len(scenario.user_regions), len(scenario.sites)):
        raise ValueError(f"rtt_ms has shape {rtt_ms.shape}, expected (user_regions, sites)")
    grid = period_grid(scenario)
    offs = offering_arrays(scenario, grid)
    commits = commitment_options(scenario, grid)
    committable = np.zeros(len(scenario.offerings), dtype=bool)
    committable[commits.offering[[bool(s) for s in commits.starts]]] = True
    train = training_candidates(scenario, grid, offs, committable, FaultModel() if faults is None else faults)
    inf = inference_structure(scenario, rtt_ms, offs, committable)
    if train.problems or inf.problems:
        raise InfeasibleError(*train.problems, *inf.problems)
    return HorizonProblem(
        scenario=scenario,
        rtt_ms=rtt_ms,
        grid=grid,
        offs=offs,
        commits=commits,
        train=train,
        inf=inf,
        provider_names=tuple(p.name for p in scenario.providers),
    )
