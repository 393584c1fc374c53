"""Multi-period planner and `deal` benchmark (figures in bench/README.md).

    .venv/bin/python bench/horizon_bench.py [--only default36,fleet,deal] [--time-limit 120]

* default36: the bundled scenario over 36 monthly periods (examples/deal.yaml's horizon settings: demand
  growth, price decline, a training window, GPU cap over the horizon), target <= 30 s at gap <= 1%.
  Baseline in the same run: the single-period planner on the bundled scenario (`computemoat plan`), and
  the ratio of the two times.
* fleet: 1,000 generated workloads (bench/planner_bench.py's fleet) over 12 monthly periods with 50%/yr
  demand growth, target <= 60 s at gap <= 1%.
* deal: `evaluate_deal` on examples/deal.yaml (13 quarters) with break-even and the exposure curve, then
  the fault Monte-Carlo of `computemoat deal` (sim/deal.py, default draws) in-process and on Ray (start-up
  included), target <= 2 min in all.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from computemoat.catalog import default_scenario
from computemoat.latency import rtt_matrix
from computemoat.model import DemandSeries, PeriodKind, Scenario
from computemoat.planner import plan
from computemoat.planner.deal import DealSettings, evaluate_deal, load_offer
from computemoat.planner.horizon import plan_horizon

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from planner_bench import fleet  # noqa: E402


def _horizon_default(periods: int) -> Scenario:
    sc = default_scenario()
    offer = load_offer(ROOT / "examples" / "deal.yaml", sc)
    assert offer.horizon is not None
    h = offer.horizon.model_copy(update={"periods": periods, "period": PeriodKind.month, "reserved_term_periods": 12})
    return sc.model_copy(update={"horizon": h})


def bench_default(time_limit: float) -> None:
    sc = default_scenario()
    rtt = rtt_matrix(sc).rtt_ms
    t = time.perf_counter()
    single = plan(sc, rtt, time_limit_s=time_limit)
    t_single = time.perf_counter() - t
    h36 = _horizon_default(36)
    t = time.perf_counter()
    multi = plan_horizon(h36, rtt, time_limit_s=time_limit, mip_gap=0.01).plan
    t_multi = time.perf_counter() - t
    print(f"single-period plan (baseline)     {t_single:7.1f} s  gap {single.mip_gap or 0:.2%}  "
          f"${single.plan.total_cost_usd:,.0f}")  # fmt: skip
    print(f"default x 36 months               {t_multi:7.1f} s  gap {multi.mip_gap or 0:.2%}  ${multi.total_usd:,.0f}  "
          f"{multi.num_cols:,} cols x {multi.num_rows:,} rows  ({t_multi / t_single:.0f}x the single period; "
          f"target <= 30 s at <= 1%)")  # fmt: skip


def bench_fleet(time_limit: float) -> None:
    base = _horizon_default(12)
    sc = fleet(default_scenario(), 1000)
    h = base.horizon.model_copy(  # type: ignore[union-attr]
        update={"training_windows": (), "demand": tuple(
            DemandSeries(service=s.id, growth_per_year=0.5) for s in sc.inference_services)})  # fmt: skip
    sc = sc.model_copy(update={"horizon": h})
    rtt = rtt_matrix(sc).rtt_ms
    t = time.perf_counter()
    p = plan_horizon(sc, rtt, time_limit_s=time_limit, mip_gap=0.01).plan
    dt = time.perf_counter() - t
    print(f"1,000 workloads x 12 months       {dt:7.1f} s  gap {p.mip_gap or 0:.2%}  ${p.total_usd:,.0f}  "
          f"{p.num_cols:,} cols x {p.num_rows:,} rows  (target <= 60 s at <= 1%)")  # fmt: skip


def bench_deal(time_limit: float) -> None:
    sc = default_scenario()
    offer = load_offer(ROOT / "examples" / "deal.yaml", sc)
    t = time.perf_counter()
    r = evaluate_deal(sc, offer, lambda s: rtt_matrix(s).rtt_ms, DealSettings(time_limit_s=time_limit))
    dt = time.perf_counter() - t
    be = r.break_even.usd_per_gpu_hour
    print(f"deal examples/deal.yaml           {dt:7.1f} s  {r.solves} solves, savings ${r.savings_usd:,.0f}, "
          f"break-even {'none' if be is None else f'${be:.2f}'}  (target <= 120 s)")  # fmt: skip
    from computemoat.sim.deal import DEFAULT_DRAWS, fault_monte_carlo, ray_available

    runners = [False, True] if ray_available() else [False]
    for use_ray in runners:  # in-process first: the baseline of the Ray run
        t = time.perf_counter()
        mc = fault_monte_carlo(sc, offer, r, draws=DEFAULT_DRAWS, use_ray=use_ray)
        mc_s = time.perf_counter() - t
        p5, p50, p95 = mc.savings_p5_p50_p95_usd
        print(f"  + fault Monte-Carlo {mc.runner:>10}  {mc_s:7.1f} s  {mc.draws:,} draws, P5/P50/P95 ${p5:,.0f} / "
              f"${p50:,.0f} / ${p95:,.0f}; deal total {dt + mc_s:.1f} s (target <= 120 s)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="default36,fleet,deal")
    ap.add_argument("--time-limit", type=float, default=120.0)
    args = ap.parse_args()
    for name in args.only.split(","):
        {"default36": bench_default, "fleet": bench_fleet, "deal": bench_deal}[name](args.time_limit)


if __name__ == "__main__":
    main()
