"""Domain types only: pydantic, frozen, no I/O, no math beyond trivial derived views."""

from computemoat.model.errors import InfeasibleError, UserError
from computemoat.model.network import C_VACUUM_KM_PER_S, LeoShell, NetworkSettings
from computemoat.model.plan import Assignment, InferencePlacement, Plan, PlanStatus, TrainingPlacement
from computemoat.model.policy import Policy
from computemoat.model.provider import Accelerator, Offering, Provider, ProviderKind, Site, Tier
from computemoat.model.scenario import Scenario, UnknownReference
from computemoat.model.usage import UsageRecord
from computemoat.model.workload import InferenceService, PlacementRules, TrainingJob, UserRegion

__all__ = [
    "C_VACUUM_KM_PER_S",
    "Accelerator",
    "Assignment",
    "InfeasibleError",
    "InferencePlacement",
    "InferenceService",
    "LeoShell",
    "NetworkSettings",
    "Offering",
    "PlacementRules",
    "Plan",
    "PlanStatus",
    "Policy",
    "Provider",
    "ProviderKind",
    "Scenario",
    "Site",
    "Tier",
    "TrainingJob",
    "TrainingPlacement",
    "UnknownReference",
    "UsageRecord",
    "UserError",
    "UserRegion",
]
