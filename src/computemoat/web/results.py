"""Read what `computemoat simulate --out` and `sweep --out` wrote, for the dashboard's result pages.

Read defensively: the simulator may add or rename interval columns, so every pair of columns named
``<name>_low``/``<name>_high`` (or ``_lo``/``_hi``, ``_lower``/``_upper``) is shown as an interval
``[lo, hi]`` under ``<name>``, and any other column is shown as it is."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from computemoat.model import UserError
from computemoat.sim.inference import ALL_REGIONS

SIM_FILES = ("jobs.parquet", "services.parquet", "summary.json")
SWEEP_FILES = ("runs.parquet", "summary.json")
_PAIRS = (("_low", "_high"), ("_lo", "_hi"), ("_lower", "_upper"))


@dataclass(frozen=True)
class Interval:
    """An interval column pair: shown as ``[lo, hi]`` under ``name``."""

    name: str
    low_col: str
    high_col: str


@dataclass(frozen=True)
class Table:
    """Rows as plain dicts plus which columns are intervals and which are shown as they are."""

    columns: tuple[str, ...]
    intervals: tuple[Interval, ...]
    rows: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class SimRun:
    """One `simulate --out` directory."""

    path: Path
    summary: dict[str, Any]
    jobs: Table
    services: Table
    moves: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class SweepRun:
    """One `sweep --out` directory: the tidy summary (point x metric) and the point labels."""

    path: Path
    labels: tuple[str, ...]
    summary: Table
    runs: int
    points: tuple[dict[str, Any], ...] = field(default=())


def find_intervals(columns: list[str]) -> tuple[Interval, ...]:
    """Column pairs that form intervals, in column order."""
    present = set(columns)
    found = []
    for c in columns:
        for lo, hi in _PAIRS:
            if c.endswith(lo) and c.removesuffix(lo) + hi in present:
                base = c.removesuffix(lo)
                found.append(Interval(base or "interval", c, base + hi))
    return tuple(found)


def _table(frame: pd.DataFrame, leading: tuple[str, ...] = ()) -> Table:
    cols = [str(c) for c in frame.columns]
    intervals = find_intervals(cols)
    in_pairs = {c for i in intervals for c in (i.low_col, i.high_col)}
    plain = [c for c in cols if c not in in_pairs]
    ordered = [c for c in leading if c in plain] + [c for c in plain if c not in leading]
    rows = tuple({str(k): _plain(v) for k, v in r.items()} for r in frame.to_dict(orient="records"))
    return Table(tuple(ordered), intervals, rows)


def _plain(v: Any) -> Any:
    """numpy scalars to Python; 'inf' strings (as write_run stores infinities) to floats."""
    if hasattr(v, "item") and not isinstance(v, str | bytes):
        v = v.item()
    if v in ("inf", "-inf"):
        return float(v)
    return v


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: not a readable Parquet file ({e})") from None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: cannot read ({e})") from None
    except json.JSONDecodeError as e:
        raise UserError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None


def _check_dir(path: Path, needed: tuple[str, ...], what: str) -> None:
    if not path.is_dir():
        raise UserError(f"{path}: not a directory (give the directory that `computemoat {what} --out` wrote)")
    missing = [n for n in needed if not (path / n).is_file()]
    if missing:
        raise UserError(
            f"{path}: missing {', '.join(missing)}; not a `computemoat {what} --out` directory"
        )


def _worst_first(services: pd.DataFrame) -> pd.DataFrame:
    """Every-region rows ('*') first, then the least available regions (stable, so ties keep file order)."""
    if not {"region", "availability"} <= set(services.columns):
        return services
    key = services.assign(_all=services["region"] != ALL_REGIONS)
    return key.sort_values(["_all", "availability"], kind="stable").drop(columns="_all").reset_index(drop=True)


def read_sim_dir(path: Path) -> SimRun:
    """jobs.parquet, services.parquet, summary.json and (optional) moves.json of one simulated run."""
    _check_dir(path, SIM_FILES, "simulate")
    summary = _read_json(path / "summary.json")
    if not isinstance(summary, dict):
        raise UserError(f"{path / 'summary.json'}: expected a JSON object (the run's summary)")
    moves: Any = _read_json(path / "moves.json") if (path / "moves.json").is_file() else []
    if not isinstance(moves, list):
        raise UserError(f"{path / 'moves.json'}: expected a JSON list of moves")
    jobs = _read_parquet(path / "jobs.parquet")
    services = _worst_first(_read_parquet(path / "services.parquet"))
    return SimRun(
        path=path,
        summary={k: _plain(v) for k, v in summary.items()},
        jobs=_table(jobs, ("job_id",)),
        services=_table(services, ("service_id", "region")),
        moves=tuple(m for m in moves if isinstance(m, dict)),
    )


def read_sweep_dir(path: Path) -> SweepRun:
    """summary.json (tidy: labels, metric, mean, intervals, runs) and the labels from runs.parquet."""
    _check_dir(path, SWEEP_FILES, "sweep")
    records = _read_json(path / "summary.json")
    if not isinstance(records, list) or not all(isinstance(r, dict) and "metric" in r for r in records):
        raise UserError(f"{path / 'summary.json'}: expected a list of records with a 'metric' field")
    summary = pd.DataFrame(records)
    runs = _read_parquet(path / "runs.parquet")
    metrics = set(summary["metric"]) if len(summary) else set()
    labels = tuple(str(c) for c in runs.columns if c != "seed" and c not in metrics and c in summary.columns)
    points = runs[list(labels)].drop_duplicates().to_dict(orient="records") if labels else []
    n_runs = int(runs["seed"].nunique()) if "seed" in runs.columns else len(runs)
    return SweepRun(
        path=path,
        labels=labels,
        summary=_table(summary, (*labels, "metric", "mean")),
        runs=n_runs,
        points=tuple({str(k): _plain(v) for k, v in p.items()} for p in points),
    )


def metric_rows(sweep: SweepRun, metric: str) -> list[dict[str, Any]]:
    return [r for r in sweep.summary.rows if r.get("metric") == metric]


def preferred_interval(intervals: tuple[Interval, ...]) -> Interval | None:
    """The interval a chart shows: an exact/binomial one when the simulator gives it, else bootstrap,
    else the first one present."""
    for word in ("exact", "clopper", "wilson", "binomial", "bootstrap"):
        for i in intervals:
            if word in i.name.lower():
                return i
    return intervals[0] if intervals else None


def is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and not (isinstance(v, float) and math.isnan(v))


def frontier_points(sweep: SweepRun) -> tuple[list[dict[str, Any]], str | None]:
    """(k, cap) points of a `sweep --frontier` with mean plan cost and worst-service availability
    (mean and the preferred interval); empty when the sweep was not over k x cap."""
    if not {"k", "cap"} <= set(sweep.labels):
        return [], None
    chosen = preferred_interval(sweep.summary.intervals)

    def key(r: dict[str, Any]) -> tuple[Any, Any]:
        return r["k"], r["cap"]

    cost = {key(r): r["mean"] for r in metric_rows(sweep, "plan_cost_usd")}
    points = []
    for r in metric_rows(sweep, "availability_min"):
        if key(r) not in cost or not is_number(r.get("mean")):
            continue
        lo: Any = r.get(chosen.low_col) if chosen else None
        hi: Any = r.get(chosen.high_col) if chosen else None
        points.append({
            "k": r["k"], "cap": r["cap"], "cost": cost[key(r)], "a": r["mean"],
            "lo": max(0.0, float(lo)) if is_number(lo) else None,
            "hi": min(1.0, float(hi)) if is_number(hi) else None,
        })
    return points, chosen.name if chosen else None


KEY_METRICS = ("goodput_gpu_weighted", "deadlines_met_share", "availability_min")


def key_metrics(sweep: SweepRun) -> list[str]:
    """Goodput, deadlines, the worst and each service's availability: the metrics a reader decides on."""
    present = [str(r["metric"]) for r in sweep.summary.rows]
    services = sorted({m for m in present if m.startswith("availability:")})
    return [m for m in (*KEY_METRICS[:2], *services, KEY_METRICS[2]) if m in present]


def point_table(sweep: SweepRun, metrics: list[str]) -> list[dict[str, Any]]:
    """One row per grid point: its labels and, per metric, (mean, lo, hi) of the preferred interval."""
    chosen = preferred_interval(sweep.summary.intervals)
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in sweep.summary.rows:
        if r.get("metric") not in metrics:
            continue
        key = tuple(r.get(label) for label in sweep.labels)
        row = rows.setdefault(key, {"labels": dict(zip(sweep.labels, key, strict=True)), "cells": {}})
        lo = r.get(chosen.low_col) if chosen else None
        hi = r.get(chosen.high_col) if chosen else None
        row["cells"][r["metric"]] = (r.get("mean"), lo, hi)
    return list(rows.values())
