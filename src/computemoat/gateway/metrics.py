"""Prometheus metrics on a registry owned by one app, so several gateways (tests) never collide.

With several worker processes (``serve --workers N``) prometheus_client's multiprocess mode is used:
each worker writes its samples to files in ``$PROMETHEUS_MULTIPROC_DIR`` (set by ``serve`` before the
workers start, as prometheus_client requires) and every scrape, whichever worker answers it, reads all
of them, so scrapes agree. Gauges say how workers combine: outstanding requests add up (``livesum``), a
backend counts as healthy only while every live worker routes to it (``livemin``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Buckets from 1 ms to 60 s: a gateway's added latency and an LLM's full response both fit.
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own switch, read at its import
UNKNOWN_MODEL = "unknown"  # the label of answers given before a served model was known (401, 404...)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_DIR_ENV) or None


@dataclass(frozen=True, slots=True)
class GatewayMetrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    ttfb: Histogram
    upstream_errors: Counter
    retries: Counter
    ejections: Counter
    fallbacks: Counter
    reloads: Counter
    outstanding: Gauge
    healthy: Gauge
    multiprocess_dir: str | None

    def exposition(self) -> tuple[bytes, str]:
        """The text a scrape gets: this registry, or every worker's files in multiprocess mode."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        from prometheus_client import multiprocess

        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=self.multiprocess_dir)
        return generate_latest(merged), CONTENT_TYPE_LATEST

    def refresh_backends(self, rows: Iterable[tuple[str, int, bool]]) -> None:
        """Set the per-backend gauges from (name, requests in flight, routable now)."""
        for name, outstanding, healthy in rows:
            self.outstanding.labels(name).set(outstanding)
            self.healthy.labels(name).set(1.0 if healthy else 0.0)

    def forget_backend(self, name: str) -> None:
        """A backend removed by a reload stops being reported."""
        for g in (self.outstanding, self.healthy):
            with contextlib.suppress(KeyError):
                g.remove(name)


def build_metrics() -> GatewayMetrics:
    r = CollectorRegistry(auto_describe=True)
    kw: dict[str, Any] = {"registry": r}
    return GatewayMetrics(
        registry=r,
        requests=Counter(
            "gateway_requests_total", "Answers, by model and HTTP status (refusals before routing included)",
            ["model", "status"], **kw,
        ),
        latency=Histogram(
            "gateway_request_latency_seconds", "Time to the full response (non-streamed) or stream end",
            ["model"], buckets=LATENCY_BUCKETS_S, **kw,
        ),
        ttfb=Histogram(
            "gateway_upstream_ttfb_seconds", "Upstream time to first byte, by backend",
            ["backend"], buckets=LATENCY_BUCKETS_S, **kw,
        ),
        upstream_errors=Counter(
            "gateway_upstream_errors_total", "Upstream failures, by backend and kind",
            ["backend", "provider", "kind"], **kw,
        ),
        retries=Counter("gateway_retries_total", "Attempts after the first (hedges included)", ["model"], **kw),
        ejections=Counter(
            "gateway_ejections_total", "Outlier ejections (backend) and opened provider circuits",
            ["scope", "name"], **kw,
        ),
        fallbacks=Counter(
            "gateway_fallbacks_total", "Requests served by a fallback model", ["model", "fallback"], **kw
        ),
        reloads=Counter("gateway_config_reloads_total", "Config reloads, by result", ["result"], **kw),
        outstanding=Gauge(
            "gateway_backend_outstanding", "Requests in flight", ["backend"], multiprocess_mode="livesum", **kw
        ),
        healthy=Gauge(
            "gateway_backend_healthy", "1 while the backend is routable (every worker agrees), else 0",
            ["backend"], multiprocess_mode="livemin", **kw,
        ),
        multiprocess_dir=multiprocess_dir(),
    )
