"""Monte-Carlo of a deal's savings over the withdrawal period *and* the simulator's faults (GPU and node
interruptions, failure domains, site outages, spot preemption, checkpoint/restart, hot spares), on Ray.

One draw (index i) takes the i-th withdrawal period of planner/deal/withdrawal.py (constant hazard, same
seed as ``evaluate_deal``'s timing-only draws) and simulator seed ``seed + i`` for the training runs of
every plan it compares: the plan without the offer, and the plan with it, or, when the draw withdraws at
period m, the exposure curve's re-plan at the grid point at or before m (the one whose savings the curve
uses there). Every plan sees the same seed: a site's outages and a job's own failure stream are the same
draws in all of them (common random numbers), so their difference is the plans', not noise, and two
plans that run a job in the same place get exactly the same result for it.

Cost of a draw for a plan: overrun = sum over its runs of (simulated completion hours - the run's planned
expected hours) x GPUs x the run's marginal $/GPU-h (``TrainingRun.usd_per_gpu_hour``: its billed rate;
on committed capacity the term price, as use above the take-or-pay floor is billed at it, an upper
bound when the commitment runs below its floor). A run faster than expected counts negative. Savings of
the draw = the timing-only savings at its withdrawal period - (overrun with - overrun without).

What is simulated, and the approximations:

* Training only. Inference replicas are rented per period whatever happens (N+k covers their faults);
  their cost does not depend on a fault, so they are not simulated.
* Each run is simulated from t = 0 for ``window_hours`` (>= 3 x the longest expected hours): the fault
  processes are stationary, so this is exact for each run's own distribution wherever in the horizon it
  starts. The one approximation: two jobs at one site that run in different periods see the same
  outage draws here, although in time they would see different stretches of the site's outages.
* A job still running at the end of the window is censored there (its overrun counted to the window)
  and misses its deadline. Deadlines: a training window's date, as hours from the run's start in the
  horizon's period hours (the planner's clock); else the job's ``deadline_hours``; else none.
* No replanner (jobs ride out outages: the deal's withdrawals are the timing draws, not the sim's, so
  the fault model's own ``withdrawals`` are dropped), and no random price changes (the horizon has its
  own price path; they would not change a completion time).
"""

from __future__ import annotations

import importlib.util
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from computemoat.model import HOURS_PER_MONTH, Offer, Plan, PlanStatus, Scenario, Tier, TrainingPlacement
from computemoat.planner.deal import DealResult, FaultMonteCarlo, PlanFaults, apply_offer
from computemoat.planner.deal.apply import offer_horizon
from computemoat.planner.deal.withdrawal import withdrawal_timing
from computemoat.planner.horizon import TrainingRun
from computemoat.sim.engine import MAX_MONTHS, simulate
from computemoat.sim.faults import FaultModel
from computemoat.sim.stats import normal_ci

DEFAULT_DRAWS = 1000  # ~5 s in-process on examples/deal.yaml; the P5 of a 5%/yr withdrawal needs ~100 withdrawals
WINDOW_FACTOR = 3.0  # simulated window = this x the longest expected hours (or the latest deadline)
SAMPLED = "withdrawal timing and the simulator's faults"
SIM_TIER = {"on_demand": Tier.on_demand, "spot": Tier.spot, "committed": Tier.reserved}

Key = tuple[str, str, str, int]  # job, offering, tier, GPUs: what decides a run's simulated completion


def run_key(run: TrainingRun) -> Key:
    return (run.job_id, run.offering_id, run.tier, run.gpus)


@dataclass(frozen=True)
class Layers:
    """Every distinct run of every plan, as few simulations per seed as possible: layer k holds the k-th
    distinct placement of each job (a plan holds a job once), so a seed costs max(placements per job)
    simulations however many plans there are. Each job's result depends only on its own placement and
    the seed's site outages (no replanner), so a layer gives exactly what the job's own plan would."""

    keys: tuple[Key, ...]
    plans: tuple[Plan, ...]
    layer_of: tuple[int, ...]  # per key: the layer it is simulated in

    @staticmethod
    def of(scenario: Scenario, runs: Sequence[TrainingRun]) -> Layers:
        keys: dict[Key, TrainingRun] = {}
        for r in runs:
            keys.setdefault(run_key(r), r)
        per_job: dict[str, int] = {}
        layer_of, placements = [], []
        for r in keys.values():
            k = per_job.get(r.job_id, 0)
            per_job[r.job_id] = k + 1
            layer_of.append(k)
            placements.append((k, _placement(scenario, r)))
        n = max(layer_of, default=-1) + 1
        plans = tuple(
            Plan(
                scenario=scenario.name,
                status=PlanStatus.optimal,
                total_cost_usd=0.0,
                training=tuple(p for k, p in placements if k == layer),
            )
            for layer in range(n)
        )
        return Layers(tuple(keys), plans, tuple(layer_of))


