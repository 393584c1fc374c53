"""Simulator benchmark: one year of a 100,000-GPU fleet at Llama-3 failure rates.

Prints one table: our vectorized engine vs a naive SimPy model with one process per node (the
baseline, below), both measured in this run; and sweep throughput (runs/s) on Ray with 1 and 2 workers.
Targets (issue 8): <= 5 s per run and >= 10x faster than the SimPy baseline.

The baseline models *less* than the engine (node failures, checkpoints and restarts only: no outages,
no inference availability), so the ratio understates the gap. Run: .venv/bin/python bench/sim_bench.py
"""

from __future__ import annotations

import math
import statistics
import time

import numpy as np
import simpy

from computemoat.model import (
    Accelerator,
    Assignment,
    InferencePlacement,
    InferenceService,
    Offering,
    Plan,
    Provider,
    ProviderKind,
    Scenario,
    Site,
    Tier,
    TrainingJob,
    TrainingPlacement,
    UserRegion,
)
from computemoat.reliability import young_daly_interval_s
from computemoat.sim import FaultModel, simulate
from computemoat.sim.sweep import SweepPoint, sweep

HOURS = 8760.0
GPUS_PER_NODE = 8
JOB_GPUS = (8192,) * 12 + (1696,)  # 100,000 GPUs in 13 gang-scheduled jobs, 12,500 nodes
PRICE = 2.0


def fleet() -> tuple[Scenario, Plan]:
    providers = tuple(Provider(name=f"p{i}", kind=ProviderKind.specialized, jurisdiction="US") for i in range(4))
    sites = tuple(
        Site(id=f"p{i}:r{i}", provider=f"p{i}", region=f"r{i}", lat_deg=30.0 + 4 * i, lon_deg=-100.0 + 10 * i)
        for i in range(4)
    )
    offerings = tuple(
        Offering(
            id=f"p{i}:r{i}:h100",
            site=f"p{i}:r{i}",
            accelerator="H100",
            usd_per_gpu_hour_on_demand=PRICE,
            capacity_gpus=65_536,
        )
        for i in range(4)
    )
    jobs = tuple(TrainingJob(id=f"job{j}", accelerators=("H100",), gpus=g, hours=HOURS) for j, g in enumerate(JOB_GPUS))
    svc = InferenceService(
        id="chat",
        model="m",
        accelerators=("H100",),
        rps_per_replica=10.0,
        demand_rps={"nyc": 100.0},
        latency_slo_ms=100.0,
        redundancy_k=1,
    )
    sc = Scenario(
        name="fleet-100k",
        horizon_hours=HOURS,
        providers=providers,
        sites=sites,
        accelerators=(Accelerator(name="H100", board_power_w=700, memory_gb=80),),
        offerings=offerings,
        user_regions=(UserRegion(name="nyc", lat_deg=40.7, lon_deg=-74.0),),
        training_jobs=jobs,
        inference_services=(svc,),
    )
    training = tuple(
        TrainingPlacement(
            job_id=j.id,
            offering_id=f"p{k % 4}:r{k % 4}:h100",
            site_id=f"p{k % 4}:r{k % 4}",
            provider=f"p{k % 4}",
            tier=Tier.on_demand,
            gpus=j.gpus,
            cost_usd=j.gpus * HOURS * PRICE,
        )
        for k, j in enumerate(jobs)
    )
    inference = tuple(
        InferencePlacement(
            service_id="chat",
            offering_id=f"p{i}:r{i}:h100",
            site_id=f"p{i}:r{i}",
            provider=f"p{i}",
            replicas=10,
            gpus=10,
            cost_usd=10 * PRICE * HOURS,
        )
        for i in (1, 2)
    )
    asg = tuple(
        Assignment(service_id="chat", region="nyc", site_id=p.site_id, rps=50.0, rtt_ms=10.0) for p in inference
    )
    total = sum(p.cost_usd for p in (*training, *inference))
    return sc, Plan(
        scenario=sc.name,
        status="hand-built",
        total_cost_usd=total,
        training=training,
        inference=inference,
        assignments=asg,
    )


def simpy_baseline(faults: FaultModel, seed: int) -> tuple[float, int]:
    """The naive model: every node is a SimPy process that sleeps until its next failure and then
    interrupts its job's process, which loops compute(τ) -> checkpoint(δ) and restarts after R."""
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    node_mtbf_h = faults.gpu.gpu_hours_per_interruption / GPUS_PER_NODE
    restart_h = faults.gpu.restart_overhead_s / 3600
    delta_h = 300.0 / 3600
    saved = {}
    failures = [0]

    def job_proc(name: str, gpus: int):
        tau_h = young_daly_interval_s(300.0, 3600 * faults.gpu.gpu_hours_per_interruption / gpus) / 3600
        saved[name] = 0.0
        while True:
            try:
                yield env.timeout(tau_h)
                yield env.timeout(delta_h)
                saved[name] += tau_h
            except simpy.Interrupt:
                while True:  # a failure during the restart starts the restart again
                    try:
                        yield env.timeout(restart_h)
                        break
                    except simpy.Interrupt:
                        continue

    def node_proc(job: simpy.Process):
        while True:
            yield env.timeout(rng.exponential(node_mtbf_h))
            failures[0] += 1
            if job.is_alive:
                job.interrupt()

    for j, gpus in enumerate(JOB_GPUS):
        proc = env.process(job_proc(f"job{j}", gpus))
        for _ in range(gpus // GPUS_PER_NODE):
            env.process(node_proc(proc))
    env.run(until=HOURS)
    return sum(saved.values()), failures[0]


def timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    import ray

    sc, plan = fleet()
    faults = FaultModel()
    ours_s, res = timed(lambda: simulate(sc, plan, faults, months=12, seed=1), repeats=5)
    simpy_s, (simpy_work_h, simpy_failures) = timed(lambda: simpy_baseline(faults, seed=1), repeats=1)
    ours_work_h = float((res.jobs["goodput"] * HOURS).sum())
    rows = [
        ("engine: 1 year, 100,000 GPUs (s/run)", f"{ours_s:.3f}", "<= 5 s"),
        ("naive SimPy, 1 process per node (s/run)", f"{simpy_s:.3f}", "baseline"),
        ("speed-up vs SimPy", f"{simpy_s / ours_s:.0f}x", ">= 10x"),
        ("interruptions: engine / SimPy", f"{res.summary['interruptions']} / {simpy_failures}", "≈ equal"),
        ("useful job-hours: engine / SimPy", f"{ours_work_h:,.0f} / {simpy_work_h:,.0f}", "≈ equal"),
    ]
    runs = 40
    point = [SweepPoint({"point": "fleet"}, sc, plan)]
    for workers in (1, 2):
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        sweep(point, faults, runs=workers * 2, months=12)  # warm the workers (imports)
        t0 = time.perf_counter()
        sweep(point, faults, runs=runs, months=12, seed=100)
        dt = time.perf_counter() - t0
        ray.shutdown()
        rows.append((f"sweep on Ray, {workers} worker(s) (runs/s)", f"{runs / dt:.1f}", ""))
    serial_s, _ = timed(lambda: [simulate(sc, plan, faults, months=12, seed=s) for s in range(10)], repeats=1)
    rows.append(("serial, no Ray (runs/s)", f"{10 / serial_s:.1f}", ""))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>18}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>18}  {target}")
    assert math.isfinite(ours_s)


if __name__ == "__main__":
    main()
