"""Per-backend and per-provider health: EWMA latency, outstanding requests, Envoy-style outlier ejection
with exponential back-off, circuit breaking, and the retry budget.

State is plain mutable counters touched only from the event loop thread, so no locks are needed. Time
is passed in (``now_s`` from ``time.monotonic()``) so the rules are testable without sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from computemoat.gateway.config import BackendConfig, HealthConfig, RetryConfig

EWMA_ALPHA = 0.3  # weight of the newest sample; ~3 samples to follow a step change


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

    def start(self) -> None:
        self.outstanding += 1
        self.provider.outstanding += 1
        self.requests += 1

    def finish(self) -> None:
        self.outstanding -= 1
        self.provider.outstanding -= 1

    def observe_success(self, ttfb_ms: float) -> None:
        prev = self.ewma_ttfb_ms
        self.ewma_ttfb_ms = ttfb_ms if prev is None else prev + EWMA_ALPHA * (ttfb_ms - prev)
        self.breaker.success()
        self.provider.breaker.success()

    def observe_failure(self, now_s: float) -> tuple[bool, bool]:
        """Count an error; returns (backend ejected now, provider circuit opened now)."""
        self.errors += 1
        return self.breaker.failure(now_s), self.provider.breaker.failure(now_s)


def build_states(
    backends: tuple[BackendConfig, ...], health: HealthConfig, provider_caps: dict[str, int]
) -> list[BackendState]:
    providers: dict[str, ProviderState] = {}
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
