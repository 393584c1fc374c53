"""Plotly figures of a deal (server-side, shipped as JSON like every dashboard figure): savings over
time, provider shares with and without the offer against the caps, and the withdrawal exposure curve."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from computemoat.web.deal import DealView

_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
_LAYOUT: dict[str, Any] = {"template": "plotly_white", "legend": {"orientation": "h", "y": -0.2},
                           "margin": {"l": 70, "r": 70, "t": 30, "b": 60}, "height": 380}  # fmt: skip


def usd_axis(title: str, values: list[float], **extra: Any) -> dict[str, Any]:
    """A USD y-axis: SI ticks ($1.5M) for large values; whole dollars, one apart, when every value is
    under $1 in size (all zero for a refused offer), where SI ticks would read "$500m" for half a dollar."""
    if max((abs(x) for x in values), default=0.0) < 1.0:
        return {"title": title, "range": [-1, 1], "dtick": 1, "tickformat": "$,.0f", **extra}
    return {"title": title, "tickformat": "$~s", **extra}


def _months(v: DealView) -> list[str]:
    return [p[:7] for p in v.periods]


def spend(v: DealView) -> dict[str, Any]:
    """Spend per period of the plan without the offer and of the plan with it."""
    x = _months(v)
    n = len(x)
    fig = go.Figure([
        go.Bar(x=x, y=list(v.without.spend_per_period_usd(n)), name="without the offer", marker_color="#9aa4b1"),
        go.Bar(x=x, y=list(v.with_offer.spend_per_period_usd(n)), name="with the offer", marker_color="#1f77b4"),
    ])  # fmt: skip
    values = [*v.without.spend_per_period_usd(n), *v.with_offer.spend_per_period_usd(n)]
    fig.update_layout(**_LAYOUT, barmode="group", yaxis=usd_axis("spend per period (USD)", values, rangemode="tozero"))
    return fig.to_plotly_json()


def savings(v: DealView) -> dict[str, Any]:
    """Savings of each period (bars; negative: the offer costs more that period, e.g. a take-or-pay
    floor before use ramps up) and summed up to each period (line), on one axis."""
    x = _months(v)
    fig = go.Figure([
        go.Bar(x=x, y=list(v.savings_by_period_usd), name="savings in the period",
               marker_color=["#2ca02c" if s >= 0 else "#d62728" for s in v.savings_by_period_usd]),
        go.Scatter(x=x, y=list(v.cumulative_savings_usd), name="cumulative savings", mode="lines+markers",
                   line={"color": "#145a32", "width": 3}),
    ])  # fmt: skip
    values = [*v.savings_by_period_usd, *v.cumulative_savings_usd]
    fig.update_layout(**_LAYOUT, yaxis=usd_axis("savings (USD)", values, zeroline=True))
    return fig.to_plotly_json()


def shares(v: DealView, kind: str) -> dict[str, Any]:
    """Each provider's share per period (``kind``: "spend" or "gpu"), solid with the offer, dashed
    without; the policy cap as a red dotted line. A cap with scope ``horizon`` bounds the horizon-wide
    share (the table), so a single period may sit above it."""
    x = _months(v)
    fig = go.Figure()
    for i, s in enumerate(v.shares):
        color = _PALETTE[i % len(_PALETTE)]
        with_, without = (s.spend_with, s.spend_without) if kind == "spend" else (s.gpu_with, s.gpu_without)
        fig.add_trace(go.Scatter(x=x, y=[100 * a for a in with_], name=f"{s.provider} with", mode="lines+markers",
                                 line={"color": color}, legendgroup=s.provider))  # fmt: skip
        fig.add_trace(go.Scatter(x=x, y=[100 * a for a in without], name=f"{s.provider} without", mode="lines",
                                 line={"color": color, "dash": "dash"}, legendgroup=s.provider))  # fmt: skip
    cap = next((c for s in v.shares if (c := s.spend_cap if kind == "spend" else s.gpu_cap) is not None), None)
    if cap is not None:
        fig.add_hline(y=100 * cap, line={"color": "#b42318", "dash": "dot"}, annotation_text=f"cap {cap:.0%}",
                      annotation_position="top left")  # fmt: skip
    what = "spend" if kind == "spend" else "rented GPUs"
    fig.update_layout(**_LAYOUT, yaxis={"title": f"share of {what} (%)", "range": [0, 105]})
    return fig.to_plotly_json()


def exposure(v: DealView) -> dict[str, Any]:
    """Against the withdrawal month: the stranded upfront, the re-plan's extra cost and the savings left;
    the savings without any withdrawal and the expected savings under the stated hazard as reference lines."""
    x = [e.month for e in v.exposure]
    dates = [e.date for e in v.exposure]
    hover = "withdrawal at month %{x} (%{customdata})<br>%{y:$,.0f}<extra>%{fullData.name}</extra>"
    fig = go.Figure([
        go.Bar(x=x, y=[e.stranded_usd for e in v.exposure], name="stranded commitment (upfront)",
               marker_color="#d62728", customdata=dates, hovertemplate=hover),
        go.Scatter(x=x, y=[e.replan_extra_usd for e in v.exposure], name="re-plan extra cost", mode="lines+markers",
                   line={"color": "#ff7f0e"}, customdata=dates, hovertemplate=hover),
        go.Scatter(x=x, y=[e.savings_usd for e in v.exposure], name="savings left", mode="lines+markers",
                   line={"color": "#2ca02c", "width": 3}, customdata=dates, hovertemplate=hover),
    ])  # fmt: skip
    values = [v.savings_usd, v.expected_savings_usd]
    values += [y for e in v.exposure for y in (e.stranded_usd, e.replan_extra_usd, e.savings_usd)]
    fig.add_hline(y=v.savings_usd, line={"color": "#2ca02c", "dash": "dash"},
                  annotation_text="savings, no withdrawal", annotation_position="top left")  # fmt: skip
    if v.withdrawal_probability_per_year > 0:
        fig.add_hline(y=v.expected_savings_usd, line={"color": "#555", "dash": "dot"},
                      annotation_text=f"expected at {v.withdrawal_probability_per_year:.0%}/yr",
                      annotation_position="bottom right")  # fmt: skip
    fig.update_layout(**_LAYOUT, xaxis={"title": "provider withdraws at month (from the horizon start)",
                                        "tickvals": x if len(x) <= 24 else None},
                      yaxis=usd_axis("USD", values, zeroline=True))  # fmt: skip
    return fig.to_plotly_json()
