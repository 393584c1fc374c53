"""Plots of a sweep (plotly): cost and availability distributions and the redundancy frontier.

HTML always (one self-contained file: plotly.js is embedded, nothing is fetched when it is opened);
PNG only when kaleido is installed (it is not a dependency)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from computemoat.sim.result import nines
from computemoat.sim.stats import availability_interval

if TYPE_CHECKING:
    import plotly.graph_objects as go


def kaleido_available() -> bool:
    return importlib.util.find_spec("kaleido") is not None


NINES_CAP = 9.0  # box plots of single runs: a run without downtime has infinite nines


def _nines_axis(a: pd.Series) -> pd.Series:
    return a.map(lambda v: min(nines(float(v)), NINES_CAP))


def frontier_points(runs: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per (k, cap): mean plan cost and the worst-service availability the runs support, in nines.

    ``y_nines`` is the mean's nines once >= 3 runs had downtime, else the nines of the exact lower bound
    (stats.availability_interval): a point without downtime is plotted at what it is known to reach,
    not pinned at a cap; ``bound`` says which."""
    rows = []
    for (k, cap), g in runs.groupby(["k", "cap"]):
        a = availability_interval(g["availability_min"], level)
        bound = a.runs_with_downtime < 3
        rows.append(
            {
                "k": k,
                "cap": cap,
                "cost": float(g["plan_cost_usd"].mean()),
                "y_nines": nines(a.low if bound else a.mean),
                "low_nines": nines(a.low),
                "high_nines": min(nines(a.high), NINES_CAP),
                "bound": bound,
                "runs_with_downtime": a.runs_with_downtime,
                "runs": a.runs,
            }
        )
    return pd.DataFrame(rows)


def frontier_figure(runs: pd.DataFrame) -> go.Figure:
    """Mean plan cost vs worst-service availability (nines), one point per (k, cap), with its interval;
    triangles mark lower bounds (fewer than 3 runs with downtime)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    pts = frontier_points(runs)
    for k, g in pts.groupby("k"):
        y = g["y_nines"].clip(upper=NINES_CAP)
        fig.add_trace(
            go.Scatter(
                x=g["cost"],
                y=y,
                mode="markers+text",
                name=f"k = {k}",
                marker={"symbol": ["triangle-up" if b else "circle" for b in g["bound"]], "size": 11},
                text=[
                    f"cap {c:g}" + (f" (>= {v:.2f} nines, {d}/{n} runs down)" if b else "")
                    for c, v, b, d, n in zip(g["cap"], y, g["bound"], g["runs_with_downtime"], g["runs"], strict=True)
                ],
                textposition="top center",
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": (g["high_nines"] - y).clip(lower=0),
                    "arrayminus": (y - g["low_nines"]).clip(lower=0),
                },
            )
        )
    fig.update_layout(
        title="Redundancy frontier: what each extra nine costs (triangles: lower bound, no downtime seen)",
        xaxis_title="plan cost (USD)",
        yaxis_title="worst service availability (nines)",
        template="plotly_white",
    )
    return fig


def distribution_figures(runs: pd.DataFrame, by: list[str]) -> list[go.Figure]:
    """Histogram of total cost and box plot of availability (nines) per service, per grid point."""
    import plotly.express as px

    label = runs[by].astype(str).agg(" ".join, axis=1) if by else pd.Series("all", index=runs.index)
    df = runs.assign(point=label)
    figs = [
        px.histogram(
            df,
            x="total_cost_usd",
            color="point",
            barmode="overlay",
            nbins=40,
            title="Total cost per run",
            template="plotly_white",
        )
    ]
    avail_cols = [c for c in runs.columns if c.startswith("availability:")]
    if avail_cols:
        long = df.melt(id_vars=["point"], value_vars=avail_cols, var_name="service", value_name="availability")
        long["nines"] = _nines_axis(long["availability"])
        long["service"] = long["service"].str.removeprefix("availability:")
        figs.append(
            px.box(
                long,
                x="service",
                y="nines",
                color="point",
                template="plotly_white",
                title="Availability per run (nines, capped at 9)",
            )
        )
    if "goodput_gpu_weighted" in runs:
        figs.append(
            px.histogram(
                df,
                x="goodput_gpu_weighted",
                color="point",
                barmode="overlay",
                nbins=40,
                title="Training goodput per run (GPU-weighted)",
                template="plotly_white",
            )
        )
    return figs


def write_report(runs: pd.DataFrame, by: list[str], out_dir: Path) -> list[Path]:
    """``report.html`` (always) and one PNG per figure when kaleido is installed; returns the paths."""
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    figs = ([frontier_figure(runs)] if {"k", "cap"} <= set(runs.columns) else []) + distribution_figures(runs, by)
    out_dir.mkdir(parents=True, exist_ok=True)
    html = out_dir / "report.html"
    body = "\n".join(pio.to_html(f, full_html=False, include_plotlyjs=False) for f in figs)
    html.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>computemoat sweep</title>"
        f"<script>{get_plotlyjs()}</script></head><body>{body}</body></html>",
        encoding="utf-8",
    )
    written = [html]
    if kaleido_available():
        for i, f in enumerate(figs):
            png = out_dir / f"figure_{i + 1}.png"
            f.write_image(png)
            written.append(png)
    return written
