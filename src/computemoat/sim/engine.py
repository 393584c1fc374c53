"""The fleet simulation of one run: coarse events (outages, withdrawals) in time order, fine events
(GPU interruptions, spot preemptions) vectorized in between. Integer-nanosecond clock throughout.

The replanner is injected (``Replanner``) so the engine runs without the planner; ``planner_replanner``
adapts ``computemoat.planner.replan.replan`` to it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from computemoat.model import InfeasibleError, Plan, Scenario, TrainingJob, UserError
from computemoat.sim.faults import HOURS_PER_MONTH, FaultModel
from computemoat.sim.inference import Deployment, service_availability
from computemoat.sim.policies import OutageContext, should_migrate
from computemoat.sim.result import Move, SimResult, build_result
from computemoat.sim.timeline import NS_PER_HOUR, NS_PER_S, Timeline, draw_timeline, hours_to_ns
from computemoat.sim.training import JobState, advance, close_segment, new_state, set_placement

Replanner = Callable[[Plan, tuple[str, ...], Mapping[str, float]], Plan | None]
"""(current plan, withdrawn providers, capacity factor by offering id) -> new plan, or None if none fits."""

Progress = Callable[[float], None]


def planner_replanner(scenario: Scenario, rtt_ms: NDArray[np.float64], *, time_limit_s: float = 30.0) -> Replanner:
    """The planner's ``replan`` behind the ``Replanner`` signature (imported on first use)."""

    def call(plan: Plan, withdraw: tuple[str, ...], capacity_factor: Mapping[str, float]) -> Plan | None:
        from computemoat.planner.replan import Change, replan

        change = Change(withdraw_providers=withdraw, capacity_factor=dict(capacity_factor), price_factor={})
        try:
            return replan(scenario, plan, change, rtt_ms, time_limit_s=time_limit_s).plan
        except InfeasibleError:
            return None

    return call


@dataclass
class _Run:
    """Mutable state of one run; every handler below reads and updates it."""

    scenario: Scenario
    faults: FaultModel
    timeline: Timeline
    seed: int
    replanner: Replanner | None
    plan: Plan
    jobs: dict[str, JobState]
    deployments: list[Deployment]
    moves: list[Move]
    plans_seen: list[Plan]
    withdrawn: list[str]
    replans: int = 0

    def running_plan(self, t_ns: int) -> Plan:
        """The plan as it runs at ``t_ns``: each job where it is now, each live inference placement (the
        latest one per offering). What the replanner starts from and what the run reports at the end."""
        live: dict[tuple[str, str], Deployment] = {}
        for d in self.deployments:
            if d.end_ns > t_ns:
                live[(d.placement.service_id, d.placement.offering_id)] = d
        training = tuple(st.placement for st in self.jobs.values())
        inference = tuple(d.placement for d in live.values())
        sites = {d.placement.site_id for d in live.values()}
        assignments = tuple(a for a in self.plan.assignments if a.site_id in sites)
        total = sum(p.cost_usd for p in training) + sum(p.cost_usd for p in inference)
        return self.plan.model_copy(
            update={"training": training, "inference": inference, "assignments": assignments, "total_cost_usd": total}
        )

    def replan(self, t_ns: int) -> Plan | None:
        """Ask for a plan without the withdrawn providers and the sites down at ``t_ns``, starting from the
        plan as it runs (not the plan of the last replan: only part of it may have been carried out)."""
        if self.replanner is None:
            return None
        down = {s.id for s in self.scenario.sites if self.timeline.outage_at(s.id, t_ns)}
        factor = {o.id: 0.0 for o in self.scenario.offerings if o.site in down}
        self.replans += 1
        new = self.replanner(self.running_plan(t_ns), tuple(self.withdrawn), factor)
        if new is not None:
            self.plans_seen.append(new)
            self.plan = self.plan.model_copy(update={"assignments": new.assignments})
        return new

    def transfer_ns(self, state: JobState) -> int:
        return round(state.job.checkpoint_size_gb * 8.0 / self.faults.transfer_gbps * NS_PER_S)

    def migrate(self, state: JobState, new_plan: Plan, t_ns: int, reason: str) -> bool:
        """Move the job to its placement in ``new_plan``: copy the checkpoint (egress), restart there."""
        target = next((p for p in new_plan.training if p.job_id == state.job.id), None)
        old = state.placement
        if target is None or target.provider in self.withdrawn or target.site_id == old.site_id:
            return False
        close_segment(state, t_ns)
        state.egress_usd += state.job.checkpoint_size_gb * self.scenario.provider(old.provider).egress_usd_per_gb
        set_placement(self.scenario, self.faults, state, target, new_site=True)
        state.run_from_ns = max(t_ns, state.run_from_ns) + self.transfer_ns(state) + state.restart_ns
        state.migrations += 1
        self.moves.append(
            Move(t_ns / NS_PER_HOUR, state.job.id, "training", old.offering_id, target.offering_id, reason)
        )
        return True


