"""`computemoat deal OFFER.yaml`: evaluate a provider's offer over the horizon (thin wrapper over planner/deal/)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

from computemoat.cli.common import console, load_scenario_arg, user_errors
from computemoat.model.errors import UserError

if TYPE_CHECKING:
    from computemoat.planner.deal import DealResult, FaultMonteCarlo, PlanFaults

DEFAULT_FAULT_DRAWS = 1000  # = sim.deal.DEFAULT_DRAWS (not imported: the CLI loads the simulator on use)


def _usd(v: float) -> str:
    return f"-${-v:,.0f}" if v < 0 else f"${v:,.0f}"


def _gap(gap: float | None, status: str) -> str:
    text = "n/a" if gap is None else f"{gap:.2%}"
    return text if status == "optimal" else f"{text} (time limit)"


def _pct(v: float) -> str:
    return f"{v:.0%}"


def print_deal(r: DealResult) -> None:
    console.print(f"[bold]{r.offer}[/bold] from {r.provider} at ${r.offered_usd_per_gpu_hour:.2f}/GPU-h over "
                  f"{len(r.periods)} periods from {r.periods[0]}", highlight=False)  # fmt: skip
    t = Table(title="Plan without / with the offer", box=box.SIMPLE_HEAD)
    for col in ("", "without", "with offer", "savings"):
        t.add_column(col, justify="left" if not col else "right")
    t.add_row("total (nominal)", _usd(r.without.total_usd), _usd(r.with_offer.total_usd), _usd(r.savings_usd))
    t.add_row("NPV", _usd(r.without.objective_usd), _usd(r.with_offer.objective_usd), _usd(r.savings_npv_usd))
    gaps = (_gap(p.mip_gap, p.status) for p in (r.without, r.with_offer))
    t.add_row("solver gap", *gaps, "")
    console.print(t)
    plans = (("without the offer", r.without), ("with the offer", r.with_offer))
    stopped = [name for name, p in plans if p.status != "optimal"]
    if stopped:
        which = "both plans" if len(stopped) == 2 else f"the plan {stopped[0]}"
        console.print(f"[yellow]{which} stopped at the time limit: within the gap shown, not proven "
                      "optimal (raise --time-limit)[/yellow]", highlight=False)  # fmt: skip
    be = r.break_even
    price = "none" if be.usd_per_gpu_hour is None else f"${be.usd_per_gpu_hour:.2f}/GPU-h"
    tol = be.tolerance_usd_per_gpu_hour
    steps = f"{be.bisection_steps} re-solve{'' if be.bisection_steps == 1 else 's'}"
    console.print(f"committed: {r.committed_gpus:,} GPUs; break-even price {price} (± ${tol:.2f}, "
                  f"{be.method}, {steps})", highlight=False)  # fmt: skip
    shown = list(range(0, len(r.periods), max(1, -(-len(r.periods) // 5))))
    some = None if len(shown) == len(r.periods) else f"{len(shown)} of {len(r.periods)} periods shown; all in --out"
    t = Table(title="Share of spend per period, without/with the offer", caption=some, box=box.SIMPLE_HEAD)
    t.add_column("provider", no_wrap=True)
    for k in shown:
        t.add_column(r.periods[k][:7], justify="right", no_wrap=True)
    for s in r.shares:
        t.add_row(s.provider, *(f"{_pct(s.spend_share_without[k])}/{_pct(s.spend_share_with[k])}" for k in shown))
    console.print(t)
    caps = r.shares[0] if r.shares else None
    if caps is not None and (caps.spend_cap is not None or caps.gpu_cap is not None):
        console.print(f"caps: spend {caps.spend_cap or '-'}, GPUs {caps.gpu_cap or '-'}", highlight=False)
    print_exposure(r)
    print_risk(r)
    for label, v in (("offered", r.landlord_offered), ("break-even", r.landlord_break_even)):
        if v is not None and v.usd_per_gpu_hour is not None:
            console.print(f"landlord at {label} ${v.usd_per_gpu_hour:.2f}: revenue {_usd(v.revenue_usd)}, "
                          f"{v.committed_gpus:,} GPUs committed, utilization {v.utilization_of_offered:.0%} of offered",
                          highlight=False)  # fmt: skip
    mc = "" if r.faults_mc is None else f"; {r.faults_mc.draws:,} fault draws in {r.faults_mc.elapsed_s:.1f} s"
    console.print(f"{r.solves} solves in {r.elapsed_s:.1f} s{mc}", highlight=False)


def print_risk(r: DealResult) -> None:
    """Expected savings (closed form over the withdrawal timing) and the Monte-Carlo percentiles: of the
    timing alone, or of the timing and the simulator's faults when ``r.faults_mc`` is there."""
    risk = r.withdrawal_probability_per_year
    mc = r.faults_mc
    if mc is None:
        p5, p50, p95 = r.savings_p5_p50_p95_usd
        from computemoat.planner.deal.evaluate import MONTE_CARLO_DRAWS

        console.print(f"withdrawal {risk:.0%}/yr: expected savings {_usd(r.expected_savings_usd)}; "
                      f"P5/P50/P95 {_usd(p5)} / {_usd(p50)} / {_usd(p95)} (Monte-Carlo over withdrawal timing, "
                      f"{MONTE_CARLO_DRAWS:,} draws)", highlight=False)  # fmt: skip
        return
    p5, p50, p95 = mc.savings_p5_p50_p95_usd
    console.print(f"withdrawal {risk:.0%}/yr: expected savings {_usd(r.expected_savings_usd)} (closed form over "
                  f"withdrawal timing); P5/P50/P95 {_usd(p5)} / {_usd(p50)} / {_usd(p95)} ({mc_label(mc)})",
                  highlight=False)  # fmt: skip
    without, with_ = mc.plans
    lo, hi = mc.savings_mean_ci95_usd

    def overrun(p: PlanFaults) -> str:  # the mean and its 95% half-width: ~0 when the plan's hours hold
        return f"{_usd(p.overrun_usd_mean)} ± {_usd((p.overrun_usd_ci95[1] - p.overrun_usd_ci95[0]) / 2)}"

    console.print(f"training runs under faults: mean overrun {overrun(without)} without / "
                  f"{overrun(with_)} with the offer; a deadline missed in "
                  f"{without.deadline_miss_share:.1%} / {with_.deadline_miss_share:.1%} of draws; mean savings "
                  f"{_usd(mc.savings_mean_usd)} (95% CI {_usd(lo)} to {_usd(hi)})", highlight=False)  # fmt: skip


