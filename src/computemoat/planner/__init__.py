"""Where everything runs: the placement MILP (HiGHS), the greedy baseline, an independent validator,
explanations, infeasibility diagnosis and re-planning after a change."""

from computemoat.planner.families import MoveSpec
from computemoat.planner.flatten import FlatProblem, flatten
from computemoat.planner.greedy import GreedyResult, greedy_plan
from computemoat.planner.milp import MilpModel, Objective, build
from computemoat.planner.plan_api import plan
from computemoat.planner.replan import Change, Move, MoveKind, ReplanResult, apply_change, diff_plans, replan
from computemoat.planner.solve import PlanResult, SolveProgress, Stage, solve_flat
from computemoat.planner.unflatten import Unplaced, WorkloadKind, unflatten
from computemoat.planner.validate import Violation, ViolationKind, validate_plan

__all__ = [
    "Change",
    "FlatProblem",
    "GreedyResult",
    "MilpModel",
    "Move",
    "MoveKind",
    "MoveSpec",
    "Objective",
    "PlanResult",
    "ReplanResult",
    "SolveProgress",
    "Stage",
    "Unplaced",
    "Violation",
    "ViolationKind",
    "WorkloadKind",
    "apply_change",
    "build",
    "diff_plans",
    "flatten",
    "greedy_plan",
    "plan",
    "replan",
    "solve_flat",
    "unflatten",
    "validate_plan",
]
