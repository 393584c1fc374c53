"""Routing policies: pure functions that order the healthy candidates for one request.

The first index is the pick; the rest is the failover order, rearranged by ``failover_order`` so
retries go to another provider first. Policies are chosen through a registry, not string if/elif.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from computemoat.gateway.config import RoutingPolicy

# Prior for a backend with no observation yet when no candidate has one either.
UNOBSERVED_TTFB_MS = 0.0


@dataclass(frozen=True, slots=True)
class Candidate:
    """What a policy may look at, snapshotted from the backend's live state."""

    index: int
    provider: str
    outstanding: int
    max_concurrency: int
    ewma_ttfb_ms: float | None
    rtt_ms: float
    weight: float
    usd_per_hour: float | None


Policy = Callable[[Sequence[Candidate], random.Random], list[Candidate]]


def _latency(cands: Sequence[Candidate], rng: random.Random) -> list[Candidate]:
    """Peak-EWMA cost (Finagle/Linkerd): expected latency x (outstanding + 1), where expected latency
    is the observed time to first byte plus the modeled network RTT from the user's region. The load
    factor spreads bursts instead of herding every request onto the momentarily fastest backend.

    A backend without an estimate (new, recovered, or unused for a while) counts as good as the best
    observed one: it is probed at once and, as with Envoy's slow start, takes a fair share rather than
    every request (a 0 ms prior would herd the whole load onto it until its first answer)."""
    observed = [c.ewma_ttfb_ms for c in cands if c.ewma_ttfb_ms is not None]
    prior_ms = min(observed) if observed else UNOBSERVED_TTFB_MS

    def cost(c: Candidate) -> tuple[float, float]:
        ttfb = prior_ms if c.ewma_ttfb_ms is None else c.ewma_ttfb_ms
        return ((ttfb + c.rtt_ms + 0.01) * (c.outstanding + 1), rng.random())

    return sorted(cands, key=cost)


def _least_outstanding(cands: Sequence[Candidate], rng: random.Random) -> list[Candidate]:
    """Power of two choices on load (outstanding / weight): near-optimal balance at O(1) cost and no
    herding; the rest follow by load for failover."""

    def load(c: Candidate) -> float:
        return c.outstanding / c.weight

    rest = sorted(cands, key=lambda c: (load(c), rng.random()))
    if len(cands) <= 2:
        return rest
    a, b = rng.sample(range(len(cands)), 2)
    pick = cands[a] if load(cands[a]) <= load(cands[b]) else cands[b]
    return [pick, *(c for c in rest if c is not pick)]


def _weighted(cands: Sequence[Candidate], rng: random.Random) -> list[Candidate]:
    """Weighted random order (Efraimidis-Spirakis keys u^(1/w)): share of first picks ∝ weight."""
    return sorted(cands, key=lambda c: -(rng.random() ** (1.0 / c.weight)))


def _cheapest(cands: Sequence[Candidate], rng: random.Random) -> list[Candidate]:
    """Lowest USD/hour first (unknown price last); ties by load so equal-price replicas share work."""
    inf = float("inf")
    return sorted(
        cands,
        key=lambda c: (inf if c.usd_per_hour is None else c.usd_per_hour, c.outstanding / c.weight, rng.random()),
    )


POLICIES: dict[RoutingPolicy, Policy] = {
    RoutingPolicy.LATENCY: _latency,
    RoutingPolicy.LEAST_OUTSTANDING: _least_outstanding,
    RoutingPolicy.WEIGHTED: _weighted,
    RoutingPolicy.CHEAPEST: _cheapest,
}


def rank(policy: RoutingPolicy, cands: Sequence[Candidate], rng: random.Random) -> list[Candidate]:
    """Order candidates for one request: policy pick first, then failover order."""
    if not cands:
        return []
    return failover_order(POLICIES[policy](cands, rng))


def failover_order(ranked: Sequence[Candidate]) -> list[Candidate]:
    """Keep the pick; after it, put each provider's best remaining backend before any second backend
    of an already-tried provider, so a provider-wide outage costs one retry, not several."""
    if len(ranked) <= 2:
        return list(ranked)
    out = [ranked[0]]
    seen = {ranked[0].provider}
    later: list[Candidate] = []
    for c in ranked[1:]:
        if c.provider in seen:
            later.append(c)
        else:
            seen.add(c.provider)
            out.append(c)
    return out + later
