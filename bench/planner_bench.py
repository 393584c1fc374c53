"""Planner benchmark: generated fleets of 200 / 1,000 / 2,000 workloads over every default offering.

Prints one table: MILP solve time and proven gap, its cost vs the greedy per-workload baseline
measured in the same run, and greedy's violations (found by the independent validator).
Target: 2,000 workloads in <= 10 s at proven gap <= 1%, never costlier than a valid greedy plan.

    .venv/bin/python bench/planner_bench.py [--sizes default,200,1000,2000] [--time-limit 60]

``default`` is the bundled scenario itself (`computemoat plan`, the `make demo` job). The MILP time
is wall time of ``plan()`` end to end (flatten, greedy start, model, HiGHS, unflatten).
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="default,200,1000,2000")
    ap.add_argument("--time-limit", type=float, default=60.0)
    args = ap.parse_args()
    base = default_scenario()
    rtt_ms = rtt_matrix(base).rtt_ms
    print(
        f"{'workloads':>9} {'cols':>8} {'rows':>7} {'MILP s':>7} {'gap':>7} {'status':>9} "
        f"{'greedy s':>8} {'MILP/greedy cost':>16} {'greedy violations':<40}"
    )
    for size in args.sizes.split(","):
        sc = base if size == "default" else fleet(base, int(size))
        n = len(sc.training_jobs) + len(sc.inference_services)
        t0 = time.perf_counter()
        r = plan(sc, rtt_ms, time_limit_s=args.time_limit, mip_gap=0.01)
        milp_s = time.perf_counter() - t0
        assert validate_plan(sc, r.plan, rtt_ms) == [], "MILP plan failed validation"
        t0 = time.perf_counter()
        g = greedy_plan(sc, rtt_ms)
        greedy_s = time.perf_counter() - t0
        kinds = Counter(v.kind for v in validate_plan(sc, g.plan, rtt_ms))
        if g.unplaced:
            kinds["unplaced"] = len(g.unplaced)
        ratio = r.plan.total_cost_usd / g.plan.total_cost_usd
        gap = "n/a" if r.mip_gap is None else f"{r.mip_gap:.2%}"
        viol = ", ".join(f"{k}={v}" for k, v in sorted(kinds.items())) or "none"
        print(
            f"{size if size == 'default' else n:>9} {r.num_cols:>8,} {r.num_rows:>7,} {milp_s:>7.2f} {gap:>7} "
            f"{r.plan.status[:9]:>9} "
            f"{greedy_s:>8.2f} {ratio:>16.4f} {viol:<40}",
            flush=True,
        )


if __name__ == "__main__":
    main()
