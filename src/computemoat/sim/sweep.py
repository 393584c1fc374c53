"""Monte-Carlo sweeps on Ray: many seeds x grid points (e.g. redundancy k x concentration caps).

Local Ray by default (``ray.init(num_cpus=...)``); ``address`` joins an existing cluster. Runs are
shipped in batches of seeds so per-task overhead stays small next to a ~10 ms simulation. Every grid
point sees the same seeds, and within a seed each site, job and replica its own random stream (common
random numbers): a site shared by two points has the same outages in both, so their difference is the
plans' and not noise."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from computemoat.model import InfeasibleError, Plan, Scenario
from computemoat.sim.faults import FaultModel
from computemoat.sim.inference import ALL_REGIONS
from computemoat.sim.result import SimResult
from computemoat.sim.stats import availability_interval, bootstrap_ci, normal_ci


@dataclass(frozen=True)
class SweepPoint:
    """One grid point: labels (e.g. ``{"k": 1, "cap": 0.5}``) and the scenario/plan they produce."""

    labels: dict[str, Any]
    scenario: Scenario
    plan: Plan
    notes: tuple[str, ...] = field(default=())


def run_metrics(result: SimResult) -> dict[str, float]:
    """One run as one flat row: costs, goodput, and each service's all-regions availability."""
    jobs, svc = result.job_rows, result.service_rows
    row: dict[str, float] = {
        "seed": result.seed,
        "total_cost_usd": result.summary["total_cost_usd"],
        "plan_cost_usd": result.summary["plan_cost_usd"],
        "wasted_cost_usd": result.summary["wasted_cost_usd"],
        "interruptions": result.summary["interruptions"],
        "moves": result.summary["moves"],
    }
    if jobs:
        gpus = sum(j["gpus"] for j in jobs)
        row["goodput_gpu_weighted"] = sum(j["goodput"] * j["gpus"] for j in jobs) / gpus
        row["jobs_completed_share"] = sum(bool(j["completed"]) for j in jobs) / len(jobs)
        row["deadlines_met_share"] = sum(bool(j["met_deadline"]) for j in jobs) / len(jobs)
    every = [s for s in svc if s["region"] == ALL_REGIONS]
    for s in every:
        row[f"availability:{s['service_id']}"] = float(s["availability"])
    if every:
        row["availability_min"] = min(float(s["availability"]) for s in every)
    return row


def _batch(
    scenario: Scenario,
    plan: Plan,
    faults: FaultModel,
    months: float,
    seeds: Sequence[int],
    rtt_ms: NDArray[np.float64] | None,
    replan: bool,
) -> list[dict[str, float]]:
    """Worker body: a batch of seeds for one grid point (plain function, also callable without Ray)."""
    from computemoat.sim.engine import planner_replanner, simulate

    replanner = planner_replanner(scenario, rtt_ms) if replan and rtt_ms is not None else None
    return [
        run_metrics(simulate(scenario, plan, faults, months=months, seed=s, replanner=replanner, rtt_ms=rtt_ms))
        for s in seeds
    ]


RAY_STARTUP_NOTICES = ("Token authentication is enabled for this Ray cluster",)
"""Ray's start-up chatter (its warning that a *secure* default is on): dropped. Everything else Ray logs
at WARNING or above, and every error, still reaches the user."""
RAY_AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"