def _on_outage(run: _Run, site_id: str, start_ns: int, end_ns: int) -> None:
    """Jobs on the site either migrate (policy) or ride it out: a ridden-out outage is queued on the job
    and handled, vectorized, by its next ``advance`` (interruption at the start, restart after the end)."""
    for state in run.jobs.values():
        if not state.active or state.placement.site_id != site_id:
            continue
        expected_ns = hours_to_ns(run.faults.site_outage_mean_hours(state.placement.provider))
        ctx = OutageContext(expected_ns, run.transfer_ns(state) + state.restart_ns, run.replanner is not None)
        if should_migrate(run.faults.outage_policy, ctx):
            advance(state, start_ns)  # work since the last checkpoint is lost at start_ns
            if not state.active:
                continue
            new_plan = run.replan(start_ns)
            if new_plan is not None and run.migrate(state, new_plan, start_ns, f"outage of {site_id}"):
                continue
            state.run_from_ns = max(state.run_from_ns, end_ns + state.restart_ns)
            continue
        state.outages.append((start_ns, end_ns))


def _on_withdrawal(run: _Run, provider: str, t_ns: int) -> None:
    run.withdrawn.append(provider)
    hit_jobs = [s for s in run.jobs.values() if s.active and s.placement.provider == provider]
    hit_deps = [d for d in run.deployments if d.placement.provider == provider and d.end_ns > t_ns]
    if not hit_jobs and not hit_deps:
        return
    announced = next(w.announced for w in run.faults.withdrawals if w.provider == provider)
    for state in hit_jobs:
        running = state.run_from_ns <= t_ns
        advance(state, t_ns, final_checkpoint=announced)
        if announced and running and state.active:
            state.checkpoint_ns += state.delta_ns
            state.run_from_ns = t_ns + state.delta_ns
    new_plan = run.replan(t_ns)
    for state in hit_jobs:
        if state.active and not (new_plan and run.migrate(state, new_plan, t_ns, f"{provider} withdrawn")):
            close_segment(state, t_ns)
            state.stalled = True
            run.moves.append(
                Move(t_ns / NS_PER_HOUR, state.job.id, "training", state.placement.offering_id, None, "stalled")
            )
    for dep in hit_deps:
        dep.end_ns = t_ns
        run.moves.append(
            Move(
                t_ns / NS_PER_HOUR,
                dep.placement.service_id,
                "inference",
                dep.placement.offering_id,
                None,
                f"{provider} withdrawn",
            )
        )
    if new_plan is None:
        return
    _redeploy(run, new_plan, {d.placement.service_id for d in hit_deps}, t_ns, provider)


def _redeploy(run: _Run, new_plan: Plan, services: set[str], t_ns: int, provider: str) -> None:
    """Make-before-break: new offerings serve after the redeploy delay; dropped ones stop then."""
    ready_ns = t_ns + hours_to_ns(run.faults.inference_redeploy_hours)
    horizon = run.timeline.horizon_ns
    for svc in sorted(services):
        live = {
            d.placement.offering_id: d for d in run.deployments if d.placement.service_id == svc and d.end_ns > t_ns
        }
        wanted = {
            p.offering_id: p for p in new_plan.inference if p.service_id == svc and p.provider not in run.withdrawn
        }
        for off, dep in live.items():
            if off not in wanted:
                dep.end_ns = ready_ns
                run.moves.append(Move(t_ns / NS_PER_HOUR, svc, "inference", off, None, f"{provider} withdrawn"))
            elif wanted[off].replicas != dep.placement.replicas:
                dep.end_ns, dep.resized = t_ns, True  # resized in place: the existing replicas keep serving
                run.deployments.append(Deployment(wanted[off], t_ns, t_ns, horizon))
        for off, placement in wanted.items():
            if off not in live:
                run.deployments.append(Deployment(placement, t_ns, ready_ns, horizon))
                run.moves.append(Move(t_ns / NS_PER_HOUR, svc, "inference", None, off, f"{provider} withdrawn"))


