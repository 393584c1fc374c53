"""Where everything runs: the placement MILP (HiGHS), the greedy baseline, an independent validator,
explanations, infeasibility diagnosis and re-planning after a change."""

from computemoat.planner.greedy import GreedyResult, greedy_plan
from computemoat.planner.replan import Change, Move, ReplanResult, apply_change, replan
from computemoat.planner.solve import PlanResult, SolveProgress, Unplaced, plan
from computemoat.planner.validate import Violation, validate_plan

__all__ = [
    "Change",
    "GreedyResult",
    "Move",
    "PlanResult",
    "ReplanResult",
    "SolveProgress",
    "Unplaced",
    "Violation",
    "apply_change",
    "greedy_plan",
    "plan",
    "replan",
    "validate_plan",
]