class _DropStartupNotices(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(RAY_STARTUP_NOTICES)


_DROP_NOTICES = _DropStartupNotices()


def init_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Start (or join) Ray without its start-up logs: the driver's "ray" logger at WARNING (no
    "Started a local Ray instance" INFO line), worker output not forwarded (log_to_driver: a failing
    run still raises in ray.get), the token-auth notice filtered."""
    import ray

    logging.getLogger(RAY_AUTH_LOGGER).addFilter(_DROP_NOTICES)  # idempotent: the same filter object
    if address is None:
        ray.init(
            num_cpus=num_cpus or os.cpu_count(),
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
    else:
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[int]:
    """Ray for the block: started here (and shut down after) unless it already runs; yields its CPUs."""
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        init_ray(address, num_cpus)
    try:
        yield max(1, int(ray.cluster_resources().get("CPU", 1)))
    finally:
        if started_here:
            ray.shutdown()


def sweep(
    points: Sequence[SweepPoint],
    faults: FaultModel,
    *,
    runs: int,
    months: float,
    seed: int = 1,
    rtt_ms: NDArray[np.float64] | None = None,
    replan: bool = True,
    address: str | None = None,
    num_cpus: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> pd.DataFrame:
    """``runs`` seeds per point on Ray; one row per (point, seed) with the point's labels as columns.

    ``replan`` (default on, as in ``simulate``) re-plans with the planner on outages and withdrawals; it
    needs ``rtt_ms``. Every site, job and replica draws from its own stream (sim.streams), so the grid
    points see the same outages and failures wherever they share a site or a job (common random numbers)."""
    import ray

    with ray_session(address, num_cpus) as cpus:
        per_batch = max(1, math.ceil(runs * len(points) / (4 * cpus)))
        remote = ray.remote(num_cpus=1)(_batch)
        faults_ref = ray.put(faults)
        rtt_ref = ray.put(rtt_ms)
        pending: dict[Any, int] = {}
        for i, point in enumerate(points):
            sc_ref, plan_ref = ray.put(point.scenario), ray.put(point.plan)
            for lo in range(0, runs, per_batch):
                seeds = list(range(seed + lo, seed + min(runs, lo + per_batch)))
                pending[remote.remote(sc_ref, plan_ref, faults_ref, months, seeds, rtt_ref, replan)] = i
        total, rows = len(pending), []
        waiting = list(pending)
        while waiting:
            done, waiting = ray.wait(waiting, num_returns=1)
            for ref in done:
                rows += [{**points[pending[ref]].labels, **r} for r in ray.get(ref)]
            if progress is not None:
                progress(1 - len(waiting) / total)
    label_cols = list(points[0].labels) if points else []
    return pd.DataFrame(rows).sort_values([*label_cols, "seed"], kind="stable").reset_index(drop=True)


SHARE_MISSES = {"jobs_completed_share": "left a job unfinished", "deadlines_met_share": "missed a deadline"}
"""Per-run shares in [0, 1] that are 1 unless something went wrong, with the words for a run that fell short."""
UNIT_METRICS = ("goodput_gpu_weighted",)  # in [0, 1], but below 1 in every run: only clipped


def metric_range(metric: str) -> tuple[float, float]:
    """The physical range of a run metric: shares, goodput and availability in [0, 1]; costs, counts
    and moves >= 0 (every metric of run_metrics is one or the other)."""
    if metric.startswith("availability") or metric in SHARE_MISSES or metric in UNIT_METRICS:
        return 0.0, 1.0
    return 0.0, math.inf


def summarize(runs: pd.DataFrame, by: Sequence[str], level: float = 0.95) -> pd.DataFrame:
    """Mean and both CIs of every numeric metric per grid point (tidy: one row per point x metric).

    Every interval is clipped to the metric's physical range (metric_range): a normal interval of a
    share near 1 reaches above 1, of a cost near 0 below 0. Availability and the per-run shares of
    SHARE_MISSES also get what the runs can support (stats.availability_interval): ``low``/``high`` =
    an interval that stays valid when misses are rare (the exact Clopper-Pearson bound when fewer than
    3 runs fell short), and a ``warning`` then; availability also reports the share of runs with any
    downtime with its exact interval."""
    metrics = [c for c in runs.columns if c not in (*by, "seed") and pd.api.types.is_numeric_dtype(runs[c])]
    out = []
    groups = runs.groupby(list(by), dropna=False, sort=False) if by else [((), runs)]
    for key, g in groups:
        labels = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        for m in metrics:
            values = g[m].dropna()
            n, b = normal_ci(values, level), bootstrap_ci(values, level)
            lo, hi = metric_range(m)
            row: dict[str, Any] = {
                **labels,
                "metric": m,
                "mean": n.mean,
                "normal_low": min(max(n.low, lo), hi),
                "normal_high": min(max(n.high, lo), hi),
                "bootstrap_low": min(max(b.low, lo), hi),
                "bootstrap_high": min(max(b.high, lo), hi),
                "runs": n.n,
            }
            row.update(low=row["normal_low"], high=row["normal_high"])
            if m.startswith("availability"):
                a = availability_interval(values, level)
                row.update(
                    low=a.low,
                    high=a.high,
                    runs_with_downtime=a.runs_with_downtime,
                    downtime_share=a.downtime_share,
                    downtime_share_low=a.downtime_share_low,
                    downtime_share_high=a.downtime_share_high,
                    warning=a.warning,
                )
            elif m in SHARE_MISSES:
                s = availability_interval(values, level, name=m, miss=SHARE_MISSES[m])
                row.update(low=s.low, high=s.high, warning=s.warning)
            out.append(row)
    return pd.DataFrame(out)


def redundancy_grid(
    scenario: Scenario,
    rtt_ms: NDArray[np.float64],
    *,
    ks: Sequence[int] = (0, 1, 2),
    caps: Sequence[float | None] = (None, 0.5, 0.35),
    slo_scale: float = 1.0,
    time_limit_s: float = 30.0,
) -> tuple[list[SweepPoint], list[str]]:
    """Plan the scenario once per (k, cap): every service asks for k-provider redundancy and no
    provider may take more than ``cap`` of the spend (``slo_scale`` relaxes every latency SLO, since a
    region with one nearby provider cannot have k > 0). Infeasible points are reported, not dropped silently."""
    from computemoat.planner import plan as solve

    points, skipped = [], []
    for k in ks:
        for cap in caps:
            variant = scenario.model_copy(
                update={
                    "inference_services": tuple(
                        s.model_copy(update={"redundancy_k": k, "latency_slo_ms": s.latency_slo_ms * slo_scale})
                        for s in scenario.inference_services
                    ),
                    "policy": scenario.policy.model_copy(update={"max_provider_share_spend": cap}),
                }
            )
            t0 = time.perf_counter()
            try:
                result = solve(variant, rtt_ms, time_limit_s=time_limit_s)
            except InfeasibleError as e:
                skipped.append(f"k={k} cap={cap}: infeasible ({e.lines[0] if e.lines else e})")
                continue
            labels = {"k": k, "cap": cap if cap is not None else 1.0}
            note = f"k={k} cap={cap}: planned in {time.perf_counter() - t0:.1f} s"
            points.append(SweepPoint(labels, variant, result.plan, (note,)))
    return points, skipped