def mc_label(mc: FaultMonteCarlo) -> str:
    where = "on Ray" if mc.runner == "ray" else "in-process"
    return f"Monte-Carlo over {mc.sampled}, {mc.draws:,} draws {where}"


EXPOSURE_ROWS = 12  # the printed curve stays compact; the JSON has every point


def exposure_rows(n: int, most: int = EXPOSURE_ROWS) -> list[int]:
    """Indices of the curve points to print: all of them up to ``most``, else every k-th and the last."""
    if n <= most:
        return list(range(n))
    step = -(-(n - 1) // (most - 1))
    return sorted({*range(0, n - 1, step), n - 1})


def print_exposure(r: DealResult) -> None:
    if not r.exposure:
        console.print(f"no withdrawal exposure: nothing is committed to {r.provider} at "
                      f"${r.offered_usd_per_gpu_hour:.2f}/GPU-h, so its withdrawal changes nothing",
                      highlight=False)  # fmt: skip
        return
    shown = exposure_rows(len(r.exposure))
    every = "" if len(shown) == len(r.exposure) else f", {len(shown)} of {len(r.exposure)} months (all in --out)"
    t = Table(title=f"If {r.provider} withdraws (policy shift){every}", box=box.SIMPLE_HEAD)
    for col in ("at month", "stranded", "re-plan extra cost", "savings left"):
        t.add_column(col, justify="right")
    for p in (r.exposure[i] for i in shown):
        t.add_row(f"{p.month} ({p.date})", _usd(p.stranded_usd), _usd(p.replan_extra_usd), _usd(p.savings_usd))
    console.print(t)


def _ray_installed() -> bool:
    return importlib.util.find_spec("ray") is not None


def register(app: typer.Typer) -> None:
    from computemoat.cli.common import examples

    @app.command(epilog=examples(
        "computemoat deal examples/deal.yaml",
        "computemoat deal offer.yaml --scenario my.yaml --out deal.json"))  # fmt: skip
    def deal(
        offer_file: Annotated[Path, typer.Argument(help="offer YAML (see examples/deal.yaml)")],
        scenario: Annotated[Path | None, typer.Option("--scenario", help="scenario YAML (default: bundled)")] = None,
        out: Annotated[Path | None, typer.Option(help="write the result as JSON")] = None,
        time_limit: Annotated[float, typer.Option("--time-limit", min=0.1, help="per solve (s)")] = 120.0,
        mip_gap: Annotated[float, typer.Option("--mip-gap", min=0.0, max=1.0, help="relative gap per solve")] = 0.005,
        fault_draws: Annotated[
            int,
            typer.Option(
                "--fault-draws",
                help="Monte-Carlo draws of withdrawal timing and the simulator's faults (0: timing only)",
            ),
        ] = DEFAULT_FAULT_DRAWS,
        ray: Annotated[
            bool, typer.Option("--ray/--no-ray", help="fault draws on Ray when installed, or in-process")
        ] = True,
    ) -> None:
        """Should we sign this offer, at what price, and what if the provider withdraws?

        Break-even price: Newton's method on the NPV of the best plan that signs the minimum commitment
        (re-solved at each step's price, warm-started) until it equals the plan without the offer; steps
        stop below max($0.01, 0.5% of the offered price). The printed tolerance adds the solver gaps of
        the two plans turned into price (gap USD / GPU-hours billed); lower --mip-gap to tighten it.
        P5/P50/P95: a Monte-Carlo over the withdrawal timing and the simulator's faults on each plan's
        training runs (common random numbers; on Ray when installed). See docs/horizon.md."""
        from computemoat.latency import rtt_matrix
        from computemoat.planner.deal import DealSettings, evaluate_deal, load_offer

        with user_errors():
            if fault_draws < 0:
                raise UserError(f"--fault-draws {fault_draws}: give a number of draws >= 0 (0: withdrawal timing only)")
            if out is not None and (out.is_dir() or not out.parent.is_dir()):
                raise UserError(f"--out {out}: not a file in an existing directory (create the directory first)")
            sc = load_scenario_arg(scenario)
            offer = load_offer(offer_file, sc)
            with console.status("solving the plans with and without the offer, break-even and withdrawals…"):
                result = evaluate_deal(sc, offer, lambda s: rtt_matrix(s).rtt_ms,
                                       DealSettings(time_limit_s=time_limit, mip_gap=mip_gap))  # fmt: skip
            if fault_draws > 0:
                from computemoat.sim.deal import fault_monte_carlo

                where = "on Ray" if ray and _ray_installed() else "in-process"
                with console.status(f"{fault_draws:,} draws of withdrawal timing and faults {where}…"):
                    mc = fault_monte_carlo(sc, offer, result, draws=fault_draws, use_ray=None if ray else False)
                result = dataclasses.replace(result, faults_mc=mc)
            print_deal(result)
            if out is not None:
                out.write_text(json.dumps(result.to_json(), indent=2), encoding="utf-8")
                console.print(f"deal written to {out}")
