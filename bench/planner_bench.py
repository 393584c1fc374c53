"""Planner benchmark: generated fleets of 200 / 1,000 / 2,000 workloads over every default offering.

Prints one table: MILP solve time, proven gap and peak memory, its cost vs the greedy per-workload
baseline measured in the same run, greedy's own cost and its violations (found by the independent
validator; N+k = redundancy). Each size runs in its own process so its peak memory is its own.
Targets: 2,000 workloads in <= 10 s and 10,000 in <= 30 s and <= 2 GB peak, at proven gap <= 1%.

    .venv/bin/python bench/planner_bench.py [--sizes default,200,1000,2000,10000] [--time-limit 60]

``default`` is the bundled scenario itself (`computemoat plan`, the `make demo` job). The MILP time
is wall time of ``plan()`` end to end (flatten, greedy start, model, HiGHS, unflatten).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from collections import Counter

import numpy as np

from computemoat.catalog import default_scenario
from computemoat.latency import rtt_matrix
from computemoat.model import InferenceService, Scenario, TrainingJob
from computemoat.planner import greedy_plan, plan, validate_plan

INFERENCE_SHARE = 0.05  # one workload in twenty is a service (each brings regions x sites x failure sets)


def fleet(base: Scenario, n: int, seed: int = 0) -> Scenario:
    """``n`` workloads drawn from the default accelerators; capacity scaled so the fleet fits ~60%."""
    rng = np.random.default_rng(seed)
    accels = sorted({o.accelerator for o in base.offerings})
    providers_of: dict[str, set[str]] = {a: set() for a in accels}
    largest: dict[str, int] = dict.fromkeys(accels, 0)
    for o in base.offerings:
        providers_of[o.accelerator].add(base.site(o.site).provider)
        largest[o.accelerator] = max(largest[o.accelerator], o.capacity_gpus)
    broad = [a for a in accels if len(providers_of[a]) >= 4]  # services need N+1 under residency
    jobs, services = [], []
    for i in range(n):
        if rng.random() < INFERENCE_SHARE:
            pick = tuple(rng.choice(broad, size=int(rng.integers(1, 3)), replace=False).tolist())
            services.append(
                InferenceService(
                    id=f"svc-{i}",
                    model=f"model-{i}",
                    accelerators=pick,
                    gpus_per_replica=int(rng.choice([1, 2, 4, 8])),
                    rps_per_replica=float(rng.uniform(1, 10)),
                    total_demand_rps=float(rng.uniform(5, 100)),
                    latency_slo_ms=float(rng.choice([150, 200, 250])),
                    redundancy_k=int(rng.random() < 0.5),
                )
            )
        else:
            pick = tuple(rng.choice(accels, size=int(rng.integers(1, 3)), replace=False).tolist())
            sizes = [g for g in (8, 16, 32, 64, 128, 256, 512) if g <= max(largest[a] for a in pick)]
            jobs.append(
                TrainingJob(
                    id=f"job-{i}",
                    accelerators=pick,
                    gpus=int(rng.choice(sizes)),
                    hours=float(rng.integers(24, 24 * 30)),
                    spot_allowed=bool(rng.random() < 0.3),
                )
            )
    demand: dict[str, float] = dict.fromkeys(accels, 0.0)  # GPUs wanted, split over accepted accelerators
    for j in jobs:
        for a in j.accelerators:
            demand[a] += j.gpus / len(j.accelerators)
    for sv in services:
        for a in sv.accelerators:
            replicas = (sv.total_demand_rps or 0) / sv.rps_per_replica * (1 + sv.redundancy_k)
            demand[a] += sv.gpus_per_replica * replicas / len(sv.accelerators)
    supply: dict[str, float] = dict.fromkeys(accels, 0.0)
    for o in base.offerings:
        supply[o.accelerator] += o.capacity_gpus
    factor = {a: max(1.0, demand[a] / (0.5 * supply[a])) for a in accels}
    offerings = tuple(
        o.model_copy(
            update={
                "capacity_gpus": int(o.capacity_gpus * factor[o.accelerator] / o.gpus_per_instance)
                * o.gpus_per_instance
            }
        )
        for o in base.offerings
    )
    sites = tuple(s.model_copy(update={"power_capacity_mw": None}) for s in base.sites)
    policy = base.policy.model_copy(update={"residency": {}})  # random services must stay feasible
    return base.model_copy(
        update={
            "name": f"fleet-{n}",
            "training_jobs": tuple(jobs),
            "inference_services": tuple(services),
            "offerings": offerings,
            "policy": policy,
            "sites": sites,
        }
    )


HEADER = (
    f"{'workloads':>9} {'cols':>9} {'rows':>8} {'MILP s':>7} {'gap':>6} {'status':>9} {'peak GB':>7} "
    f"{'greedy s':>8} {'greedy $':>13} {'MILP/greedy':>11} {'greedy N+k':>10}  greedy violations"
)


def one(size: str, time_limit_s: float) -> str:
    """Plan one fleet in this process; one table row."""
    base = default_scenario()
    rtt_ms = rtt_matrix(base).rtt_ms
    sc = base if size == "default" else fleet(base, int(size))
    n = len(sc.training_jobs) + len(sc.inference_services)
    t0 = time.perf_counter()
    r = plan(sc, rtt_ms, time_limit_s=time_limit_s, mip_gap=0.01)
    milp_s = time.perf_counter() - t0
    assert validate_plan(sc, r.plan, rtt_ms) == [], "MILP plan failed validation"
    peak_gb = max(resource.getrusage(w).ru_maxrss for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 2**20
    t0 = time.perf_counter()
    g = greedy_plan(sc, rtt_ms)
    greedy_s = time.perf_counter() - t0
    kinds = Counter(str(v.kind) for v in validate_plan(sc, g.plan, rtt_ms))
    if g.unplaced:
        kinds["unplaced"] = len(g.unplaced)
    ratio = r.plan.total_cost_usd / g.plan.total_cost_usd
    gap = "n/a" if r.mip_gap is None else f"{r.mip_gap:.2%}"
    viol = ", ".join(f"{k}={v}" for k, v in sorted(kinds.items())) or "none"
    return (
        f"{size if size == 'default' else n:>9} {r.num_cols:>9,} {r.num_rows:>8,} {milp_s:>7.2f} {gap:>6} "
        f"{str(r.plan.status)[:9]:>9} {peak_gb:>7.2f} {greedy_s:>8.2f} {g.plan.total_cost_usd:>13,.0f} "
        f"{ratio:>11.4f} {kinds.get('redundancy', 0):>10}  {viol}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="default,200,1000,2000,10000")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(one(args.one, args.time_limit), flush=True)
        return
    print(HEADER, flush=True)
    for size in args.sizes.split(","):
        cmd = [sys.executable, __file__, "--one", size, "--time-limit", str(args.time_limit)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        print(out.stdout.strip() or f"{size:>9} failed: {out.stderr.strip().splitlines()[-1:]}", flush=True)


if __name__ == "__main__":
    main()
