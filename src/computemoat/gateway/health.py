"""Per-backend and per-provider health: EWMA latency, outstanding requests, Envoy-style outlier ejection
with exponential back-off, circuit breaking, and the retry budget.

State is plain mutable counters touched only from the event loop thread, so no locks are needed. Time
is passed in (``now_s`` from ``time.monotonic()``) so the rules are testable without sleeping.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from computemoat.gateway.config import BackendConfig, HealthConfig, RetryConfig

EWMA_ALPHA = 0.3  # weight of the newest sample; ~3 samples to follow a step change
# A latency estimate no request has refreshed for this long is forgotten, so the backend is probed
# again at the fleet's best estimate (``routing``) instead of being judged forever on old samples:
# without it, a backend whose estimate absorbed one long hang is never picked, so never re-measured.
STALE_ESTIMATE_S = 5.0


@dataclass(slots=True)
class Breaker:
    """Consecutive-error counter that opens for ``base * 2**(n-1)`` seconds on the n-th trip
    (capped), like Envoy's outlier detection; a success after re-admission forgets one trip."""

    threshold: int
    base_s: float
    max_s: float
    consecutive_errors: int = 0
    trips: int = 0
    open_until_s: float = 0.0

    def is_open(self, now_s: float) -> bool:
        return now_s < self.open_until_s

    def success(self) -> None:
        self.consecutive_errors = 0
        if self.trips and self.open_until_s:
            self.trips -= 1
            if not self.trips:
                self.open_until_s = 0.0

    def failure(self, now_s: float) -> bool:
        """Count one error; return True when this error trips the breaker."""
        self.consecutive_errors += 1
        if self.consecutive_errors < self.threshold or self.is_open(now_s):
            return False
        self.trips += 1
        self.consecutive_errors = 0
        self.open_until_s = now_s + min(self.max_s, self.base_s * 2 ** (self.trips - 1))
        return True


@dataclass(slots=True)
class ProviderState:
    name: str
    breaker: Breaker
    max_concurrency: int | None = None
    outstanding: int = 0


@dataclass(slots=True)
class BackendState:
    cfg: BackendConfig
    provider: ProviderState
    breaker: Breaker
    outstanding: int = 0
    ewma_ttfb_ms: float | None = None
    actively_healthy: bool = True
    requests: int = 0
    errors: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    # bumped whenever the estimate is reset: samples of attempts sent before then are dropped
    epoch: int = 0
    last_used_s: float = 0.0  # monotonic time of the last dispatch or sample
    # non-streamed attempts in flight here: cancelled (and retried elsewhere) when it is ejected
    inflight: dict[asyncio.Task[object], bool] = field(default_factory=dict)

    def estimate_ms(self, now_s: float) -> float | None:
        """The latency estimate, or None (unobserved) once it is stale; forgetting it is the reset."""
        if self.ewma_ttfb_ms is not None and now_s - self.last_used_s > STALE_ESTIMATE_S:
            self.reset_estimate()
        return self.ewma_ttfb_ms

    def reset_estimate(self) -> None:
        """Forget the estimate (a recovery, or staleness): the next sample stands alone."""
        self.ewma_ttfb_ms = None
        self.epoch += 1

    def set_active_health(self, healthy: bool) -> None:
        """An active check's verdict: failing ejects (in-flight attempts are cancelled), passing again
        after a failure is a recovery (the estimate made during the fault is forgotten)."""
        if healthy and not self.actively_healthy:
            self.reset_estimate()
        elif not healthy and self.actively_healthy:
            self.cancel_inflight()
        self.actively_healthy = healthy

    def cancel_inflight(self) -> int:
        """Cancel the non-streamed attempts waiting on this backend; each is retried elsewhere."""
        if not self.inflight:
            return 0
        n = 0
        me = asyncio.current_task()  # the attempt whose failure ejected it is failing already
        for task, cancelled in self.inflight.items():
            if not cancelled and task is not me:
                self.inflight[task] = True
                task.cancel("backend ejected")
                n += 1
        return n

    def available(self, now_s: float) -> bool:
        """Routable now: passes active checks, not ejected, and under both concurrency breakers."""
        p = self.provider
        return (
            self.actively_healthy
            and not self.breaker.is_open(now_s)
            and not p.breaker.is_open(now_s)
            and self.outstanding < self.cfg.max_concurrency
            and (p.max_concurrency is None or p.outstanding < p.max_concurrency)
        )

    def readmit_after_s(self, now_s: float) -> float:
        """Seconds until this backend could be routable again (for Retry-After)."""
        wait = max(self.breaker.open_until_s, self.provider.breaker.open_until_s) - now_s
        return max(wait, 1.0)

    def start(self, now_s: float) -> int:
        """Count a dispatch; returns the epoch its sample must match to count."""
        self.outstanding += 1
        self.provider.outstanding += 1
        self.requests += 1
        self.last_used_s = now_s
        return self.epoch

    def finish(self) -> None:
        self.outstanding -= 1
        self.provider.outstanding -= 1

    def observe_success(self, ttfb_ms: float, epoch: int, now_s: float) -> None:
        if epoch == self.epoch:  # a sample from before a reset describes the fault, not the backend
            prev = self.ewma_ttfb_ms
            self.ewma_ttfb_ms = ttfb_ms if prev is None else prev + EWMA_ALPHA * (ttfb_ms - prev)
            self.last_used_s = now_s
        self.breaker.success()
        self.provider.breaker.success()

    def observe_failure(self, now_s: float) -> tuple[bool, bool]:
        """Count an error; returns (backend ejected now, provider circuit opened now)."""
        self.errors += 1
        return self.breaker.failure(now_s), self.provider.breaker.failure(now_s)


def build_states(
    backends: tuple[BackendConfig, ...],
    health: HealthConfig,
    provider_caps: dict[str, int],
    previous: list[BackendState] | None = None,
) -> list[BackendState]:
    """Live state per backend. With ``previous`` (a reload), a backend whose config is unchanged keeps
    its state (estimate, ejection, requests in flight), and so does its provider."""
    kept = {s.cfg.name: s for s in previous or () if s.cfg in backends}
    providers: dict[str, ProviderState] = {s.provider.name: s.provider for s in kept.values()}
    states = []
    for b in backends:
        p = providers.get(b.provider)
        if p is None:
            p = ProviderState(
                name=b.provider,
                breaker=Breaker(health.provider_consecutive_errors, health.base_ejection_s, health.max_ejection_s),
                max_concurrency=provider_caps.get(b.provider),
            )
            providers[b.provider] = p
        p.max_concurrency = provider_caps.get(b.provider)
        old = kept.get(b.name)
        if old is not None and old.cfg == b:
            states.append(old)
            continue
        states.append(
            BackendState(
                cfg=b,
                provider=p,
                breaker=Breaker(health.consecutive_errors, health.base_ejection_s, health.max_ejection_s),
                labels={"backend": b.name, "provider": b.provider},
            )
        )
    return states


@dataclass(slots=True)
class RetryBudget:
    """Envoy's retry budget: retries in flight may not exceed ``budget_percent`` of active requests,
    but ``min_retry_concurrency`` are always allowed, so a brownout cannot turn into a retry storm."""

    cfg: RetryConfig
    active: int = 0
    retries_in_flight: int = 0

    def can_retry(self) -> bool:
        cap = max(self.cfg.min_retry_concurrency, self.active * self.cfg.budget_percent / 100.0)
        return self.retries_in_flight < cap
