"""`computemoat plan`, `replan` and `export {skypilot,gateway}`: thin wrappers over planner/ and export/."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

from computemoat.cli.common import (
    QuietOpt,
    ScenarioArg,
    console,
    err_console,
    examples,
    load_scenario_arg,
    status,
    user_errors,
)
from computemoat.cli.jsonout import FormatOpt, OutputFormat, emit, plan_doc, replan_doc
from computemoat.cli.planfile import scenario_for_plan, with_source
from computemoat.model.errors import UserError
from computemoat.model.text import plural

if TYPE_CHECKING:
    import numpy as np

    from computemoat.model import Assignment, Plan, Scenario
    from computemoat.planner import PlanResult, SolveProgress, Unplaced
    from computemoat.reliability import FaultModel

ScenarioOpt = Annotated[
    Path | None,
    typer.Option("--scenario", help="scenario YAML the plan was made from (default: the file plan.json records, "
                 "else bundled)"),
]
PlanFileArg = Annotated[Path, typer.Argument(help="plan JSON written by `computemoat plan --out`")]
FaultsOpt = Annotated[
    Path | None,
    typer.Option("--faults", help="fault-model YAML for expected hours (default: the bundled Llama 3 rates)"),
]

EXIT_PARTIAL = 3  # replan: a plan was made, but some workloads are unplaced or lost their N+k


def _faults(path: Path | None) -> FaultModel | None:
    if path is None:
        return None
    from computemoat.sim.faults import load_faults

    return load_faults(path)


def _rtt(scenario: Scenario, quiet: bool = False) -> np.ndarray:
    from computemoat.latency import rtt_matrix

    with status("computing users x sites latency (fiber + LEO)…", quiet):
        return rtt_matrix(scenario).rtt_ms


def _check_writable(out: Path | None) -> None:
    if out is not None and (out.is_dir() or not out.parent.is_dir()):
        raise UserError(f"--out {out}: not a file in an existing directory (create the directory first)")


def _usd(v: float) -> str:
    return f"${v:,.0f}"


def _hours(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def print_plan(scenario: Scenario, p: Plan, rtt_ms: np.ndarray, faults: FaultModel | None = None) -> None:
    """Placements, spend per provider vs caps, SLO attainment per region and the N+k verdict."""
    from computemoat.planner import validate_plan

    deadline = {j.id: j.deadline_hours for j in scenario.training_jobs}
    t = Table(title="Training placements (expected h: with failures, restarts, preemptions)", box=box.SIMPLE_HEAD)
    for col in ("job", "offering", "tier", "GPUs", "nominal h", "expected h", "deadline h", "cost"):
        t.add_column(col, justify="left" if col in ("job", "offering", "tier") else "right")
    for tp in p.training:
        dl = deadline.get(tp.job_id)
        t.add_row(
            tp.job_id,
            tp.offering_id,
            tp.tier.value,
            f"{tp.gpus:,}",
            _hours(tp.nominal_hours),
            _hours(tp.expected_hours),
            "-" if dl is None else f"{dl:,.0f}",
            _usd(tp.cost_usd),
        )
    console.print(t)
    t = Table(title=f"Inference placements ({scenario.horizon_hours:g} h, whole instances)", box=box.SIMPLE_HEAD)
    for col in ("service", "offering", "replicas", "instances", "GPUs", "cost"):
        t.add_column(col, justify="left" if col in ("service", "offering") else "right")
    for ip in p.inference:
        t.add_row(
            ip.service_id, ip.offering_id, str(ip.replicas), str(ip.instances or "-"), str(ip.gpus), _usd(ip.cost_usd)
        )
    console.print(t)

    pol = scenario.policy
    spend, gpus = p.cost_by_provider(), p.gpus_by_provider()
    total_usd, total_gpus = max(p.total_cost_usd, 1e-9), max(sum(gpus.values()), 1)
    t = Table(title="Cost per provider", box=box.SIMPLE_HEAD)
    for col in ("provider", "cost", "spend share", "GPU share"):
        t.add_column(col, justify="left" if col == "provider" else "right")
    cap_s = f" (cap {pol.max_provider_share_spend:.0%})" if pol.max_provider_share_spend else ""
    cap_g = f" (cap {pol.max_provider_share_gpus:.0%})" if pol.max_provider_share_gpus else ""
    for prov in sorted(spend, key=spend.__getitem__, reverse=True):
        t.add_row(
            prov, _usd(spend[prov]), f"{spend[prov] / total_usd:.1%}{cap_s}", f"{gpus[prov] / total_gpus:.1%}{cap_g}"
        )
    t.add_row("[bold]total[/bold]", f"[bold]{_usd(p.total_cost_usd)}[/bold]", "", "")
    console.print(t)

    if scenario.inference_services:
        slo = {s.id: s.latency_slo_ms for s in scenario.inference_services}
        t = Table(title="SLO attainment per region: demand-weighted RTT ms (share within SLO)", box=box.SIMPLE_HEAD)
        t.add_column("region")
        for svc_id, ms in slo.items():
            t.add_column(f"{svc_id} ≤{ms:g}", justify="right")
        by: dict[tuple[str, str], list[Assignment]] = defaultdict(list)
        for a in p.assignments:
            by[(a.region, a.service_id)].append(a)
        for region in scenario.user_regions:
            cells = []
            for svc_id in slo:
                rows = by.get((region.name, svc_id), [])
                rps = sum(a.rps for a in rows)
                if rps <= 0:
                    cells.append("—")
                    continue
                mean = sum(a.rps * a.rtt_ms for a in rows) / rps
                ok = sum(a.rps for a in rows if a.rtt_ms <= slo[svc_id]) / rps
                cells.append(f"{mean:.0f} ({ok:.0%})")
            t.add_row(region.name, *cells)
        console.print(t)
    violations = validate_plan(scenario, p, rtt_ms, faults=faults)
    failed = {v.workload_id for v in violations if v.kind == "redundancy"}
    for svc in scenario.inference_services:
        if svc.redundancy_k:
            verdict = "[red]no[/red]" if svc.id in failed else "[green]yes[/green]"
            if svc.id in p.unplaced:
                verdict = "[yellow]no (partly served, see unplaced)[/yellow]"
            s = "" if svc.redundancy_k == 1 else "s"
            console.print(f"{svc.id}: survives loss of any {svc.redundancy_k} provider{s}: {verdict}")
    verdict = "[green]valid[/green]" if not violations else f"[red]{len(violations)} violations[/red]"
    if p.unplaced and not violations:
        gone = ", ".join(p.unplaced)
        verdict = f"[yellow]partial[/yellow] ({len(p.unplaced)} unplaced or degraded: {gone}; the rest valid)"
    console.print(f"independent validation: {verdict}")
    for v in violations:
        console.print(f"  {v.kind}: {v.message}", highlight=False, markup=False, style="red")


def _print_result(result: PlanResult) -> None:
    gap = "n/a" if result.mip_gap is None else f"{result.mip_gap:.3%}"
    console.print(
        f"solver: HiGHS {result.model_status}, gap {gap}, {result.solve_time_s:.2f} s, "
        f"{result.num_cols:,} columns ({result.num_integer:,} integer) x {result.num_rows:,} rows",
        highlight=False,
    )


def plan(
    scenario: ScenarioArg = None,
    out: Annotated[Path | None, typer.Option(help="write the plan as JSON")] = None,
    explain: Annotated[bool, typer.Option("--explain", help="binding constraints, price of each policy")] = False,
    time_limit: Annotated[float, typer.Option("--time-limit", min=0.1, help="solver time limit (s)")] = 60.0,
    mip_gap: Annotated[float, typer.Option("--mip-gap", min=0.0, max=1.0, help="relative MIP gap to stop at")] = 0.01,
    fmt: FormatOpt = OutputFormat.table,
    quiet: QuietOpt = False,
    faults_file: FaultsOpt = None,
) -> None:
    """Cost-optimal placement of every training job and inference replica (MILP, HiGHS)."""
    with user_errors():
        from computemoat.planner import plan as run_plan
        from computemoat.planner import validate_plan

        _check_writable(out)  # before minutes of solving, not after
        sc = load_scenario_arg(scenario)
        faults = _faults(faults_file)
        rtt_ms = _rtt(sc, quiet)
        with status("solving…", quiet) as update:

            def show(ev: SolveProgress) -> None:
                extra = "" if ev.objective_usd is None else f" incumbent {_usd(ev.objective_usd)}"
                extra += "" if ev.gap is None else f", gap {ev.gap:.2%}"
                update(f"{ev.stage} ({ev.elapsed_s:.1f} s of at most {time_limit:g} s){extra}")

            result = run_plan(sc, rtt_ms, time_limit_s=time_limit, mip_gap=mip_gap, progress=show, faults=faults)
        final = with_source(result.plan, scenario)
        if validate_plan(sc, result.plan, rtt_ms, faults=faults):
            err_console.print("[red]bug:[/red] the solver's plan fails independent validation (details below)")
        if out is not None:
            out.write_text(final.model_dump_json(indent=2), encoding="utf-8")
        if fmt is OutputFormat.json:
            emit(plan_doc(sc, result, final, rtt_ms))
            return
        print_plan(sc, result.plan, rtt_ms, faults)
        _print_result(result)
        if explain:
            _print_explain(result, time_limit, quiet)
        if out is not None:
            console.print(f"plan written to {out}")


def _print_explain(result: PlanResult, time_limit: float, quiet: bool = False) -> None:
    from computemoat.planner.explain import explain as run_explain

    with status("pricing each policy (one re-solve per policy)…", quiet):
        ex = run_explain(result, time_limit_s=time_limit)
    console.print("[bold]Binding constraints[/bold]")
    for line in ex.binding or ("none at their bound",):
        console.print(f"  {line}", highlight=False, markup=False)
    t = Table(title="Price of each policy (re-solved without it)", box=box.SIMPLE_HEAD)
    for col in ("policy", "plan cost without", "policy costs", "%"):
        t.add_column(col, justify="left" if col == "policy" else "right")
    for pp in ex.policy_prices:
        if pp.delta_usd is None:
            t.add_row(pp.policy, "still infeasible", "", "")
        elif pp.within_gap:
            t.add_row(
                pp.policy, _usd(pp.cost_without_usd or 0.0), f"≈ $0 (±{_usd(pp.tolerance_usd)}, solver gap)", "≈ 0"
            )
        else:
            pct = "" if pp.delta_pct is None else f"{pp.delta_pct:+.2f}%"
            t.add_row(pp.policy, _usd(pp.cost_without_usd or 0.0), _usd(pp.delta_usd), pct)
    console.print(t)
    t = Table(title="Next-best alternative per training job", box=box.SIMPLE_HEAD)
    for col in ("job", "chosen", "next best", "why it lost"):
        t.add_column(col)
    for a in ex.alternatives:
        t.add_row(a.workload_id, a.chosen, a.next_best or "—", a.reason)
    console.print(t)
    if ex.service_alternatives:
        t = Table(title="Next-best alternative per inference service (its largest placement)", box=box.SIMPLE_HEAD)
        for col in ("service", "chosen", "next best", "why it lost"):
            t.add_column(col)
        for a in ex.service_alternatives:
            t.add_row(a.workload_id, a.chosen, a.next_best or "—", a.reason)
        console.print(t)


def _factors(values: list[str], what: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for v in values:
        key, sep, num = v.rpartition("=")
        try:
            out[key] = float(num)
        except ValueError:
            key = ""
        if not sep or not key:
            raise UserError(f"--{what} {v!r}: expected NAME=FACTOR, e.g. aws=1.5")
    return out


def replan(
    plan_file: PlanFileArg,
    scenario: ScenarioOpt = None,
    withdraw: Annotated[list[str] | None, typer.Option("--withdraw", help="provider withdrawn for good")] = None,
    capacity: Annotated[list[str] | None, typer.Option(help="OFFERING=FACTOR on its capacity (0 = gone)")] = None,
    price: Annotated[list[str] | None, typer.Option(help="PROVIDER=FACTOR on its prices")] = None,
    cost_tolerance: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="accept plans this much dearer than the cheapest to move less")
    ] = 0.005,
    out: Annotated[Path | None, typer.Option(help="write the new plan as JSON")] = None,
    time_limit: Annotated[float, typer.Option("--time-limit", min=0.1)] = 30.0,
    fmt: FormatOpt = OutputFormat.table,
    quiet: QuietOpt = False,
    faults_file: FaultsOpt = None,
) -> None:
    """New plan after a change: the fewest moves within --cost-tolerance of the cheapest plan.
    Exit code 3 when the new plan is partial (a workload unplaced, a service short or without N+k)."""
    with user_errors():
        from computemoat.planner import Change
        from computemoat.planner import replan as run_replan
        from computemoat.planner.plan_file import read_plan

        _check_writable(out)
        sc, source = scenario_for_plan(plan_file, scenario)
        faults = _faults(faults_file)
        old = read_plan(plan_file, sc)
        change = Change(
            withdraw_providers=tuple(withdraw or ()),
            capacity_factor=_factors(capacity or [], "capacity"),
            price_factor=_factors(price or [], "price"),
        )
        rtt_ms = _rtt(sc, quiet)
        with status("re-planning…", quiet):
            result = run_replan(
                sc, old, change, rtt_ms, time_limit_s=time_limit, faults=faults, cost_tolerance=cost_tolerance
            )
        final = with_source(result.plan, source)
        if out is not None:
            out.write_text(final.model_dump_json(indent=2), encoding="utf-8")
        if fmt is OutputFormat.json:
            emit(replan_doc(old, result, final, rtt_ms))
            if result.unplaced:
                raise typer.Exit(EXIT_PARTIAL)
            return
        _partial_headline(result.unplaced)  # first, so no one reads the tables below as a full plan
        print_plan(result.scenario, result.plan, rtt_ms, faults)
        t = Table(title=f"Moves ({len(result.moves)})", box=box.SIMPLE_HEAD)
        for col in ("workload", "kind", "change", "from", "to"):
            t.add_column(col)
        for m in result.moves:
            what = m.change.value + (f" {m.from_replicas} -> {m.to_replicas}" if m.kind == "inference" else "")
            t.add_row(m.workload_id, m.kind, what, m.from_offering or "—", m.to_offering or "—")
        console.print(t)
        _print_unplaced(result.unplaced)
        was, now = result.like_for_like_usd(old)
        like = "" if not result.unplaced else " for the workloads placed in both plans"
        console.print(
            f"cost {_usd(was)} -> {_usd(now)} ({now - was:+,.0f} USD){like}; fewest moves within "
            f"{result.cost_tolerance:.1%} of the cheapest plan (whole plan {_usd(result.plan.total_cost_usd)}, "
            f"cheapest {_usd(result.cheapest_cost_usd or 0.0)})",
            highlight=False,
            soft_wrap=True,
        )
        if out is not None:
            console.print(f"plan written to {out}")
        if result.unplaced:
            _partial_headline(result.unplaced)  # and last, where a terminal leaves the eye
            raise typer.Exit(EXIT_PARTIAL)


def _partial_headline(unplaced: tuple[Unplaced, ...]) -> None:
    if unplaced:
        ids = ", ".join(u.workload_id for u in unplaced)
        err_console.print(
            f"[red]PARTIAL PLAN:[/red] not placed or degraded: {ids} (exit code {EXIT_PARTIAL})",
            highlight=False,
            soft_wrap=True,
        )


def _print_unplaced(unplaced: tuple[Unplaced, ...]) -> None:
    if not unplaced:
        return
    t = Table(title=f"Not placed after the change ({len(unplaced)})", box=box.SIMPLE_HEAD)
    for col in ("workload", "kind", "why"):
        t.add_column(col, overflow="fold")
    for u in unplaced:
        t.add_row(u.workload_id, u.kind if not u.unserved_rps else f"{u.kind} (partial)", u.reason)
    console.print(t)
    n_jobs = sum(u.kind == "training" for u in unplaced)
    err_console.print(
        f"[yellow]warning:[/yellow] partial plan: {plural(n_jobs, 'training job')} not placed, "
        f"{plural(len(unplaced) - n_jobs, 'service')} not fully served or not redundant; everything else was "
        "re-planned",
        highlight=False,
    )


export_app = typer.Typer(help="Export a plan: SkyPilot task YAML, gateway config.", no_args_is_help=True)


@export_app.command("skypilot", epilog=examples(
    "computemoat export skypilot plan.json -o sky && sky launch sky/frontier-pretrain.sky.yaml",
    "computemoat export skypilot plan.json -o sky --scenario my.yaml"))
def export_skypilot(
    plan_file: PlanFileArg,
    out_dir: Annotated[Path, typer.Option("-o", "--out-dir", help="directory for the task YAML files")],
    scenario: ScenarioOpt = None,
) -> None:
    """One SkyPilot task YAML per training placement (`sky launch DIR/JOB.sky.yaml`)."""
    with user_errors():
        from computemoat.export import write_skypilot_tasks
        from computemoat.planner.plan_file import read_plan

        sc, _ = scenario_for_plan(plan_file, scenario)
        for path in write_skypilot_tasks(sc, read_plan(plan_file, sc), out_dir):
            console.print(f"wrote {path}")


@export_app.command("gateway", epilog=examples(
    "computemoat export gateway plan.json -o gateway.yaml --url-template 'http://{provider}-{region}.internal:8000'",
    "computemoat export gateway plan.json -o gateway.yaml && computemoat serve gateway.yaml"))
def export_gateway(
    plan_file: PlanFileArg,
    out: Annotated[Path, typer.Option("-o", "--out", help="gateway config YAML to write")],
    scenario: ScenarioOpt = None,
    url_template: Annotated[
        str, typer.Option(help="backend URL; fields {provider} {region} {service} {model} {site}")
    ] = "http://{provider}-{region}.{service}.invalid",
) -> None:
    """Gateway backends for the inference placements (edit the URLs, then `computemoat serve`)."""
    with user_errors():
        from computemoat.export import gateway_yaml
        from computemoat.planner.plan_file import read_plan

        sc, _ = scenario_for_plan(plan_file, scenario)
        out.write_text(gateway_yaml(sc, read_plan(plan_file, sc), url_template=url_template), encoding="utf-8")
        console.print(f"wrote {out}")


def register(app: typer.Typer) -> None:
    app.command("plan", epilog=examples(
        "computemoat plan --out plan.json",
        "computemoat plan my.yaml --explain --time-limit 120",
        "computemoat plan my.yaml --format json --quiet | jq .plan.total_cost_usd"))(plan)
    app.command("replan", epilog=examples(
        "computemoat replan plan.json --withdraw gcp",
        "computemoat replan plan.json --capacity atlas:tx-abilene:atlas-h100x8=0.5 --price aws=1.2 --out new.json",
        "computemoat replan plan.json --withdraw atlas --format json | jq '.moves | length'"))(replan)
    app.add_typer(export_app, name="export")
