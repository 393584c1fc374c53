"""Plotly figures for the dashboard, built server-side and shipped as JSON (plotly.js is served locally)."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from computemoat.latency import RttMatrix
from computemoat.model import PlacementRules, Plan, Scenario
from computemoat.planner.rules import provider_block_reason

_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def provider_colors(scenario: Scenario) -> dict[str, str]:
    return {p.name: _PALETTE[i % len(_PALETTE)] for i, p in enumerate(scenario.providers)}


def excluded_providers(scenario: Scenario) -> dict[str, str]:
    """Providers the fleet policy blocks (by name or jurisdiction), with the reason."""
    out = {}
    for p in scenario.providers:
        reason = provider_block_reason(scenario, PlacementRules(), p)
        if reason is not None:
            out[p.name] = reason
    return out


def world_map(scenario: Scenario, plan: Plan | None) -> dict[str, Any]:
    """Sites (by provider; size = planned GPUs), user regions, and the plan's region -> site assignments.
    Providers the policy excludes are left off: they can never serve anyone."""
    colors = provider_colors(scenario)
    planned: dict[str, int] = {}
    if plan is not None:
        used = [(t.site_id, t.gpus) for t in plan.training] + [(i.site_id, i.gpus) for i in plan.inference]
        for site_id, n in used:
            planned[site_id] = planned.get(site_id, 0) + n
    fig = go.Figure()
    regions = {r.name: r for r in scenario.user_regions}
    sites = {s.id: s for s in scenario.sites}
    if plan is not None:
        lats: list[float | None] = []
        lons: list[float | None] = []
        for a in plan.assignments:
            r, s = regions.get(a.region), sites.get(a.site_id)
            if r is None or s is None:
                continue
            lats += [r.lat_deg, s.lat_deg, None]
            lons += [r.lon_deg, s.lon_deg, None]
        fig.add_trace(go.Scattergeo(lat=lats, lon=lons, mode="lines", name="served by",
                                    line={"width": 1, "color": "rgba(80,80,80,0.35)"}, hoverinfo="skip"))
    excluded = excluded_providers(scenario)
    for provider in scenario.providers:
        if provider.name in excluded:
            continue
        mine = [s for s in scenario.sites if s.provider == provider.name]
        gpus = np.array([planned.get(s.id, 0) for s in mine], dtype=float)
        fig.add_trace(go.Scattergeo(
            lat=[s.lat_deg for s in mine], lon=[s.lon_deg for s in mine], mode="markers",
            name=provider.name + (" (illustrative)" if provider.illustrative else ""),
            marker={"size": 6 + 4 * np.log2(1 + gpus / 64), "color": colors[provider.name],
                    "symbol": ["star" if s.ground_station else "circle" for s in mine],
                    "line": {"width": 0.5, "color": "white"}},
            text=[f"{s.id}<br>{s.city}<br>planned GPUs: {planned.get(s.id, 0):,}" for s in mine],
            hoverinfo="text",
        ))
    fig.add_trace(go.Scattergeo(
        lat=[r.lat_deg for r in scenario.user_regions], lon=[r.lon_deg for r in scenario.user_regions],
        mode="markers", name="user regions", marker={"size": 7, "color": "black", "symbol": "diamond"},
        text=[r.name for r in scenario.user_regions], hoverinfo="text",
    ))
    fig.update_layout(margin={"l": 0, "r": 0, "t": 0, "b": 0}, height=520, legend={"orientation": "h"},
                      geo={"projection_type": "natural earth", "showcountries": True,
                           "countrycolor": "#ccc", "showland": True, "landcolor": "#f4f4f4"})
    return fig.to_plotly_json()


def cost_by_provider(scenario: Scenario, plan: Plan) -> dict[str, Any]:
    colors = provider_colors(scenario)
    cost = plan.cost_by_provider()
    names = sorted(cost, key=cost.__getitem__, reverse=True)
    fig = go.Figure(go.Bar(x=names, y=[cost[n] for n in names], marker_color=[colors.get(n, "#888") for n in names],
                           text=[f"${cost[n] / 1e6:,.2f}M" for n in names], textposition="outside"))
    fig.update_layout(margin={"l": 40, "r": 10, "t": 10, "b": 40}, height=320, yaxis_title="USD")
    return fig.to_plotly_json()


def rtt_heatmap(rtt: RttMatrix, max_sites: int = 40, skip_sites: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Best RTT users x sites (the sites closest to the users first, so the picture stays readable);
    ``skip_sites``: sites of excluded providers, which serve no one."""
    best = np.where(np.isfinite(rtt.rtt_ms), rtt.rtt_ms, np.inf).min(axis=0)
    best[[i for i, s in enumerate(rtt.sites) if s in skip_sites]] = np.inf
    order = [int(i) for i in np.argsort(best, kind="stable")[:max_sites] if np.isfinite(best[i])]
    block = rtt.rtt_ms[:, order]
    z = [[float(v) if np.isfinite(v) else None for v in row] for row in block]  # JSON null: no path
    fig = go.Figure(go.Heatmap(
        z=z, x=[rtt.sites[i] for i in order], y=list(rtt.users), colorscale="Viridis",
        colorbar={"title": "RTT ms"},
        customdata=rtt.path_kind[:, order].tolist(),
        hovertemplate="%{y} → %{x}<br>%{z:.1f} ms via %{customdata}<extra></extra>",
    ))
    fig.update_layout(margin={"l": 120, "r": 10, "t": 10, "b": 140}, height=560)
    return fig.to_plotly_json()


def frontier(points: list[dict[str, Any]], interval_name: str | None) -> dict[str, Any]:
    """Plan cost vs worst-service availability, one marker per sweep point (k, cap), the availability
    interval as error bars. ``points``: {"k", "cap", "cost", "a", "lo", "hi"} (lo/hi may be None).
    Caps that give the same plan share one marker ("caps 0.85, 0.9, 1")."""
    fig = go.Figure()
    for k in sorted({p["k"] for p in points}):
        merged: dict[tuple[float, float], dict[str, Any]] = {}
        for p in points:
            if p["k"] == k:
                m = merged.setdefault((round(p["cost"], 2), round(p["a"], 12)), {**p, "caps": []})
                m["caps"].append(p["cap"])
        mine = list(merged.values())
        has_bars = interval_name is not None and all(p["lo"] is not None and p["hi"] is not None for p in mine)
        labels = [("cap " if len(p["caps"]) == 1 else "caps ") + ", ".join(f"{c:g}" for c in p["caps"]) for p in mine]
        labels = [t.replace("cap 1", "no cap") if t == "cap 1" else t for t in labels]  # sweep: cap 1 = none
        fig.add_trace(go.Scatter(
            x=[p["cost"] for p in mine], y=[100 * p["a"] for p in mine], mode="markers+text", name=f"k = {k}",
            text=labels, textposition="middle right", marker={"size": 10},
            error_y={"type": "data", "symmetric": False,
                     "array": [100 * (p["hi"] - p["a"]) for p in mine],
                     "arrayminus": [100 * (p["a"] - p["lo"]) for p in mine]} if has_bars else None,
            hovertemplate="k=" + str(k) + " %{text}<br>plan $%{x:,.0f}<br>worst availability %{y:.4f}%<extra></extra>",
        ))
    fig.update_layout(margin={"l": 60, "r": 30, "t": 30, "b": 50}, height=420,
                      xaxis_title="plan cost (USD)", yaxis_title="worst service availability (%)",
                      legend={"orientation": "h"}, template="plotly_white")
    return fig.to_plotly_json()
