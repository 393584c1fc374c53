from __future__ import annotations

import random
from collections import Counter

from computemoat.gateway.config import RoutingPolicy
from computemoat.gateway.routing import Candidate, failover_order, rank


def cand(i: int, provider: str = "p", *, outstanding: int = 0, ewma: float | None = 10.0, rtt: float = 0.0,
         weight: float = 1.0, usd: float | None = None) -> Candidate:
    return Candidate(index=i, provider=provider, outstanding=outstanding, max_concurrency=100,
                     ewma_ttfb_ms=ewma, rtt_ms=rtt, weight=weight, usd_per_hour=usd)


def test_latency_policy_adds_modeled_rtt_to_observed_latency() -> None:
    near_slow = cand(0, ewma=30.0, rtt=5.0)
    far_fast = cand(1, ewma=10.0, rtt=80.0)
    assert rank(RoutingPolicy.LATENCY, [far_fast, near_slow], random.Random(0))[0].index == 0


def test_latency_policy_spreads_load_by_outstanding() -> None:
    # equal latency: the idle backend wins over one with requests in flight (peak-EWMA cost)
    busy, idle = cand(0, outstanding=3), cand(1, outstanding=0)
    assert rank(RoutingPolicy.LATENCY, [busy, idle], random.Random(0))[0].index == 1


def test_unobserved_backend_counts_as_good_as_the_best_observed() -> None:
    """Oracle: cost = (prior + 0.01) x (outstanding + 1) with prior = the best estimate (5 ms): a fresh
    backend is probed as soon as the best one is busy, but does not herd the load (a 0 ms prior would
    rank it first even with 400 requests in flight)."""
    busy_best, fresh = cand(0, ewma=5.0, outstanding=1), cand(1, ewma=None)
    assert rank(RoutingPolicy.LATENCY, [busy_best, fresh], random.Random(0))[0].index == 1
    idle_best, loaded_fresh = cand(0, ewma=5.0), cand(1, ewma=None, outstanding=3)
    assert rank(RoutingPolicy.LATENCY, [idle_best, loaded_fresh], random.Random(0))[0].index == 0
    firsts = [rank(RoutingPolicy.LATENCY, [cand(0, ewma=5.0), cand(1, ewma=None)], random.Random(i))[0].index
              for i in range(400)]
    assert 150 < sum(firsts) < 250  # a tie: broken at random, ~half each (binomial sd = 10)


def test_least_outstanding_never_picks_the_busiest_with_two() -> None:
    rng = random.Random(1)
    for _ in range(50):
        order = rank(RoutingPolicy.LEAST_OUTSTANDING, [cand(0, outstanding=9), cand(1, outstanding=1)], rng)
        assert order[0].index == 1


def test_least_outstanding_power_of_two_avoids_the_busiest() -> None:
    cands = [cand(i, outstanding=o) for i, o in enumerate([50, 0, 1, 2])]
    picks = Counter(rank(RoutingPolicy.LEAST_OUTSTANDING, cands, random.Random(i))[0].index for i in range(400))
    assert picks[0] == 0  # the busiest loses every pairing it is in
    assert len(picks) == 3  # but the pick is spread, not herded onto one backend


def test_weighted_share_follows_weight() -> None:
    rng = random.Random(7)
    cands = [cand(0, weight=4.0), cand(1, weight=1.0)]
    picks = Counter(rank(RoutingPolicy.WEIGHTED, cands, rng)[0].index for _ in range(5000))
    assert 0.76 < picks[0] / 5000 < 0.84  # expected 0.8


def test_cheapest_first_unknown_price_last() -> None:
    cands = [cand(0, usd=None), cand(1, usd=40.0), cand(2, usd=31.9)]
    assert [c.index for c in rank(RoutingPolicy.CHEAPEST, cands, random.Random(0))] == [2, 1, 0]


def test_failover_prefers_another_provider() -> None:
    ranked = [cand(0, "a"), cand(1, "a"), cand(2, "a"), cand(3, "b")]
    assert [c.index for c in failover_order(ranked)] == [0, 3, 1, 2]
