"""Simulator benchmark: one year of a 100,000-GPU fleet at Llama-3 failure rates.

Prints one table, every figure measured in this run: our vectorized engine vs the baseline, an equally
careful SimPy model (``simpy_careful``: one process per job, one event per failure or site outage,
checkpoints counted arithmetically between events, same rates, same restart rule); extra rows for the
naive SimPy model with one process per node and a checkpoint event each (``simpy_per_node``), and
sweep throughput (runs/s) on Ray with 1 and 2 workers. Targets (issue 13): >= 10x faster than the
careful baseline, results equal within noise (interruptions and useful job-hours, averaged over seeds).

The engine also draws inference faults and availability (which the baselines do not), so the ratio
understates the gap. Run: .venv/bin/python bench/sim_bench.py
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
from computemoat.reliability import (
    interruptions_per_hour,
    planned_interval_s,
    site_outages_per_hour,
    young_daly_interval_s,
)
from computemoat.sim import FaultModel, simulate
from computemoat.sim.sweep import SweepPoint, init_ray, sweep

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


def simpy_per_node(faults: FaultModel, seed: int) -> tuple[float, int]:
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


def simpy_careful(sc: Scenario, plan: Plan, faults: FaultModel, seed: int) -> tuple[float, int]:
    """The fair baseline: one SimPy process per job, one event per failure (exponential gaps at the
    job's total rate: node faults, failure domains) and one per outage of its site (Poisson starts,
    lognormal durations, as the engine draws them); between two events the run's checkpoints are
    counted arithmetically, floor(L / (τ + δ)), exactly the engine's rule. Returns (useful job-hours,
    interruptions)."""
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    restart_h = faults.gpu.restart_overhead_s / 3600
    saved: dict[str, float] = {}
    failures = [0]
    procs: dict[str, list[simpy.Process]] = {}
    tails: dict[str, tuple[float, float, float]] = {}  # (run_from, τ + δ, τ): the run still going at the end

    def job_proc(p):
        kw = dict(gpus=p.gpus, tier=p.tier, gpus_per_instance=GPUS_PER_NODE, provider=p.provider)
        lam = interruptions_per_hour(faults, **kw)
        tau_h = planned_interval_s(faults, job_id=p.job_id, checkpoint_write_s=300.0, **kw) / 3600
        period = tau_h + 300.0 / 3600
        saved[p.job_id] = 0.0
        run_from = 0.0
        tails[p.job_id] = (0.0, period, tau_h)
        while True:
            try:
                yield env.timeout(rng.exponential(1 / lam))
                outage_end = None
                failures[0] += 1
            except simpy.Interrupt as stop:
                outage_end = stop.cause
            saved[p.job_id] += (max(env.now - run_from, 0.0) // period) * tau_h
            while outage_end is not None and env.now < outage_end:  # overlapping outages extend the wait
                try:
                    yield env.timeout(outage_end - env.now)
                except simpy.Interrupt as more:
                    outage_end = max(outage_end, more.cause)
            run_from = env.now + restart_h
            tails[p.job_id] = (run_from, period, tau_h)

    def outage_proc(site_id: str, provider: str):
        rate = site_outages_per_hour(faults, provider)
        mean_h, sigma = faults.site_outage_mean_hours(provider), faults.outage_duration_sigma
        while True:
            yield env.timeout(rng.exponential(1 / rate))
            end = env.now + rng.lognormal(math.log(mean_h) - sigma**2 / 2, sigma)
            for proc in procs.get(site_id, []):
                if proc.is_alive:
                    proc.interrupt(end)

    for p in plan.training:
        procs.setdefault(p.site_id, []).append(env.process(job_proc(p)))
    for site in sc.sites:
        env.process(outage_proc(site.id, site.provider))
    env.run(until=HOURS)
    for job_id, (run_from, period, tau_h) in tails.items():  # checkpoints of the run cut by the horizon
        saved[job_id] += (max(HOURS - run_from, 0.0) // period) * tau_h
    return sum(saved.values()), failures[0]


def timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def cpu_and_wall(fn) -> tuple[float, float, object]:
    """(CPU s of this process, wall s, result) of one call. On a shared machine the CPU time is what the
    code costs; the wall time adds however long the scheduler left it waiting (most for short calls)."""
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn()
    return time.process_time() - c0, time.perf_counter() - w0, out


def _print(rows: list[tuple[str, str, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>20}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>20}  {target}")


def main() -> None:
    import ray

    sc, plan = fleet()
    faults = FaultModel()
    seeds = range(1, 21)
    ours, careful = [], []
    simulate(sc, plan, faults, months=12, seed=0)  # warm both: imports, memoised placement rates
    simpy_careful(sc, plan, faults, seed=0)
    block = 5  # blocks of seeds, alternated: a change of load hits both alike, and each runs as in a sweep
    for lo in range(0, len(seeds), block):
        part = seeds[lo : lo + block]
        ours += [cpu_and_wall(lambda s=s: simulate(sc, plan, faults, months=12, seed=s)) for s in part]
        careful += [cpu_and_wall(lambda s=s: simpy_careful(sc, plan, faults, seed=s)) for s in part]
    ours_cpu = statistics.median(c for c, _, _ in ours)
    careful_cpu = statistics.median(c for c, _, _ in careful)
    ours_s = statistics.median(w for _, w, _ in ours)
    careful_s = statistics.median(w for _, w, _ in careful)
    ours = [(w, r) for _, w, r in ours]
    careful = [(w, r) for _, w, r in careful]
    naive_s, (_, naive_failures) = timed(lambda: simpy_per_node(faults, seed=1), repeats=1)
    ours_work = [float((r.jobs["goodput"] * HOURS).sum()) for _, r in ours]
    ours_intr = [r.summary["interruptions"] for _, r in ours]
    car_work = [w for _, (w, _) in careful]
    car_intr = [n for _, (_, n) in careful]

    expected_intr = HOURS * sum(
        interruptions_per_hour(faults, gpus=p.gpus, tier=p.tier, gpus_per_instance=GPUS_PER_NODE, provider=p.provider)
        for p in plan.training
    )

    def mean_se(x: list[float]) -> str:
        return f"{statistics.mean(x):,.0f} ± {statistics.stdev(x) / math.sqrt(len(x)):,.0f}"

    rows = [
        ("engine: 1 year, 100,000 GPUs (CPU s/run, median of 20 seeds)", f"{ours_cpu:.4f}", ""),
        ("careful SimPy, 1 event per failure/outage (CPU s/run)", f"{careful_cpu:.4f}", "baseline"),
        ("speed-up vs careful SimPy (CPU time)", f"{careful_cpu / ours_cpu:.1f}x", ">= 10x"),
        ("engine (wall s/run, median)", f"{ours_s:.4f}", ""),
        ("careful SimPy (wall s/run, median)", f"{careful_s:.4f}", ""),
        ("speed-up vs careful SimPy (wall time)", f"{careful_s / ours_s:.1f}x", ""),
        ("interruptions/run: engine", mean_se(ours_intr), "equal within noise"),
        ("interruptions/run: careful SimPy", mean_se(car_intr), ""),
        ("interruptions/run: closed form (rate x 8,760 h)", f"{expected_intr:,.0f}", ""),
        ("useful job-hours/run: engine", mean_se(ours_work), "equal within noise"),
        ("useful job-hours/run: careful SimPy", mean_se(car_work), ""),
        ("naive SimPy, 1 process per node (s/run, extra row)", f"{naive_s:.3f}", ""),
        ("speed-up vs naive SimPy", f"{naive_s / ours_s:.0f}x", ""),
        ("interruptions: naive SimPy (node faults only)", f"{naive_failures}", ""),
    ]
    _print(rows)
    runs, extra = 40, []
    point = [SweepPoint({"point": "fleet"}, sc, plan)]
    for workers in (1, 2):
        try:
            init_ray(num_cpus=workers)
        except Exception as e:  # a loaded machine can time Ray's startup out: say so, keep the rest
            extra.append((f"sweep on Ray, {workers} worker(s) (runs/s)", "not measured", f"ray.init: {e}"[:60]))
            continue
        sweep(point, faults, runs=workers * 2, months=12)  # warm the workers (imports)
        t0 = time.perf_counter()
        sweep(point, faults, runs=runs, months=12, seed=100)
        dt = time.perf_counter() - t0
        ray.shutdown()
        extra.append((f"sweep on Ray, {workers} worker(s) (runs/s)", f"{runs / dt:.1f}", ""))
    serial_s, _ = timed(lambda: [simulate(sc, plan, faults, months=12, seed=s) for s in range(10)], repeats=1)
    extra.append(("serial, no Ray (runs/s)", f"{10 / serial_s:.1f}", ""))
    _print(extra)
    assert math.isfinite(ours_s)


if __name__ == "__main__":
    main()
