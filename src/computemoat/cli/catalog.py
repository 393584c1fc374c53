"""`computemoat catalog` and `computemoat validate`."""

from __future__ import annotations

import csv
import io
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from computemoat.cli.common import ScenarioArg, console, examples, load_scenario_arg, user_errors


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class Sort(StrEnum):
    price = "price"
    spot = "spot"
    provider = "provider"
    region = "region"
    accelerator = "accelerator"
    capacity = "capacity"


def _money(v: float | None) -> str:
    return "—" if v is None else f"{v:,.2f}"


def catalog(
    scenario: ScenarioArg = None,
    provider: Annotated[str | None, typer.Option(help="only this provider, e.g. aws")] = None,
    accelerator: Annotated[str | None, typer.Option(help="only this accelerator, e.g. H100")] = None,
    region: Annotated[str | None, typer.Option(help="substring of region code or city, e.g. us-east or Tokyo")] = None,
    sort: Annotated[Sort, typer.Option(help="sort order")] = Sort.price,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="table for people, json/csv for machines")] = (
        Format.table
    ),
) -> None:
    """List GPU offerings: provider, region, accelerator, $/GPU-hour (on-demand, spot, reserved), capacity."""
    from computemoat.catalog.query import offering_rows

    with user_errors():
        rows = offering_rows(
            load_scenario_arg(scenario), provider=provider, accelerator=accelerator, region=region, sort=sort.value
        )
    if fmt is Format.json:
        typer.echo(json.dumps([r.as_dict() for r in rows], indent=2))
        return
    if fmt is Format.csv:
        buf = io.StringIO()
        if rows:
            writer = csv.DictWriter(buf, fieldnames=list(rows[0].as_dict()))
            writer.writeheader()
            writer.writerows(r.as_dict() for r in rows)
        typer.echo(buf.getvalue(), nl=False)
        return
    table = Table(
        title=f"{len(rows)} offerings, $ per GPU-hour (list price x provider multiplier)", box=box.SIMPLE_HEAD
    )
    for col, justify in (
        ("provider", "left"), ("region", "left"), ("city", "left"), ("accel", "left"), ("GPUs", "right"),
        ("on-demand", "right"), ("spot", "right"), ("reserved", "right"), ("capacity", "right"),
    ):
        city_width = 22 if console.is_terminal else None  # a pipe gets every city whole
        table.add_column(col, justify=justify, no_wrap=col != "city",  # type: ignore[arg-type]
                         max_width=city_width if col == "city" else None)
    for r in rows:
        table.add_row(
            r.provider, r.region, r.city, r.accelerator, str(r.gpus_per_instance),
            _money(r.usd_per_gpu_hour_on_demand), _money(r.usd_per_gpu_hour_spot),
            _money(r.usd_per_gpu_hour_reserved), f"{r.capacity_gpus:,}",
        )
    console.print(table)


def validate(scenario: Annotated[Path, typer.Argument(help="scenario YAML file to check")]) -> None:
    """Check a scenario file; print a one-screen summary, or one line per problem (exit code 2)."""
    from computemoat.catalog.summary import summarize

    with user_errors():
        s = load_scenario_arg(scenario)
    console.print(f"[green]ok[/green] {scenario}: scenario [bold]{s.name}[/bold]")
    for line in summarize(s):
        console.print(f"  {line}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command(epilog=examples(
        "computemoat catalog --accelerator H100 --region us-east",
        "computemoat catalog --provider aws --sort spot",
        "computemoat catalog my.yaml --format csv > offerings.csv"))(catalog)
    app.command(epilog=examples(
        "computemoat validate scenario.yaml",
        "computemoat init && computemoat validate scenario.yaml"))(validate)
