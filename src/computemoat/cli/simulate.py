"""`computemoat simulate` (one run: goodput, cost, availability) and `computemoat sweep` (Monte-Carlo
replications and the redundancy frontier on Ray)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

from computemoat.cli.common import (
    QuietOpt,
    console,
    err_console,
    examples,
    progress_bar,
    require_extra,
    status,
    user_errors,
)
from computemoat.cli.jsonout import FormatOpt, OutputFormat, emit, records
from computemoat.cli.planfile import scenario_for_plan
from computemoat.model.text import plural

if TYPE_CHECKING:
    import pandas as pd

    from computemoat.sim import OutagePolicy

PlanArg = Annotated[
    Path | None, typer.Argument(help="plan JSON from `computemoat plan --out` (default: plan the scenario now)")
]
ScenarioOpt = Annotated[
    Path | None, typer.Option("--scenario", help="scenario YAML (default: the file the plan records, else bundled)")
]
FaultsOpt = Annotated[Path | None, typer.Option("--faults", help="fault-model YAML overriding the defaults")]
MonthsOpt = Annotated[
    float, typer.Option("--months", min=0.01, max=1200, help="simulated months (730 h each; at most 100 years)")
]
ReplanOpt = Annotated[
    bool,
    typer.Option(
        "--replan/--no-replan",
        help="re-plan with the planner on outages and withdrawals (default: --replan, in simulate and sweep alike)",
    ),
]
PolicyOpt = Annotated[
    str | None, typer.Option("--outage-policy", help="training jobs on a site outage: wait | migrate | auto")
]


def _policy(name: str | None) -> OutagePolicy | None:
    from computemoat.model import UserError
    from computemoat.sim import OutagePolicy

    if name is None:
        return None
    try:
        return OutagePolicy(name)
    except ValueError:
        raise UserError(f"--outage-policy: unknown policy {name!r} (use wait, migrate or auto)") from None


def _usd(v: float) -> str:
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"${v / div:.2f}{unit}"
    return f"${v:.0f}"


def _nines(a: float) -> str:
    return "∞" if a >= 1.0 else f"{-math.log10(1 - a):.2f}"


def _print_jobs(jobs: pd.DataFrame) -> None:
    t = Table(title="Training jobs", box=box.SIMPLE_HEAD)
    for col in ("job", "GPUs", "goodput", "done h", "deadline h", "intr", "moves", "cost", "wasted"):
        t.add_column(col, justify="left" if col == "job" else "right", no_wrap=True)
    for r in jobs.itertuples():
        done = f"{r.completion_hours:,.0f}" if r.completed else ("stalled" if r.stalled else "not done")
        deadline = "-" if math.isnan(r.deadline_hours) else f"{r.deadline_hours:,.0f}"
        style = None if r.met_deadline else "red"
        t.add_row(
            r.job_id,
            f"{r.gpus:,}",
            f"{r.goodput:.1%}",
            done,
            deadline,
            str(r.interruptions),
            str(r.migrations),
            _usd(r.cost_usd),
            _usd(r.wasted_cost_usd),
            style=style,
        )
    console.print(t)


def _rtt(p95: float, degraded: float) -> str:
    if math.isnan(p95):
        return "-"
    return f"{p95:.0f}" + (f" ({degraded:.0f})" if not math.isnan(degraded) else "")


def _print_services(services: pd.DataFrame) -> None:
    t = Table(title="Inference availability (nines; '*' = every region at once)", box=box.SIMPLE_HEAD)
    for col in ("service", "all regions", "worst region", "worst", "downtime h", "RTT p95 ms (degraded)", "cost"):
        t.add_column(col, justify="left" if col in ("service", "worst region") else "right", no_wrap=True)
    for sid, g in services.groupby("service_id", sort=False):
        every = g[g["region"] == "*"].iloc[0]
        worst = g[g["region"] != "*"].sort_values("availability").iloc[0]
        t.add_row(
            str(sid),
            _nines(every.availability),
            str(worst.region),
            _nines(worst.availability),
            f"{every.downtime_hours:.2f}",
            _rtt(worst.rtt_p95_ms, worst.degraded_rtt_p95_ms),
            _usd(every.cost_usd),
        )
    console.print(t)


def simulate(
    plan: PlanArg = None,
    scenario: ScenarioOpt = None,
    months: MonthsOpt = 6.0,
    seed: Annotated[int, typer.Option("--seed", min=0, help="random seed (same seed, same run)")] = 1,
    faults: FaultsOpt = None,
    outage_policy: PolicyOpt = None,
    replan: ReplanOpt = True,
    out: Annotated[Path | None, typer.Option("--out", help="directory for jobs/services Parquet + JSON")] = None,
    fmt: FormatOpt = OutputFormat.table,
    quiet: QuietOpt = False,
) -> None:
    """One simulated run: GPU failures, outages, preemption, price changes and withdrawals vs the plan."""
    from computemoat.sim import planner_replanner
    from computemoat.sim import simulate as run_sim
    from computemoat.sim.session import prepare, write_run

    with user_errors():
        if out is not None:
            require_extra("parquet", "simulate --out writes Parquet")
        sc, _ = scenario_for_plan(plan, scenario)
        with status("latency matrix and plan…", quiet):
            prep = prepare(sc, plan, faults, _policy(outage_policy))
        replanner = planner_replanner(sc, prep.rtt_ms) if replan else None
        with progress_bar(f"simulating {months:g} months (seed {seed})", quiet) as update:
            result = run_sim(
                sc,
                prep.plan,
                prep.faults,
                months=months,
                seed=seed,
                replanner=replanner,
                rtt_ms=prep.rtt_ms,
                progress=update,
            )
        s = result.summary
        paths = write_run(result, out) if out is not None else []
        if fmt is OutputFormat.json:
            emit({"schema": "computemoat-simulate/1", "scenario": sc.name, "months": months, "seed": seed,
                  "plan": "solved now" if prep.planned_now else str(plan), "summary": s,
                  "jobs": records(result.jobs), "services": records(result.services),
                  "files": [str(x) for x in paths]})
            return
        console.print(
            f"scenario {sc.name}: {months:g} months, seed {seed}, plan "
            f"{'solved now' if prep.planned_now else str(plan)}"
        )
        _print_jobs(result.jobs)
        _print_services(result.services)
        outages = ", ".join(f"{k} {v}" for k, v in s["site_outages"].items())
        console.print(
            f"total {_usd(s['total_cost_usd'])} vs plan {_usd(s['plan_cost_usd'])} "
            f"(wasted {_usd(s['wasted_cost_usd'])}); {s['interruptions']} GPU/node interruptions; "
            f"outages: {outages}; {s['replans']} replans, {s['moves']} moves",
            soft_wrap=True,
        )
        if paths:
            console.print("wrote " + ", ".join(str(p) for p in paths), soft_wrap=True)


def sweep(
    plan: PlanArg = None,
    scenario: ScenarioOpt = None,
    runs: Annotated[int, typer.Option("--runs", min=1, help="replications per grid point")] = 100,
    months: MonthsOpt = 6.0,
    seed: Annotated[int, typer.Option("--seed", min=0, help="first seed; run i uses seed + i")] = 1,
    faults: FaultsOpt = None,
    frontier: Annotated[bool, typer.Option("--frontier", help="grid k = 0,1,2 x caps (replans each)")] = False,
    caps: Annotated[
        str,
        typer.Option(
            "--caps",
            help="spend-share caps for --frontier, 1 = none (default scenario: one job is ~90% of spend)",
        ),
    ] = "1,0.9,0.85",
    slo_scale: Annotated[float, typer.Option("--slo-scale", min=1.0, help="relax SLOs for --frontier")] = 1.0,
    replan: ReplanOpt = True,
    address: Annotated[str | None, typer.Option("--address", help="join this Ray cluster (default: local)")] = None,
    num_cpus: Annotated[int | None, typer.Option("--num-cpus", min=1, help="local Ray CPUs")] = None,
    out: Annotated[Path, typer.Option("--out", help="directory for runs.parquet, summary.json, report.html")] = Path(
        "sweep-out"
    ),
    fmt: FormatOpt = OutputFormat.table,
    quiet: QuietOpt = False,
) -> None:
    """Monte-Carlo replications on Ray with confidence intervals, Parquet/JSON results and plots."""
    with user_errors():
        require_extra("sim", "sweep runs on Ray")
        from computemoat.model import UserError
        from computemoat.sim.report import kaleido_available, write_report
        from computemoat.sim.session import prepare
        from computemoat.sim.sweep import SweepPoint, redundancy_grid, summarize
        from computemoat.sim.sweep import sweep as run_sweep

        sc, _ = scenario_for_plan(plan, scenario)
        with status("latency matrix and plan…", quiet):
            prep = prepare(sc, plan, faults)
        if frontier:
            try:
                cap_values = [None if float(c) >= 1 else float(c) for c in caps.split(",")]
            except ValueError:
                raise UserError(f"--caps: give numbers separated by commas, e.g. 1,0.5,0.35 (got {caps!r})") from None
            with status("planning the grid k x caps…", quiet):
                points, skipped = redundancy_grid(sc, prep.rtt_ms, caps=cap_values, slo_scale=slo_scale)
            for line in skipped:
                err_console.print(f"[yellow]skipped[/yellow] {line}", soft_wrap=True)
            if not points:
                raise UserError("--frontier: every grid point is infeasible (try --slo-scale 2)")
        else:
            points = [SweepPoint({"point": "plan"}, sc, prep.plan)]
        with progress_bar(f"{plural(runs, 'run')} x {plural(len(points), 'point')} on Ray", quiet) as update:
            df = run_sweep(
                points,
                prep.faults,
                runs=runs,
                months=months,
                seed=seed,
                rtt_ms=prep.rtt_ms,
                replan=replan,
                address=address,
                num_cpus=num_cpus,
                progress=update,
            )
        by = [c for c in points[0].labels]
        summary = summarize(df, by)
        out.mkdir(parents=True, exist_ok=True)
        df.to_parquet(out / "runs.parquet", index=False)
        summary.to_json(out / "summary.json", orient="records", indent=1)
        written = write_report(df, by, out)
        files = [out / "runs.parquet", out / "summary.json", *written]
        if fmt is OutputFormat.json:
            emit({"schema": "computemoat-sweep/1", "scenario": sc.name, "runs": runs, "months": months, "seed": seed,
                  "by": by, "summary": records(summary), "files": [str(x) for x in files]})
            return
        _print_summary(summary, by)
        png = "" if kaleido_available() else " (PNG skipped: kaleido is not installed)"
        console.print(
            f"wrote {out / 'runs.parquet'}, {out / 'summary.json'}, " + ", ".join(str(p) for p in written) + png,
            soft_wrap=True,
        )


def _print_summary(summary: pd.DataFrame, by: list[str]) -> None:
    keep = ["total_cost_usd", "plan_cost_usd", "goodput_gpu_weighted", "availability_min"]
    t = Table(
        title="Sweep: mean, 95% interval (availability: exact bound when < 3 runs had downtime), bootstrap CI",
        box=box.SIMPLE_HEAD,
    )
    for col in (*by, "metric", "mean", "95% interval", "bootstrap CI", "runs"):
        t.add_column(col)
    for r in summary[summary["metric"].isin(keep)].itertuples():
        fmt = "{:,.0f}" if r.metric.endswith("usd") else "{:.5f}"
        t.add_row(
            *(str(getattr(r, c)) for c in by),
            r.metric,
            fmt.format(r.mean),
            f"[{fmt.format(r.low)}, {fmt.format(r.high)}]",
            f"[{fmt.format(r.bootstrap_low)}, {fmt.format(r.bootstrap_high)}]",
            str(r.runs) + (f" ({r.runs_with_downtime:.0f} down)" if r.metric.startswith("availability") else ""),
        )
    console.print(t)
    if "warning" in summary:
        for r in summary[summary["warning"].notna() & summary["metric"].isin(keep)].itertuples():
            labels = " ".join(f"{c}={getattr(r, c)}" for c in by)
            err_console.print(f"[yellow]warning[/yellow] {labels} {r.metric}: {r.warning}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command(epilog=examples(
        "computemoat simulate plan.json --months 3 --seed 1",
        "computemoat simulate plan.json --faults faults.yaml --outage-policy migrate --out sim-out",
        "computemoat simulate plan.json --format json --quiet | jq .summary.total_cost_usd"))(simulate)
    app.command(epilog=examples(
        "computemoat sweep plan.json --runs 100 --months 6",
        "computemoat sweep --frontier --runs 50 --caps 1,0.9,0.85",
        "computemoat sweep plan.json --runs 20 --format json --quiet | jq '.summary[0]'"))(sweep)
