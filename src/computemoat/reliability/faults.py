"""What goes wrong, and how often: the fault model, with a public source next to every default.

Shared by the planner (expected wall-clock hours, reliability.goodput) and the simulator (which samples
from it), so a plan never promises what the simulation then misses.

Defaults (derivations in docs/simulator.md):

* GPU/node interruptions — Llama 3 report (Dubey et al. 2024, §3.3.4, Table 5): 419 unexpected
  interruptions in a 54-day snapshot on 16,384 H100 → 16,384 × 54 × 24 / 419 ≈ 50,677 GPU-hours per
  interruption. Causes are the table's counts (they sum to 419).
* Site (region) outages — derived from published SLAs: the SLA's allowed monthly downtime is taken as
  the expected downtime, ``(1 - uptime) × 8,760 h/yr``, split into outages of ``outage_mean_hours``.
  AWS EC2 Region-Level SLA 99.99 % (aws.amazon.com/compute/sla), Google Compute Engine multi-zone
  99.99 % (cloud.google.com/compute/sla); providers without a published compute SLA get 99.9 %.
* Spot preemption — AWS Spot Instance Advisor's highest bucket for GPU instances (">20 %" of instances
  interrupted per month) → -ln(0.8)/730 h; Google's documented preemptible-VM rate (5-15 % per day,
  midpoint 10 %) → -ln(0.9)/24 h.
* Failure domains inside a site — J. Dean, "Designs, Lessons and Advice from Building Large Distributed
  Systems" (LADIS 2009), "the joys of real hardware, typical first year for a new cluster" (~1,800
  machines, taken as 30 racks of ~60): ~20 rack failures (40-80 machines, 1-6 h back) → 0.67 per
  rack-year, 3.5 h; ~1 PDU failure (500-1000 machines, ~6 h) → a power domain of ~1/2.4 of the cluster,
  0.42 per domain-year; ~0.5 overheating (most machines, 1-2 days) → cooling, off by default because
  the SLA-derived site outages already spend the whole-site downtime budget. GPU sizes of the domains
  (a rack = 4 HGX nodes = 32 GPUs, a power domain = 1,024 GPUs) are assumptions.
"""

from __future__ import annotations

import math
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from computemoat.model import HOURS_PER_MONTH, Scenario, UserError, did_you_mean

HOURS_PER_YEAR = 12 * HOURS_PER_MONTH  # 8,760 h

# Llama 3 report, Table 5 (root causes of unexpected interruptions, 54 days, 16,384 H100).
LLAMA3_INTERRUPTIONS = 419
LLAMA3_GPUS = 16_384
LLAMA3_DAYS = 54
LLAMA3_GPU_HOURS_PER_INTERRUPTION = LLAMA3_GPUS * LLAMA3_DAYS * 24 / LLAMA3_INTERRUPTIONS  # ≈ 50,677
LLAMA3_CAUSE_COUNTS: dict[str, int] = {
    "faulty_gpu": 148,
    "gpu_hbm3_memory": 72,
    "software_bug": 54,
    "network_switch_cable": 35,
    "host_maintenance": 32,
    "gpu_sram_memory": 19,
    "gpu_system_processor": 17,
    "nic": 7,
    "nccl_watchdog_timeout": 7,
    "silent_data_corruption": 6,
    "gpu_thermal_interface_sensor": 6,
    "ssd": 3,
    "power_supply": 3,
    "server_chassis": 2,
    "io_expansion_board": 2,
    "dependency": 2,
    "cpu": 2,
    "system_memory": 2,
}

# Published compute SLAs (monthly uptime). Region-level where the provider distinguishes levels.
SLA_UPTIME: dict[str, float] = {
    "aws": 0.9999,  # Amazon Compute SLA, Region-Level (instances in >= 2 AZs)
    "gcp": 0.9999,  # Compute Engine SLA, instances in multiple zones
}
DEFAULT_SLA_UPTIME = 0.999  # three nines: the common single-instance / neocloud tier (assumption)

