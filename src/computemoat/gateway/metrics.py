"""Prometheus metrics on a registry owned by one app, so several gateways (tests) never collide."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Buckets from 1 ms to 60 s: a gateway's added latency and an LLM's full response both fit.
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


@dataclass(frozen=True, slots=True)
class GatewayMetrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    ttfb: Histogram
    upstream_errors: Counter
    retries: Counter
    ejections: Counter
    outstanding: Gauge


def build_metrics() -> GatewayMetrics:
    r = CollectorRegistry(auto_describe=True)
    return GatewayMetrics(
        registry=r,
        requests=Counter(
            "gateway_requests_total", "Requests answered, by model and status", ["model", "status"], registry=r
        ),
        latency=Histogram(
            "gateway_request_latency_seconds", "Time to the full response (non-streamed) or stream end",
            ["model"], buckets=LATENCY_BUCKETS_S, registry=r,
        ),
        ttfb=Histogram(
            "gateway_upstream_ttfb_seconds", "Upstream time to first byte, by backend",
            ["backend"], buckets=LATENCY_BUCKETS_S, registry=r,
        ),
        upstream_errors=Counter(
            "gateway_upstream_errors_total", "Upstream failures, by backend and kind",
            ["backend", "provider", "kind"], registry=r,
        ),
        retries=Counter("gateway_retries_total", "Attempts after the first", ["model"], registry=r),
        ejections=Counter(
            "gateway_ejections_total", "Outlier ejections (backend) and opened provider circuits",
            ["scope", "name"], registry=r,
        ),
        outstanding=Gauge("gateway_backend_outstanding", "Requests in flight", ["backend"], registry=r),
    )
