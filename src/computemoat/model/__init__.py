"""Domain types only: pydantic, frozen, no I/O, no math beyond trivial derived views."""

from computemoat.model.errors import (
    ComputemoatError,
    InfeasibleError,
    MissingExtraError,
    TimeLimitError,
    UserError,
    no_plan_in_time,
)
from computemoat.model.horizon import (
    CapScope,
    CommitmentOption,
    Dataset,
    DemandSeries,
    Horizon,
    OfferingSchedule,
    PeriodKind,
    TrainingWindow,
)
from computemoat.model.network import C_VACUUM_KM_PER_S, LeoShell, NetworkSettings
from computemoat.model.offer import Offer, OfferCapacity
from computemoat.model.plan import Assignment, InferencePlacement, Plan, PlanStatus, ScenarioSource, TrainingPlacement
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
    "CapScope",
    "CommitmentOption",
    "ComputemoatError",
    "Dataset",
    "DemandSeries",
    "Horizon",
    "InfeasibleError",
    "InferencePlacement",
    "InferenceService",
    "LeoShell",
    "MissingExtraError",
    "NetworkSettings",
    "Offer",
    "OfferCapacity",
    "Offering",
    "OfferingSchedule",
    "PeriodKind",
    "PlacementRules",
    "Plan",
    "PlanStatus",
    "Policy",
    "Provider",
    "ProviderKind",
    "Scenario",
    "ScenarioSource",
    "Site",
    "Tier",
    "TimeLimitError",
    "TrainingJob",
    "TrainingPlacement",
    "TrainingWindow",
    "UnknownReference",
    "UsageRecord",
    "UserError",
    "UserRegion",
    "closest",
    "did_you_mean",
    "no_plan_in_time",
]
