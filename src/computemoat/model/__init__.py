"""Domain types only: pydantic, frozen, no I/O, no math beyond trivial derived views."""

from computemoat.model.errors import ComputemoatError, InfeasibleError, MissingExtraError, UserError
from computemoat.model.network import C_VACUUM_KM_PER_S, LeoShell, NetworkSettings
from computemoat.model.plan import Assignment, InferencePlacement, Plan, ScenarioSource, TrainingPlacement
from computemoat.model.policy import Policy
from computemoat.model.provider import Accelerator, Offering, Provider, ProviderKind, Site, Tier
from computemoat.model.scenario import Scenario, UnknownReference
from computemoat.model.suggest import closest, did_you_mean
from computemoat.model.units import HOURS_PER_MONTH
from computemoat.model.usage import UsageRecord
from computemoat.model.workload import InferenceService, PlacementRules, TrainingJob, UserRegion

__all__ = [
    "C_VACUUM_KM_PER_S",
    "HOURS_PER_MONTH",
    "Accelerator",
    "Assignment",
    "ComputemoatError",
    "InfeasibleError",
    "InferencePlacement",
    "InferenceService",
    "LeoShell",
    "MissingExtraError",
    "NetworkSettings",
    "Offering",
    "PlacementRules",
    "Plan",
    "Policy",
    "Provider",
    "ProviderKind",
    "Scenario",
    "ScenarioSource",
    "Site",
    "Tier",
    "TrainingJob",
    "TrainingPlacement",
    "UnknownReference",
    "UsageRecord",
    "UserError",
    "UserRegion",
    "closest",
    "did_you_mean",
]
