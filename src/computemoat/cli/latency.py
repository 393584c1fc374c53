"""`computemoat latency`: fiber vs LEO RTT between two points, or the users x sites matrix to a file."""

from __future__ import annotations

import time
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
    require_extra,
    user_errors,
)
from computemoat.model.errors import UserError

if TYPE_CHECKING:
    from computemoat.latency import RttMatrix
    from computemoat.model import NetworkSettings, Scenario


def _ms(v: float) -> str:
    return "—" if v == float("inf") else f"{v:,.1f}"


def _with_overrides(scenario: Scenario, overrides: dict[str, tuple[str, object]]) -> Scenario:
    from computemoat.latency.settings import override_network

    network: NetworkSettings = override_network(scenario.network, overrides)
    return scenario.model_copy(update={"network": network})


def _print_point(m: RttMatrix, src: str, dst: str) -> None:
    table = Table(title=f"RTT {src} → {dst} (ms)", box=box.SIMPLE_HEAD)
    for col in ("path", "min", "median", "p95", "max", "no path"):
        table.add_column(col, justify="left" if col == "path" else "right")
    fiber = float(m.fiber_rtt_ms[0, 0])
    no_route = fiber == float("inf")
    table.add_row("fiber", _ms(fiber), _ms(fiber), _ms(fiber), _ms(fiber), "100%" if no_route else "0%")
    table.add_row(
        "LEO", _ms(m.leo_rtt_min_ms[0, 0]), _ms(m.leo_rtt_median_ms[0, 0]), _ms(m.leo_rtt_p95_ms[0, 0]),
        _ms(m.leo_rtt_max_ms[0, 0]), f"{m.leo_outage_fraction[0, 0]:.0%}",
    )
    console.print(table)
    if no_route:
        console.print("fiber: no terrestrial route (no cable reaches Antarctica)", highlight=False, soft_wrap=True)
    if m.path_kind[0, 0] == "none":
        console.print("best: [bold]none[/bold]: no fiber route and no LEO path in the window", highlight=False)
        return
    console.print(
        f"best: [bold]{m.path_kind[0, 0]}[/bold] at {_ms(m.rtt_ms[0, 0])} ms "
        "(LEO judged on its p95, so the figure holds 95% of the time)",
        highlight=False,
        soft_wrap=True,
    )


def latency(
    scenario: ScenarioArg = None,
    src: Annotated[str | None, typer.Option("--from", help="city name or 'lat,lon'")] = None,
    dst: Annotated[str | None, typer.Option("--to", help="site id (provider:region), city or 'lat,lon'")] = None,
    matrix: Annotated[bool, typer.Option("--matrix", help="users x sites matrix of the scenario")] = False,
    out: Annotated[Path | None, typer.Option(help="matrix output file: .csv or .parquet")] = None,
    min_elevation_deg: Annotated[float | None, typer.Option(help="lowest usable satellite elevation")] = None,
    planes: Annotated[int | None, typer.Option(help="orbital planes of the Walker shell")] = None,
    sats_per_plane: Annotated[int | None, typer.Option(help="satellites per plane")] = None,
    window_s: Annotated[int | None, typer.Option(help="time window of LEO snapshots (s)")] = None,
    step_s: Annotated[int | None, typer.Option(help="time between LEO snapshots (s)")] = None,
    tle_file: Annotated[Path | None, typer.Option(help="real TLEs (one shell, any order) instead of the shell")] = (
        None
    ),
    constellation: Annotated[str | None, typer.Option(help="bundled shells: starlink_gen1 or kuiper")] = None,
    window_start_s: Annotated[float | None, typer.Option(help="first LEO snapshot, s after t=0")] = None,
    quiet: QuietOpt = False,
) -> None:
    """Round-trip time over fiber and over a LEO constellation: --from/--to for one pair,
    or --matrix for every user region x site of the scenario."""
    overrides: dict[str, tuple[str, object]] = {
        "min_elevation_deg": ("--min-elevation-deg", min_elevation_deg),
        "leo_shell.planes": ("--planes", planes),
        "leo_shell.sats_per_plane": ("--sats-per-plane", sats_per_plane),
        "leo_window_s": ("--window-s", window_s),
        "leo_step_s": ("--step-s", step_s),
        "tle_file": ("--tle-file", None if tle_file is None else str(tle_file)),
        "leo_constellation": ("--constellation", constellation),
        "leo_window_start_s": ("--window-start-s", window_start_s),
    }
    with user_errors():
        if matrix == (src is not None or dst is not None):
            raise UserError("give either --from and --to (one pair) or --matrix (every user x site)")
        if not matrix and (src is None or dst is None):
            raise UserError("give both --from (city or 'lat,lon') and --to (site id, city or 'lat,lon')")
        if matrix and (out is None or out.suffix.lower() not in (".csv", ".parquet")):
            raise UserError("--matrix needs --out FILE ending in .csv or .parquet")
        if out is not None and out.suffix.lower() == ".parquet":
            require_extra("parquet", "--out .parquet")
        s = _with_overrides(load_scenario_arg(scenario), overrides)
        if matrix:
            assert out is not None
            _matrix(s, out, quiet)
        else:
            assert src is not None and dst is not None
            _point(s, src, dst)


def _point(s: Scenario, src: str, dst: str) -> None:
    from computemoat.catalog import resolve_place
    from computemoat.latency.matrix import Endpoint, rtt_point

    a = resolve_place(src)
    user = Endpoint(a.name, a.lat_deg, a.lon_deg, ground_station=True)
    if any(site.id == dst for site in s.sites) or (":" in dst and "," not in dst):
        target: str | Endpoint = dst
    else:
        b = resolve_place(dst)
        target = Endpoint(b.name, b.lat_deg, b.lon_deg, ground_station=True)
    m = rtt_point(user, target, s)
    _print_point(m, a.name, dst if isinstance(target, str) else target.name)


def _matrix(s: Scenario, out: Path, quiet: bool = False) -> None:
    from rich.progress import Progress

    from computemoat.latency import rtt_matrix

    t0 = time.perf_counter()
    with Progress(console=err_console, transient=True, disable=quiet or not err_console.is_terminal) as bar:
        task = bar.add_task("LEO snapshots", total=None)
        m = rtt_matrix(s, progress=lambda done, total: bar.update(task, completed=done, total=total))
    frame = m.to_frame()
    try:
        if out.suffix.lower() == ".csv":
            frame.to_csv(out, index=False)
        else:
            frame.to_parquet(out, index=False)
    except OSError as e:
        raise UserError(f"{out}: cannot write ({e.strerror or e}); check --out") from None
    leo_best = int((m.path_kind == "leo").sum())
    console.print(
        f"wrote {out}: {len(m.users)} users x {len(m.sites)} sites, LEO best for {leo_best} pairs, "
        f"fiber for {m.path_kind.size - leo_best} ({time.perf_counter() - t0:.2f} s)",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.command(epilog=examples(
        "computemoat latency --from London --to aws:us-east-1",
        "computemoat latency --from 51.5,-0.13 --to Tokyo --min-elevation-deg 40",
        "computemoat latency my.yaml --matrix --out rtt.csv"))(latency)
