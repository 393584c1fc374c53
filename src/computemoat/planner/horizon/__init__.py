"""Multi-period planning: a horizon of periods with per-period demand, capacity and prices, commitments
(term, take-or-pay, upfront) as decisions, training windows with expected wall-clock hours, data-gravity
egress in the objective, and caps/N+k in every period. The formulation is in :mod:`.formulation`."""

from computemoat.planner.horizon.problem import HorizonProblem, flatten_horizon
from computemoat.planner.horizon.result import HorizonPlan, InferenceRental, SignedCommitment, TrainingRun
from computemoat.planner.horizon.solve import HorizonSolution, plan_horizon, replan_from, solve_problem

__all__ = [
    "HorizonPlan",
    "HorizonProblem",
    "HorizonSolution",
    "InferenceRental",
    "SignedCommitment",
    "TrainingRun",
    "flatten_horizon",
    "plan_horizon",
    "replan_from",
    "solve_problem",
]
