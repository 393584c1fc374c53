from __future__ import annotations

from computemoat.gateway.config import BackendConfig, HealthConfig, RetryConfig
from computemoat.gateway.health import STALE_ESTIMATE_S, Breaker, RetryBudget, build_states


def test_breaker_ejects_after_consecutive_errors_with_doubling_backoff() -> None:
    b = Breaker(threshold=3, base_s=5.0, max_s=12.0)
    assert not b.failure(0.0) and not b.failure(0.0)
    assert b.failure(0.0) and b.is_open(4.9) and not b.is_open(5.0)
    for _ in range(3):
        b.failure(5.0)
    assert b.is_open(14.9) and not b.is_open(15.0)  # second trip: 10 s
    for _ in range(3):
        b.failure(15.0)
    assert b.is_open(26.9) and not b.is_open(27.0)  # third trip: 20 s, capped at 12


def test_success_resets_the_count() -> None:
    b = Breaker(threshold=2, base_s=1.0, max_s=10.0)
    b.failure(0.0)
    b.success()
    assert not b.failure(0.0)


def test_concurrency_breakers_per_backend_and_provider() -> None:
    cfgs = tuple(
        BackendConfig(name=n, url="http://127.0.0.1:1", provider="p", site="s", lat_deg=0, lon_deg=0,
                      models=("m",), max_concurrency=2)
        for n in ("a", "b")
    )
    a, b = build_states(cfgs, HealthConfig(), {"p": 3})
    a.start(0.0)
    a.start(0.0)
    assert not a.available(0.0)  # backend cap 2
    b.start(0.0)
    assert not b.available(0.0)  # provider cap 3 reached through a and b
    a.finish()
    assert a.available(0.0) and b.available(0.0)


def test_provider_circuit_opens_for_all_its_backends() -> None:
    cfgs = tuple(
        BackendConfig(name=n, url="http://127.0.0.1:1", provider="p", site="s", lat_deg=0, lon_deg=0, models=("m",))
        for n in ("a", "b")
    )
    a, b = build_states(cfgs, HealthConfig(consecutive_errors=100, provider_consecutive_errors=4), {})
    opened = [a.observe_failure(0.0)[1] or b.observe_failure(0.0)[1] for _ in range(2)]
    assert opened == [False, True]
    assert not a.available(1.0) and not b.available(1.0)


def test_retry_budget() -> None:
    budget = RetryBudget(RetryConfig(budget_percent=20.0, min_retry_concurrency=2))
    budget.active = 100
    budget.retries_in_flight = 19
    assert budget.can_retry()
    budget.retries_in_flight = 20
    assert not budget.can_retry()
    budget.active, budget.retries_in_flight = 1, 1
    assert budget.can_retry()  # the floor of 2 applies at low load


def _one_state():
    b = BackendConfig(name="a", url="http://127.0.0.1:1", provider="p", site="s", lat_deg=0, lon_deg=0,
                      models=("m",))
    return build_states((b,), HealthConfig(), {})[0]


def test_an_estimate_nothing_refreshed_is_forgotten() -> None:
    s = _one_state()
    epoch = s.start(0.0)
    s.observe_success(15_000.0, epoch, 15.0)  # one request that waited out a 15 s hang
    assert s.estimate_ms(15.0 + STALE_ESTIMATE_S) == 15_000.0
    assert s.estimate_ms(15.0 + STALE_ESTIMATE_S + 0.1) is None  # stale: probed again at the fleet's best


def test_samples_from_before_a_recovery_are_dropped() -> None:
    s = _one_state()
    s.observe_success(2.0, s.start(0.0), 0.1)
    hung = s.start(1.0)  # sent just before the backend hung
    s.set_active_health(False)
    s.set_active_health(True)  # recovered: the estimate made during the fault is forgotten
    assert s.ewma_ttfb_ms is None
    s.observe_success(15_000.0, hung, 16.0)  # the hung request finally answers
    assert s.ewma_ttfb_ms is None
    s.observe_success(3.0, s.start(16.0), 16.1)
    assert s.ewma_ttfb_ms == 3.0  # the first sample after a reset stands alone