def _placement(scenario: Scenario, r: TrainingRun) -> TrainingPlacement:
    cost_usd = r.gpus * r.expected_hours * r.usd_per_gpu_hour
    return TrainingPlacement(
        job_id=r.job_id, offering_id=r.offering_id, site_id=scenario.offering(r.offering_id).site,
        provider=r.provider, tier=SIM_TIER[r.tier], gpus=r.gpus, cost_usd=cost_usd,
        nominal_hours=r.nominal_hours, expected_hours=r.expected_hours,
    )  # fmt: skip


def simulate_layers(
    scenario: Scenario, layers: Layers, faults: FaultModel, months: float, seeds: Sequence[int]
) -> NDArray[np.float64]:
    """Completion hours [seed, key] (nan: not done within the window). Worker body, also run without Ray."""
    out = np.full((len(seeds), len(layers.keys)), np.nan)
    col = {(k[0], layer): i for i, (k, layer) in enumerate(zip(layers.keys, layers.layer_of, strict=True))}
    for s_i, seed in enumerate(seeds):
        for layer, plan in enumerate(layers.plans):
            for row in simulate(scenario, plan, faults, months=months, seed=seed).job_rows:
                if row["completed"]:
                    out[s_i, col[(row["job_id"], layer)]] = row["completion_hours"]
    return out


def _on_ray(
    scenario: Scenario, layers: Layers, faults: FaultModel, months: float, seeds: list[int],
    address: str | None, num_cpus: int | None,
) -> NDArray[np.float64]:  # fmt: skip
    """Seeds in batches (about 4 per CPU) on Ray; rows in seed order, as ``simulate_layers`` gives them."""
    import ray

    from computemoat.sim.sweep import ray_session

    with ray_session(address, num_cpus) as cpus:
        per_batch = max(1, math.ceil(len(seeds) / (4 * cpus)))
        remote = ray.remote(num_cpus=1)(simulate_layers)
        sc_ref, layers_ref, faults_ref = ray.put(scenario), ray.put(layers), ray.put(faults)
        pending = [
            remote.remote(sc_ref, layers_ref, faults_ref, months, seeds[lo : lo + per_batch])
            for lo in range(0, len(seeds), per_batch)
        ]
        return np.concatenate(ray.get(pending), axis=0) if pending else np.zeros((0, len(layers.keys)))


def ray_available() -> bool:
    return importlib.util.find_spec("ray") is not None


