"""The Python API end to end on examples/minimal.yaml: scenario -> RTTs -> plan -> check -> export -> simulate.

Run: python examples/api_tour.py   (tests/test_api_tour.py runs it too, so it stays true)
"""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory

from computemoat.catalog import load_scenario
from computemoat.export import gateway_yaml, write_skypilot_tasks
from computemoat.latency import rtt_matrix
from computemoat.planner import greedy_plan, plan, validate_plan
from computemoat.sim import simulate


def main() -> None:
    scenario = load_scenario(Path(__file__).with_name("minimal.yaml"))
    rtt = rtt_matrix(scenario)  # users x sites, best of fiber and LEO (p95)
    for i, user in enumerate(rtt.users):
        best = rtt.rtt_ms[i].argmin()
        print(f"{user:>14} -> {rtt.sites[best]:<18} {rtt.rtt_ms[i, best]:5.1f} ms via {rtt.path_kind[i, best]}")

    result = plan(scenario, rtt.rtt_ms, time_limit_s=30)  # MILP on HiGHS
    p = result.plan
    assert validate_plan(scenario, p, rtt.rtt_ms) == []  # independent checker, no solver
    baseline = greedy_plan(scenario, rtt.rtt_ms)  # SkyPilot-style cheapest-per-task
    print(f"plan: ${p.total_cost_usd:,.0f} ({p.status}); greedy: ${baseline.plan.total_cost_usd:,.0f}, "
          f"{len(validate_plan(scenario, baseline.plan, rtt.rtt_ms))} violations")
    for t in p.training:
        print(f"  train {t.job_id}: {t.gpus} GPUs on {t.offering_id} ({t.tier.value}) ${t.cost_usd:,.0f}")
    for s in p.inference:
        print(f"  serve {s.service_id}: {s.replicas} replicas on {s.offering_id}")

    with TemporaryDirectory() as out:
        files = write_skypilot_tasks(scenario, p, Path(out))
        print(f"SkyPilot tasks: {[f.name for f in files]}")
    print(f"gateway config: {len(gateway_yaml(scenario, p).splitlines())} lines of YAML")

    # failures, outages, preemption; deterministic per seed; RTTs let failover use any site within the SLO
    run = simulate(scenario, p, months=1, seed=7, rtt_ms=rtt.rtt_ms)
    for job in run.jobs.itertuples():
        print(f"simulated: {job.job_id} goodput {job.goodput:.1%}, {job.interruptions} interruptions, "
              f"cost ${job.cost_usd:,.0f} vs plan ${job.plan_cost_usd:,.0f}")
    for svc in run.services.itertuples():
        print(f"simulated: {svc.service_id} in {svc.region}: availability {svc.availability:.4%}")


if __name__ == "__main__":
    main()