AWS_SPOT_PER_INSTANCE_HOUR = -math.log(1 - 0.20) / HOURS_PER_MONTH  # Spot Advisor ">20 %/month" ≈ 3.1e-4
GCP_SPOT_PER_INSTANCE_HOUR = -math.log(1 - 0.10) / 24.0  # preemptible VMs 5-15 %/day, midpoint ≈ 4.4e-3
SPOT_PER_INSTANCE_HOUR: dict[str, float] = {"aws": AWS_SPOT_PER_INSTANCE_HOUR, "gcp": GCP_SPOT_PER_INSTANCE_HOUR}


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# Dean (LADIS 2009): per cluster-year of ~1,800 machines (~30 racks of ~60)
DEAN_RACK_FAILURES_PER_RACK_YEAR = 20 / 30
DEAN_RACK_REPAIR_HOURS = 3.5  # "1-6 hours to get back"
DEAN_PDU_FAILURES_PER_DOMAIN_YEAR = 1 / (1800 / 750)  # one PDU failure takes ~750 of ~1,800 machines
DEAN_PDU_REPAIR_HOURS = 6.0
DEAN_OVERHEAT_PER_CLUSTER_YEAR = 0.5
DEAN_OVERHEAT_HOURS = 36.0  # "1-2 days to recover"


class ReservedBilling(StrEnum):
    """How a reserved (committed) placement is billed when the workload leaves it."""

    take_or_pay = "take_or_pay"  # the commitment is paid in full through moves, stalls and outages
    as_used = "as_used"  # only while held (a contract with exit or suspension terms)


class TrainingPolicy(StrEnum):
    """What a job does when a node fails and no hot spare is left."""

    wait = "wait"  # restart only at full size, once a repaired node returns
    elastic = "elastic"  # continue at reduced size (throughput ∝ healthy nodes) until spares return


class FailureDomain(_Strict):
    """A correlated failure inside a site: every GPU of one domain (rack, power, cooling) goes at once."""

    name: str = Field(min_length=1)
    gpus: int | None = Field(default=None, gt=0, description="GPUs per domain; None = the whole site")
    failures_per_domain_year: float = Field(ge=0)
    repair_hours: float = Field(gt=0, description="mean time until the domain's GPUs are back")


DEFAULT_DOMAINS: tuple[FailureDomain, ...] = (
    FailureDomain(
        name="rack",
        gpus=32,
        failures_per_domain_year=DEAN_RACK_FAILURES_PER_RACK_YEAR,
        repair_hours=DEAN_RACK_REPAIR_HOURS,
    ),
    FailureDomain(
        name="power",
        gpus=1024,
        failures_per_domain_year=DEAN_PDU_FAILURES_PER_DOMAIN_YEAR,
        repair_hours=DEAN_PDU_REPAIR_HOURS,
    ),
    FailureDomain(name="cooling", gpus=None, failures_per_domain_year=0.0, repair_hours=DEAN_OVERHEAT_HOURS),
)


class GpuInterruptions(_Strict):
    gpu_hours_per_interruption: float = Field(
        default=LLAMA3_GPU_HOURS_PER_INTERRUPTION, gt=0, description="Llama 3: 16,384 x 54 d x 24 h / 419"
    )
    restart_overhead_s: float = Field(
        default=600.0, ge=0, description="detect, swap in a spare node, relaunch, load checkpoint (assumption)"
    )
    causes: dict[str, float] = Field(
        default_factory=lambda: {k: float(v) for k, v in LLAMA3_CAUSE_COUNTS.items()},
        description="relative weights of root causes (Llama 3 Table 5 counts)",
    )
    hot_spare_nodes: int | None = Field(
        default=None, ge=0, description="spare nodes per job; None = a spare is always there (Llama 3 setting)"
    )
    node_repair_hours: float = Field(default=24.0, gt=0, description="failed node back in the pool (assumption)")
    gpus_per_node: int = Field(default=8, gt=0, description="HGX H100: 8 GPUs per node")

    @model_validator(mode="after")
    def _weights(self) -> GpuInterruptions:
        if any(w < 0 for w in self.causes.values()) or (self.causes and sum(self.causes.values()) <= 0):
            raise ValueError("cause weights must be >= 0 with a positive sum")
        return self


