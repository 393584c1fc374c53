"""computemoat: a multi-provider AI compute broker (catalog, latency, MILP placement, fleet simulation,
inference gateway). The main entry points, importable from the top::

    import computemoat as cm

    scenario = cm.load_scenario("scenario.yaml")        # or cm.default_scenario()
    result = cm.plan(scenario, cm.rtt_matrix(scenario).rtt_ms)
    print(result.plan.total_cost_usd, cm.validate_plan(scenario, result.plan, cm.rtt_matrix(scenario).rtt_ms))

Names load on first use, so ``import computemoat`` stays cheap and needs no optional extra.
Every error computemoat raises on purpose is a ``ComputemoatError``; a user's mistake is a ``UserError``.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from computemoat.model.errors import ComputemoatError, InfeasibleError, MissingExtraError, UserError

try:
    __version__: str = version("computemoat")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

if TYPE_CHECKING:
    from computemoat.catalog import default_scenario, load_scenario
    from computemoat.export import gateway_yaml, write_skypilot_tasks
    from computemoat.latency import rtt_matrix
    from computemoat.model import Plan, Scenario
    from computemoat.planner import Change, PlanResult, plan, replan, validate_plan
    from computemoat.planner.plan_file import read_plan
    from computemoat.sim import simulate

_LAZY: dict[str, str] = {
    "Scenario": "computemoat.model",
    "Plan": "computemoat.model",
    "load_scenario": "computemoat.catalog",
    "default_scenario": "computemoat.catalog",
    "rtt_matrix": "computemoat.latency",
    "plan": "computemoat.planner",
    "replan": "computemoat.planner",
    "validate_plan": "computemoat.planner",
    "Change": "computemoat.planner",
    "PlanResult": "computemoat.planner",
    "read_plan": "computemoat.planner.plan_file",
    "write_skypilot_tasks": "computemoat.export",
    "gateway_yaml": "computemoat.export",
    "simulate": "computemoat.sim",
}

__all__ = [
    "Change",
    "ComputemoatError",
    "InfeasibleError",
    "MissingExtraError",
    "Plan",
    "PlanResult",
    "Scenario",
    "UserError",
    "__version__",
    "default_scenario",
    "gateway_yaml",
    "load_scenario",
    "plan",
    "read_plan",
    "replan",
    "rtt_matrix",
    "simulate",
    "validate_plan",
    "write_skypilot_tasks",
]


def __getattr__(name: str) -> Any:
    """PEP 562: import the module behind ``name`` only when it is first used."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'computemoat' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