def fault_monte_carlo(
    scenario: Scenario,
    offer: Offer,
    result: DealResult,
    *,
    faults: FaultModel | None = None,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    use_ray: bool | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
) -> FaultMonteCarlo:
    """``draws`` draws of withdrawal timing and faults for an evaluated deal (module docstring).
    ``faults``: the model to simulate (default: the simulator's); the model the deal was planned with
    (``DealSettings.faults``) unless the question is "what if the faults are not as planned".
    ``use_ray`` None: on Ray when it is installed, else in-process (same seeds, same numbers)."""
    from computemoat.model import UserError

    if draws < 1:
        raise UserError(f"draws must be >= 1, got {draws}")
    if seed < 0:
        raise UserError(f"seed must be >= 0, got {seed}")
    t0 = time.perf_counter()
    timing = withdrawal_timing(scenario, offer, result)
    periods = timing.draw_periods(draws, seed)
    replan = timing.replan_index(periods)
    plans = [result.without.training, result.with_offer.training, *(p.training for p in result.exposure)]
    sc = apply_offer(scenario, offer).model_copy(update={"inference_services": ()})
    layers = Layers.of(sc, [r for runs in plans for r in runs])
    # per plan and run: a window's deadline counts from the run's start period, which plans may differ in
    deadlines = [np.array([_deadline_hours(scenario, offer, r) for r in runs]) for runs in plans]
    longest = max((r.expected_hours for runs in plans for r in runs), default=0.0)
    finite = [float(d) for ds in deadlines for d in ds if math.isfinite(d)]
    window_h = min(max(WINDOW_FACTOR * longest, *finite, 1.0), MAX_MONTHS * HOURS_PER_MONTH)
    model = (faults or FaultModel()).model_copy(update={"withdrawals": ()})
    ray_it = ray_available() if use_ray is None else use_ray
    seeds = list(range(seed, seed + draws))
    months = window_h / HOURS_PER_MONTH
    if not layers.keys:
        done = np.zeros((draws, 0))
    elif ray_it:
        done = _on_ray(sc, layers, model, months, seeds, address, num_cpus)
    else:
        done = simulate_layers(sc, layers, model, months, seeds)
    col = {k: i for i, k in enumerate(layers.keys)}
    censored = np.isnan(done)
    completion = np.where(censored, window_h, done)  # [draw, key]
    per_plan = [_plan_draws(runs, col, completion, censored, d) for runs, d in zip(plans, deadlines, strict=True)]
    with_idx = np.where(replan < 0, 1, 2 + replan)  # the plan each draw compares with the plan without
    draw = np.arange(draws)
    over_without, miss_without, late_without = per_plan[0]
    over_with = np.stack([p[0] for p in per_plan])[with_idx, draw]
    miss_with = np.stack([p[1] for p in per_plan])[with_idx, draw]
    late_with = np.stack([p[2] for p in per_plan])[with_idx, draw]
    savings = timing.savings_usd_at(periods) - (over_with - over_without)
    gpus = [max(1, sum(r.gpus for r in runs)) for runs in plans]
    gpus_with = np.array(gpus)[with_idx]
    ci = normal_ci(savings)
    return FaultMonteCarlo(
        sampled=SAMPLED,
        runner="ray" if ray_it else "in-process",
        draws=draws,
        first_seed=seed,
        window_hours=window_h,
        withdrawals=int((replan >= 0).sum()),
        savings_p5_p50_p95_usd=_pcts(savings),
        savings_mean_usd=ci.mean,
        savings_mean_ci95_usd=(ci.low, ci.high),
        plans=(
            _summary("without", over_without, late_without / gpus[0], miss_without),
            _summary("with_offer", over_with, late_with / gpus_with, miss_with),
        ),
        elapsed_s=time.perf_counter() - t0,
    )


def _plan_draws(
    runs: Sequence[TrainingRun], col: dict[Key, int], completion: NDArray[np.float64],
    censored: NDArray[np.bool_], deadline: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.float64]]:  # fmt: skip
    """Per draw: overrun USD, some deadline missed, overrun GPU-hours (sum of hours late x GPUs)."""
    n = completion.shape[0]
    if not runs:
        return np.zeros(n), np.zeros(n, dtype=bool), np.zeros(n)
    idx = np.array([col[run_key(r)] for r in runs])
    late_h = completion[:, idx] - np.array([r.expected_hours for r in runs])
    gpus = np.array([float(r.gpus) for r in runs])
    rate = np.array([r.usd_per_gpu_hour for r in runs])
    miss: NDArray[np.bool_] = np.asarray((censored[:, idx] | (completion[:, idx] > deadline)).any(axis=1))
    return late_h @ (gpus * rate), miss, late_h @ gpus


def _summary(
    name: str, overrun_usd: NDArray[np.float64], late_h: NDArray[np.float64], miss: NDArray[np.bool_]
) -> PlanFaults:
    ci = normal_ci(overrun_usd)
    return PlanFaults(
        plan=name,
        overrun_usd_mean=ci.mean,
        overrun_usd_ci95=(ci.low, ci.high),
        overrun_usd_p5_p50_p95=_pcts(overrun_usd),
        overrun_hours_mean=float(np.mean(late_h)),
        deadline_miss_share=float(np.mean(miss)),
    )


def _pcts(values: NDArray[np.float64]) -> tuple[float, float, float]:
    p5, p50, p95 = np.percentile(values, [5, 50, 95])
    return float(p5), float(p50), float(p95)


def _deadline_hours(scenario: Scenario, offer: Offer, run: TrainingRun) -> float:
    """Hours from the run's start to its deadline (inf: none). A training window's date counts in the
    horizon's period hours, as the planner counts it: whole periods from the start to the period holding
    the date, plus the share of that period before the date."""
    h = offer_horizon(scenario, offer)
    window = None if h is None else next((w for w in h.training_windows if w.job == run.job_id), None)
    if h is not None and window is not None and window.deadline is not None:
        p = h.period_of(window.deadline)
        start, end = h.period_start(p), h.period_start(p + 1)
        share = (window.deadline - start).days / (end - start).days
        return (p - run.start_period + share) * h.period.months * HOURS_PER_MONTH
    job = next(j for j in scenario.training_jobs if j.id == run.job_id)
    return job.deadline_hours if job.deadline_hours is not None else math.inf