class ProviderFaults(_Strict):
    """Outage and preemption behaviour of one provider; unset fields fall back to the SLA derivation."""

    sla_uptime: float | None = Field(default=None, gt=0, lt=1, description="monthly uptime, e.g. 0.9999")
    outages_per_year: float | None = Field(default=None, ge=0, description="per site; overrides the SLA")
    outage_mean_hours: float | None = Field(default=None, gt=0)
    spot_preemptions_per_instance_hour: float | None = Field(default=None, ge=0)
    provider_wide_outages_per_year: float | None = Field(default=None, ge=0)
    reserved_billing: ReservedBilling | None = Field(default=None, description="this provider's contract terms")


class Withdrawal(_Strict):
    """A policy shift: ``provider`` is gone for good from ``at_hours`` (sanctions, exit, contract end)."""

    provider: str = Field(min_length=1)
    at_hours: float = Field(ge=0)
    announced: bool = Field(default=True, description="jobs checkpoint at at_hours before moving")


class OutagePolicy(StrEnum):
    wait = "wait"  # stay put, resume when the site is back
    migrate = "migrate"  # replan away from the site at once
    auto = "auto"  # migrate when the expected remaining outage exceeds the migration time


class FaultModel(_Strict):
    """All fault parameters of a run. Every field has a default; a YAML file overrides any of them."""

    random_faults: bool = Field(default=True, description="false: no random event at all (withdrawals stay)")
    gpu: GpuInterruptions = GpuInterruptions()
    sla_uptime_default: float = Field(default=DEFAULT_SLA_UPTIME, gt=0, lt=1)
    outage_mean_hours: float = Field(
        default=4.0, gt=0, description="mean site outage (assumption; cf. AWS us-east-1 2021-12-07 ~7 h)"
    )
    outage_duration_sigma: float = Field(default=1.0, ge=0, description="lognormal shape: heavy tail")
    provider_wide_outages_per_year: float = Field(default=0.0, ge=0, description="all sites of a provider")
    regional_events_per_year: float = Field(default=0.0, ge=0, description="correlated, all providers")
    regional_event_radius_km: float = Field(default=300.0, gt=0)
    regional_event_mean_hours: float = Field(default=12.0, gt=0)
    spot_preemptions_per_instance_hour_default: float = Field(default=AWS_SPOT_PER_INSTANCE_HOUR, ge=0)
    spot_replace_hours: float = Field(default=0.25, ge=0, description="time to get a lost spot replica back")
    price_changes_per_year: float = Field(default=0.0, ge=0, description="per provider")
    price_change_median_factor: float = Field(default=0.9, gt=0, description="AWS cut P5 prices ~45% 2025-06")
    price_change_sigma: float = Field(default=0.1, ge=0)
    withdrawals: tuple[Withdrawal, ...] = ()
    providers: dict[str, ProviderFaults] = Field(default_factory=dict)
    outage_policy: OutagePolicy = OutagePolicy.auto
    checkpoint_interval_s: dict[str, float] = Field(
        default_factory=dict, description="job id -> fixed interval; others use Young/Daly sqrt(2 x write x MTBF)"
    )
    transfer_gbps: float = Field(default=100.0, gt=0, description="checkpoint copy between sites (assumption)")
    inference_redeploy_hours: float = Field(default=0.5, ge=0, description="bring replicas up after replan")
    domains: tuple[FailureDomain, ...] = Field(
        default=DEFAULT_DOMAINS, description="correlated failures inside a site (Dean, LADIS 2009)"
    )
    reserved_billing: ReservedBilling = ReservedBilling.take_or_pay
    training_policy: TrainingPolicy = TrainingPolicy.wait
    diurnal_peak_to_mean: float = Field(
        default=1.0, ge=1.0, description="demand peak / daily mean per region, peak at 14:00 local solar time"
    )

    # -- derived per-provider values ---------------------------------------------------------
    def _pf(self, provider: str) -> ProviderFaults:
        return self.providers.get(provider, ProviderFaults())

    def site_outage_mean_hours(self, provider: str) -> float:
        return self._pf(provider).outage_mean_hours or self.outage_mean_hours

    def site_outages_per_year(self, provider: str) -> float:
        """Explicit rate, else the SLA's downtime budget divided into outages of the mean length."""
        pf = self._pf(provider)
        if pf.outages_per_year is not None:
            return pf.outages_per_year
        uptime = pf.sla_uptime or SLA_UPTIME.get(provider, self.sla_uptime_default)
        return (1.0 - uptime) * HOURS_PER_YEAR / self.site_outage_mean_hours(provider)

    def spot_per_instance_hour(self, provider: str) -> float:
        pf = self._pf(provider)
        if pf.spot_preemptions_per_instance_hour is not None:
            return pf.spot_preemptions_per_instance_hour
        return SPOT_PER_INSTANCE_HOUR.get(provider, self.spot_preemptions_per_instance_hour_default)

    def provider_wide_per_year(self, provider: str) -> float:
        pf = self._pf(provider)
        return (
            pf.provider_wide_outages_per_year
            if pf.provider_wide_outages_per_year is not None
            else (self.provider_wide_outages_per_year)
        )

    def reserved_billing_for(self, provider: str) -> ReservedBilling:
        return self._pf(provider).reserved_billing or self.reserved_billing

    def planning_rates(self) -> FaultModel:
        """The rates a job plans its checkpoints with: this model's, with random faults on (a job that
        checkpoints only when the simulation happens to draw faults would lose everything to a withdrawal)."""
        return self if self.random_faults else self.model_copy(update={"random_faults": True})

    def gpu_rates(self) -> tuple[float, dict[str, float]]:
        """(node-level interruptions per GPU-hour, per-domain failures per domain-hour by domain name).

        ``gpu.gpu_hours_per_interruption`` is the measured *total* (Llama 3 counts every interruption,
        rack and power events included), so the domains take their share out of it, never add to it:
        node rate = total - sum(domain rate / domain GPUs), domains scaled down if they exceed the total."""
        total = 1.0 / self.gpu.gpu_hours_per_interruption
        domains = [d for d in self.active_domains() if d.gpus is not None]
        per_gpu = sum(d.failures_per_domain_year / HOURS_PER_YEAR / (d.gpus or 1) for d in domains)
        scale = min(1.0, total / per_gpu) if per_gpu > 0 else 0.0
        per_domain = {d.name: scale * d.failures_per_domain_year / HOURS_PER_YEAR for d in domains}
        return max(total - scale * per_gpu, 0.0), per_domain

    def active_domains(self) -> tuple[FailureDomain, ...]:
        return tuple(d for d in self.domains if d.failures_per_domain_year > 0) if self.random_faults else ()

    def check_against(self, scenario: Scenario, source: str = "faults") -> None:
        """Names must exist in the scenario; every unknown one is its own line."""
        known = [p.name for p in scenario.providers]
        lines = []
        for name in self.providers:
            if name not in known:
                lines.append(f"{source}: providers.{name}: unknown provider {name!r}{_hint(name, known)}")
        for i, w in enumerate(self.withdrawals):
            if w.provider not in known:
                lines.append(
                    f"{source}: withdrawals[{i}].provider: unknown provider {w.provider!r}{_hint(w.provider, known)}"
                )
        jobs = [j.id for j in scenario.training_jobs]
        for job_id, interval_s in self.checkpoint_interval_s.items():
            if job_id not in jobs:
                lines.append(
                    f"{source}: checkpoint_interval_s.{job_id}: unknown training job {job_id!r}{_hint(job_id, jobs)}"
                )
            elif not interval_s > 0:
                lines.append(f"{source}: checkpoint_interval_s.{job_id}: must be > 0 seconds, got {interval_s}")
        if lines:
            raise UserError(*lines)

    @classmethod
    def none(cls, withdrawals: tuple[Withdrawal, ...] = ()) -> FaultModel:
        """Nothing fails at random (the plan as priced); scheduled withdrawals still happen."""
        return cls(random_faults=False, withdrawals=withdrawals)


def _hint(value: str, known: list[str]) -> str:
    return f" ({did_you_mean(value, known, known=True)})"