def _eligibility(scenario: Scenario, plans: list[Plan], rtt_ms: NDArray[np.float64] | None) -> dict[str, dict]:
    """(region, site) -> may serve, per service: RTT within the SLO (and residency), or, with no RTT
    matrix, exactly the pairs some plan assigned."""
    out: dict[str, dict[tuple[str, str], bool]] = {}
    juris = {s.id: scenario.provider(s.provider).jurisdiction for s in scenario.sites}
    for svc in scenario.inference_services:
        ok: dict[tuple[str, str], bool] = {}
        if rtt_ms is not None:
            for i, r in enumerate(scenario.user_regions):
                allowed = scenario.policy.residency.get(r.name)
                for j, s in enumerate(scenario.sites):
                    ok[(r.name, s.id)] = bool(rtt_ms[i, j] <= svc.latency_slo_ms) and (
                        allowed is None or juris[s.id] in allowed
                    )
        else:
            for plan in plans:
                for a in plan.assignments:
                    if a.service_id == svc.id:
                        ok[(a.region, a.site_id)] = True
        out[svc.id] = ok
    return out


MAX_MONTHS = 1200  # 100 years: the int64 nanosecond clock overflows near 292 years, draws need headroom


def simulate(
    scenario: Scenario,
    plan: Plan,
    faults: FaultModel | None = None,
    *,
    months: float = 6.0,
    seed: int = 1,
    replanner: Replanner | None = None,
    rtt_ms: NDArray[np.float64] | None = None,
    progress: Progress | None = None,
) -> SimResult:
    """One run of ``months`` of faults against ``plan``; deterministic for ``seed``.

    Pass ``rtt_ms`` (``latency.rtt_matrix(scenario).rtt_ms``) so failover may use any site within a
    service's SLO; without it only the pairs the plan assigned count, which understates the availability
    of redundant services (their standby sites serve nobody in the nominal assignment)."""
    faults = faults or FaultModel()
    faults.check_against(scenario)
    if not 0 < months <= MAX_MONTHS:
        raise UserError(f"months must be in (0, {MAX_MONTHS}] (int64 nanosecond clock), got {months}")
    if seed < 0:
        raise UserError(f"seed must be >= 0, got {seed}")
    horizon_ns = hours_to_ns(months * HOURS_PER_MONTH)
    timeline = draw_timeline(scenario, faults, horizon_ns, seed)
    jobs = {p.job_id: new_state(scenario, faults, _job(scenario, p.job_id), p, seed) for p in plan.training}
    deps = [Deployment(p, 0, 0, horizon_ns) for p in plan.inference]
    run = _Run(scenario, faults, timeline, seed, replanner, plan, jobs, deps, [], [plan], [])
    events: list[tuple[int, int, str, int]] = [
        (int(s), 0, site, int(e)) for site, (st, en) in timeline.outages.items() for s, e in zip(st, en, strict=True)
    ]
    events += [(t, 1, prov, 0) for prov, t in timeline.withdraw_ns.items()]
    events = sorted(ev for ev in events if ev[0] < horizon_ns)
    for n, (t_ns, kind, name, end_ns) in enumerate(events):
        if kind == 0:
            _on_outage(run, name, t_ns, end_ns)
        else:
            _on_withdrawal(run, name, t_ns)
        if progress is not None:
            progress((n + 1) / (len(events) + 1))
    for state in jobs.values():
        advance(state, horizon_ns)
        if not state.stalled:
            close_segment(state, min(state.done_ns or horizon_ns, horizon_ns))
    eligible = _eligibility(scenario, run.plans_seen, rtt_ms)
    availability = [
        row
        for svc in scenario.inference_services
        for row in service_availability(
            scenario,
            svc,
            [d for d in run.deployments if d.placement.service_id == svc.id],
            timeline,
            faults,
            eligible[svc.id],
            seed,
            rtt_ms,
        )
    ]
    if progress is not None:
        progress(1.0)
    return build_result(
        scenario,
        plan,
        faults,
        timeline,
        run.jobs,
        run.deployments,
        availability,
        run.moves,
        seed=seed,
        replans=run.replans,
        final_plan=run.running_plan(horizon_ns - 1),
    )


def _job(scenario: Scenario, job_id: str) -> TrainingJob:
    job = next((j for j in scenario.training_jobs if j.id == job_id), None)
    if job is None:
        raise UserError(f"plan: training placement names job {job_id!r}, which the scenario does not define")
    return job
