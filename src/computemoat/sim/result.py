"""Tidy results of one run: one row per training job, one per (service, region), plus the moves."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from computemoat.model import HOURS_PER_MONTH, Plan, Scenario, Tier
from computemoat.reliability import ReservedBilling
from computemoat.reliability.goodput import NODE
from computemoat.sim.faults import FaultModel
from computemoat.sim.inference import ALL_REGIONS, Deployment, RegionAvailability
from computemoat.sim.streams import stream
from computemoat.sim.timeline import NS_PER_HOUR, Timeline
from computemoat.sim.training import NO_CHECKPOINT_NS, JobState, Segment


@dataclass(frozen=True)
class Move:
    time_hours: float
    workload_id: str
    kind: str  # training | inference
    from_offering: str | None
    to_offering: str | None
    reason: str


def nines(availability: float) -> float:
    """-log10(unavailability): 0.999 -> 3.0; perfect availability -> inf."""
    return math.inf if availability >= 1.0 else -math.log10(1.0 - availability)


@dataclass(frozen=True)
class SimResult:
    """One run. ``jobs`` / ``services`` are DataFrames built on first access (a sweep reads the rows)."""

    seed: int
    months: float
    job_rows: tuple[dict[str, Any], ...]
    service_rows: tuple[dict[str, Any], ...]
    moves: tuple[Move, ...]
    summary: dict[str, Any] = field(default_factory=dict)
    final_plan: Plan | None = None  # the plan as it ran at the end (after every replan and move)

    @cached_property
    def jobs(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.job_rows), columns=JOB_COLUMNS)

    @cached_property
    def services(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.service_rows), columns=SERVICE_COLUMNS)

    def moves_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(m) for m in self.moves], columns=list(Move.__dataclass_fields__))


JOB_COLUMNS = [
    "job_id", "gpus", "work_hours", "completed", "stalled", "completion_hours", "deadline_hours",
    "met_deadline", "goodput", "interruptions", "checkpoint_interval_hours", "checkpoint_hours",
    "lost_work_hours", "restart_hours", "spare_wait_hours", "outage_and_migration_hours", "migrations",
    "final_offering", "gpu_hours_billed", "cost_usd", "wasted_cost_usd", "egress_usd", "plan_cost_usd",
]  # fmt: skip
SERVICE_COLUMNS = [
    "service_id", "region", "demand_rps", "availability", "served_fraction", "rtt_p50_ms", "rtt_p95_ms",
    "degraded_rtt_p50_ms", "degraded_rtt_p95_ms", "degraded_hours", "nines", "downtime_hours", "cost_usd",
    "plan_cost_usd",
]  # fmt: skip


def _segment_cost(faults: FaultModel, timeline: Timeline, seg: Segment, job_hours: float) -> float:
    """Plan rate x ∫ price factor over the time held. A reserved placement is a commitment for the job's
    planned hours at a contract price (no price changes): take-or-pay bills all of it (within the
    simulated window) even when the job moves, stalls or waits out an outage; ``as_used`` only the hours held."""
    p = seg.placement
    # the plan prices the job on its expected wall-clock hours (reliability.job_reliability); plans
    # built by hand without them are priced on the job's hours of work
    planned_h = p.expected_hours or p.nominal_hours or job_hours
    rate_usd_per_h = p.cost_usd / planned_h
    if p.tier != Tier.reserved:
        return rate_usd_per_h * timeline.price_hours(p.provider, seg.start_ns, seg.end_ns)
    held_h = (seg.end_ns - seg.start_ns) / NS_PER_HOUR
    if faults.reserved_billing_for(p.provider) == ReservedBilling.as_used:
        return rate_usd_per_h * held_h
    committed_h = min(planned_h, (timeline.horizon_ns - seg.start_ns) / NS_PER_HOUR)
    return rate_usd_per_h * max(held_h, committed_h)


def _job_row(scenario: Scenario, faults: FaultModel, plan: Plan, timeline: Timeline, st: JobState) -> dict[str, Any]:
    job, h = st.job, NS_PER_HOUR
    end_ns = st.done_ns if st.done_ns is not None else timeline.horizon_ns
    held_ns = sum(s.end_ns - s.start_ns for s in st.segments)
    cost = sum(_segment_cost(faults, timeline, s, job.hours) for s in st.segments)
    useful_ns = st.work_ns if st.done_ns is not None else st.saved_ns
    gpu_cost = cost
    cost += st.egress_usd
    other_ns = end_ns - useful_ns - st.checkpoint_ns - st.lost_ns - st.restart_spent_ns - st.spare_wait_ns
    plan_cost = next(p.cost_usd for p in plan.training if p.job_id == job.id)
    return {
        "job_id": job.id,
        "gpus": job.gpus,
        "work_hours": job.hours,
        "completed": st.done_ns is not None,
        "stalled": st.stalled,
        "completion_hours": st.done_ns / h if st.done_ns is not None else math.nan,
        "deadline_hours": job.deadline_hours if job.deadline_hours is not None else math.nan,
        "met_deadline": st.done_ns is not None and (job.deadline_hours is None or st.done_ns / h <= job.deadline_hours),
        "goodput": useful_ns / end_ns if end_ns else 1.0,
        "interruptions": st.interruptions,
        "checkpoint_interval_hours": st.tau_ns / h if st.tau_ns < NO_CHECKPOINT_NS else math.inf,
        "checkpoint_hours": st.checkpoint_ns / h,
        "lost_work_hours": st.lost_ns / h,
        "restart_hours": st.restart_spent_ns / h,
        "spare_wait_hours": st.spare_wait_ns / h,
        "outage_and_migration_hours": other_ns / h,
        "migrations": st.migrations,
        "final_offering": st.placement.offering_id,
        "gpu_hours_billed": held_ns / h * job.gpus,
        "cost_usd": cost,
        "wasted_cost_usd": gpu_cost * (1 - useful_ns / held_ns) + st.egress_usd
        if held_ns
        else gpu_cost + st.egress_usd,
        "egress_usd": st.egress_usd,
        "plan_cost_usd": plan_cost,
    }


def build_result(
    scenario: Scenario,
    plan: Plan,
    faults: FaultModel,
    timeline: Timeline,
    jobs: dict[str, JobState],
    deployments: list[Deployment],
    availability: list[RegionAvailability],
    moves: list[Move],
    *,
    seed: int,
    replans: int,
    final_plan: Plan,
) -> SimResult:
    horizon_ns = timeline.horizon_ns
    horizon_h = horizon_ns / NS_PER_HOUR
    job_rows = [_job_row(scenario, faults, plan, timeline, st) for st in jobs.values()]
    svc_cost: dict[str, float] = {}
    for d in deployments:
        sid = d.placement.service_id
        svc_cost[sid] = svc_cost.get(sid, 0.0) + _deployment_cost(scenario, faults, timeline, d)
    svc_plan_cost: dict[str, float] = {}
    for p in plan.inference:
        svc_plan_cost[p.service_id] = (
            svc_plan_cost.get(p.service_id, 0.0) + p.cost_usd * horizon_h / scenario.horizon_hours
        )
    svc_rows = [
        {
            **asdict(a),
            "nines": nines(a.availability),
            "downtime_hours": (1 - a.availability) * horizon_h,
            "cost_usd": svc_cost.get(a.service_id, 0.0) if a.region == ALL_REGIONS else math.nan,
            "plan_cost_usd": svc_plan_cost.get(a.service_id, 0.0) if a.region == ALL_REGIONS else math.nan,
        }
        for a in availability
    ]
    total_cost = sum(r["cost_usd"] for r in job_rows) + sum(svc_cost.values())
    plan_cost = sum(r["plan_cost_usd"] for r in job_rows) + sum(svc_plan_cost.values())
    interruptions = sum(r["interruptions"] for r in job_rows)
    summary: dict[str, Any] = {
        "seed": seed,
        "months": horizon_h / HOURS_PER_MONTH,
        "total_cost_usd": total_cost,
        "plan_cost_usd": plan_cost,
        "wasted_cost_usd": sum(r["wasted_cost_usd"] for r in job_rows),
        "interruptions": interruptions,
        "interruption_causes": _causes(faults, jobs, seed),
        "site_outages": timeline.outage_counts,
        "replans": replans,
        "moves": len(moves),
    }
    months = horizon_h / HOURS_PER_MONTH
    return SimResult(seed, months, tuple(job_rows), tuple(svc_rows), tuple(moves), summary, final_plan)


def _deployment_cost(scenario: Scenario, faults: FaultModel, timeline: Timeline, d: Deployment) -> float:
    """Inference replicas: plan rate over the time deployed; reserved ones take-or-pay over the horizon
    they were committed for (a resize hands the commitment to its successor, so it is not billed twice)."""
    p, horizon_ns = d.placement, timeline.horizon_ns
    rate = p.cost_usd / scenario.horizon_hours
    end = min(d.end_ns, horizon_ns)
    if p.tier != Tier.reserved:
        return rate * timeline.price_hours(p.provider, d.start_ns, end)
    if faults.reserved_billing_for(p.provider) == ReservedBilling.take_or_pay and not d.resized:
        end = max(end, min(d.start_ns + round(scenario.horizon_hours * NS_PER_HOUR), horizon_ns))
    return rate * max(end - d.start_ns, 0) / NS_PER_HOUR


def _causes(faults: FaultModel, jobs: dict[str, JobState], seed: int) -> dict[str, int]:
    """Interruptions by cause: failure domains and spot preemptions by name; node-level faults
    attributed to Llama 3's root causes (multinomial on its own stream), which describe hardware and
    software faults, never a preemption."""
    out: dict[str, int] = {}
    for st in jobs.values():
        for kind, c in st.causes.items():
            out[kind] = out.get(kind, 0) + c
    n = out.pop(NODE, 0)
    causes = faults.gpu.causes
    if n and causes:
        w = np.array(list(causes.values()), dtype=np.float64)
        draw = stream(seed, "causes").multinomial(n, w / w.sum())
        for k, c in zip(causes, draw, strict=True):
            if c:
                out[k] = out.get(k, 0) + int(c)
    elif n:
        out["node"] = n
    return out
