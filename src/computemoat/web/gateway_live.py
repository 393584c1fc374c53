"""A snapshot of a running gateway for the dashboard's live page: its Prometheus ``/metrics`` and
``/readyz``, fetched server-side (the browser never talks to the gateway, so no CORS and no token in
the page) and reduced to per-backend figures. Counters are cumulative; the page differences two
snapshots to get rates (requests/s, errors/s, window latency)."""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

Buckets = list[tuple[float, float]]  # (upper bound in seconds, cumulative count), ascending


class GatewayUnreachable(Exception):
    """The gateway did not answer /metrics (down, wrong URL, not a computemoat gateway)."""


def bucket_quantile(buckets: Buckets, q: float) -> float | None:
    """Prometheus' ``histogram_quantile``: linear interpolation inside the bucket holding rank q x n;
    a rank in the +Inf bucket gives the highest finite bound. None without observations."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    prev_le, prev_cum = 0.0, 0.0
    for le, cum in buckets:
        if cum >= rank:
            if math.isinf(le):
                return prev_le
            if cum == prev_cum:
                return le
            return prev_le + (le - prev_le) * (rank - prev_cum) / (cum - prev_cum)
        prev_le, prev_cum = le, cum
    return prev_le


def _merge(into: dict[float, float], le: float, v: float) -> None:
    into[le] = into.get(le, 0.0) + v


def parse_metrics(text: str) -> dict[str, Any]:
    """Per-backend and overall figures from the gateway's Prometheus text (metrics.py names them)."""
    by_status: dict[str, float] = defaultdict(float)
    latency: dict[float, float] = {}
    latency_sum = 0.0
    backends: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"provider": None, "ttfb_count": 0.0, "ttfb_sum_s": 0.0, "ttfb_buckets": {}, "errors": 0.0,
                 "errors_by_kind": defaultdict(float), "ejections": 0.0, "outstanding": 0.0}
    )
    circuits: dict[str, float] = defaultdict(float)
    retries = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            lab, v = s.labels, float(s.value)
            if s.name == "gateway_requests_total":
                by_status[lab.get("status", "?")] += v
            elif s.name == "gateway_request_latency_seconds_bucket":
                _merge(latency, float(lab["le"]), v)
            elif s.name == "gateway_request_latency_seconds_sum":
                latency_sum += v
            elif s.name.startswith("gateway_upstream_ttfb_seconds") and "backend" in lab:
                b = backends[lab["backend"]]
                if s.name.endswith("_bucket"):
                    _merge(b["ttfb_buckets"], float(lab["le"]), v)
                elif s.name.endswith("_count"):
                    b["ttfb_count"] += v
                elif s.name.endswith("_sum"):
                    b["ttfb_sum_s"] += v
            elif s.name == "gateway_upstream_errors_total" and "backend" in lab:
                b = backends[lab["backend"]]
                b["provider"] = lab.get("provider") or b["provider"]
                b["errors"] += v
                b["errors_by_kind"][lab.get("kind", "?")] += v
            elif s.name == "gateway_ejections_total":
                if lab.get("scope") == "backend":
                    backends[lab.get("name", "?")]["ejections"] += v
                else:
                    circuits[lab.get("name", "?")] += v
            elif s.name == "gateway_backend_outstanding" and "backend" in lab:
                backends[lab["backend"]]["outstanding"] += v
            elif s.name == "gateway_retries_total":
                retries += v
    rows = []
    for name in sorted(backends):
        b = backends[name]
        buckets = sorted(b.pop("ttfb_buckets").items())
        p95 = bucket_quantile(buckets, 0.95)
        rows.append({"name": name, **b, "errors_by_kind": dict(b["errors_by_kind"]),
                     "p95_ttfb_ms": p95 * 1000 if p95 is not None else None})
    lat = sorted(latency.items())
    total = sum(by_status.values())
    ok = sum(v for k, v in by_status.items() if k.startswith("2"))
    p50, p95 = bucket_quantile(lat, 0.5), bucket_quantile(lat, 0.95)
    return {
        "requests": {"total": total, "errors": total - ok, "by_status": dict(by_status), "retries": retries},
        "latency": {"count": lat[-1][1] if lat else 0.0, "sum_s": latency_sum,
                    "p50_ms": p50 * 1000 if p50 is not None else None,
                    "p95_ms": p95 * 1000 if p95 is not None else None},
        "backends": rows,
        "circuits_opened": dict(circuits),
    }


async def snapshot(gateway_url: str, timeout_s: float = 3.0) -> dict[str, Any]:
    """Fetch /metrics and /readyz at once; raise GatewayUnreachable with one line on failure."""
    base = gateway_url.rstrip("/")
    async with httpx.AsyncClient(timeout=timeout_s) as client:
        try:
            metrics, ready = await asyncio.gather(client.get(base + "/metrics"), client.get(base + "/readyz"))
        except httpx.HTTPError as e:
            raise GatewayUnreachable(f"gateway {base}: {type(e).__name__} {e}".rstrip()) from None
    if metrics.status_code != 200:
        raise GatewayUnreachable(f"gateway {base}/metrics answered HTTP {metrics.status_code}")
    try:
        parsed = parse_metrics(metrics.text)
    except ValueError as e:
        raise GatewayUnreachable(f"gateway {base}/metrics: not Prometheus text ({e})") from None
    try:
        readiness: Any = ready.json() if ready.status_code in (200, 503) else None
    except ValueError:
        readiness = None
    return {"ok": True, "gateway": base, "t_s": time.time(), **parsed, "ready": readiness}
