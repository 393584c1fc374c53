"""Jinja filters: one way to print each kind of figure (USD, fractions, hours, intervals, missing)."""

from __future__ import annotations

import math
from typing import Any

from markupsafe import Markup, escape

_FRACTION_WORDS = ("availability", "goodput", "share", "fraction", "rate")


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def figure(v: Any, column: str = "") -> str:
    """A cell: USD with $ and thousands, fractions to 5 places, hours to 1, inf as ∞, missing as —."""
    if _is_missing(v):
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int | float):
        if math.isinf(v):
            return "∞" if v > 0 else "-∞"
        col = column.lower()
        if col.endswith("usd") or col.endswith("_usd_total"):
            return f"${v:,.0f}"
        if any(w in col for w in _FRACTION_WORDS):
            return f"{v:.5f}"
        if col.endswith("hours") or col.endswith("_h") or col.endswith("_ms") or col == "nines":
            return f"{v:,.2f}" if col == "nines" else f"{v:,.1f}"
        if isinstance(v, float) and not v.is_integer():
            return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.2f}" if abs(v) >= 1 else f"{v:.4g}"
        return f"{int(v):,}"
    return str(v)


def interval(lo: Any, hi: Any, column: str = "") -> str:
    if _is_missing(lo) and _is_missing(hi):
        return "—"
    return f"[{figure(lo, column)}, {figure(hi, column)}]"


def plural(n: Any, word: str) -> str:
    """'1 month', '2 months', '1.5 months'."""
    return f"{figure(n)} {word}" + ("" if n == 1 else "s")


def pct(v: Any) -> str:
    return "—" if _is_missing(v) else f"{float(v):.1%}"


def cap(v: float | None) -> str:
    return "no cap" if v is None else f"cap {v:.0%}"


def idwrap(v: Any) -> Markup:
    """An id like ``gcp:asia-south1:g2-standard-4`` that may wrap after a ':' but never at a '-'."""
    if v is None:
        return Markup("—")
    parts = str(v).split(":")
    return Markup("<wbr>").join(
        Markup('<span class="nw">{}</span>').format(escape(p + (":" if i < len(parts) - 1 else "")))
        for i, p in enumerate(parts)
    )


def usd(v: Any) -> str:
    """Whole dollars with the sign in front: ``$1,234``, ``-$3,474``."""
    if _is_missing(v):
        return "—"
    return f"-${-v:,.0f}" if v < 0 else f"${v:,.0f}"


def price(v: Any) -> str:
    """A GPU-hour price: ``$1.40/GPU-h``; None as ``none``."""
    return "none" if _is_missing(v) else f"${float(v):,.2f}/GPU-h"
