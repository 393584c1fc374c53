"""One process's leases of shared rate-limit capacity (pure bookkeeping; the database side is
``store.ratelimit.acquire``/``settle``).

A lease is a block of requests/tokens reserved in the shared bucket of one whole second. The process
admits requests from it locally - no database, no thread hop - but only while the clock is still in that
second, so every request is counted in the bucket of its own second exactly as a lone request would be.
When the second is over the lease is detached into a :class:`~computemoat.store.ratelimit.Settlement`
(used - reserved) that the next acquisition, or an idle timer, writes back.

Lease size adapts to the local rate: the larger of the requests admitted in the previous second and the
current second's pace, times what is left of the second (at least what the request needs, and at least
what this second already leased, so a burst doubles its lease); ``ratelimit`` caps it at 10 % of the
limit. The trade-off: while one process holds unused leased capacity, another process may be refused
it - by at most one lease, for at most the rest of that second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from computemoat.store.limits import Scope
from computemoat.store.ratelimit import Lease, Settlement


@dataclass(slots=True)
class _Held:
    bucket_unix_s: int
    requests: int  # reserved in the shared bucket
    tokens: int
    requests_limited: bool
    tokens_limited: bool
    used_requests: int = 0
    used_tokens: int = 0

    def fits(self, tokens: int) -> bool:
        return ((not self.requests_limited or self.used_requests < self.requests)
                and (not self.tokens_limited or self.used_tokens + tokens <= self.tokens))

    def settlement(self) -> Settlement:
        return Settlement(self.bucket_unix_s, self.used_requests - self.requests, self.used_tokens - self.tokens)


@dataclass(slots=True)
class _Tenant:
    held: _Held | None = None
    unsettled: list[Settlement] = field(default_factory=list)
    prev_bucket_unix_s: int = 0  # the last finished lease second and what it admitted locally
    prev_requests: int = 0
    prev_tokens: int = 0


class LeaseBook:
    """Per-scope leases of this process (a tenant, or a key with limits of its own). Not thread-safe:
    use it from the event loop only, and serialise :meth:`plan` ... :meth:`granted`/:meth:`restore` per
    tenant (one acquisition at a time)."""

    def __init__(self) -> None:
        self._tenants: dict[Scope, _Tenant] = {}

    def take(self, scope: Scope, tokens: int, now_unix_s: float) -> bool:
        """Admit one request of ``tokens`` from the current second's lease, if it fits."""
        return self.take_all((scope,), tokens, now_unix_s)

    def take_all(self, scopes: tuple[Scope, ...], tokens: int, now_unix_s: float) -> bool:
        """Admit one request from the current second's lease of every scope in ``scopes`` (a tenant
        and its key), only if it fits in all of them."""
        second = math.floor(now_unix_s)
        held = []
        for scope in scopes:
            t = self._tenants.get(scope)
            h = t.held if t is not None else None
            if h is None or h.bucket_unix_s != second or not h.fits(tokens):
                return False
            held.append(h)
        for h in held:
            h.used_requests += 1
            h.used_tokens += tokens
        return True

    def plan(
        self, scope: Scope, tokens: int, now_unix_s: float
    ) -> tuple[tuple[int, int], tuple[int, int], list[Settlement]]:
        """What to ask :func:`ratelimit.acquire` for: ``need`` and ``want`` as (requests, tokens), and
        the settlements to apply in the same transaction (taken out of the book: give them back with
        :meth:`restore` if the transaction failed)."""
        t = self._tenants.setdefault(scope, _Tenant())
        self._detach_expired(t, now_unix_s)
        h = t.held
        left_requests = h.requests - h.used_requests if h is not None else 0
        left_tokens = h.tokens - h.used_tokens if h is not None else 0
        need = (max(0, 1 - left_requests), max(0, tokens - left_tokens))
        second = math.floor(now_unix_s)
        elapsed_s = max(now_unix_s - second, 0.1)
        rest_s = second + 1 - now_unix_s
        recent = t.prev_bucket_unix_s == second - 1
        pace_requests = max(t.prev_requests if recent else 0, (h.used_requests if h else 0) / elapsed_s)
        pace_tokens = max(t.prev_tokens if recent else 0, (h.used_tokens if h else 0) / elapsed_s)
        want = (
            max(need[0], math.ceil(pace_requests * rest_s), h.requests if h else 0),
            max(need[1], math.ceil(pace_tokens * rest_s), h.tokens if h else 0),
        )
        settlements, t.unsettled = t.unsettled, []
        return need, want, settlements

    def granted(self, scope: Scope, lease: Lease, tokens: int) -> None:
        """Add ``lease`` to the scope's current second and admit the request that asked for it."""
        t = self._tenants.setdefault(scope, _Tenant())
        h = t.held
        if h is not None and h.bucket_unix_s == lease.bucket_unix_s:
            h.requests += lease.requests
            h.tokens += lease.tokens
            h.requests_limited, h.tokens_limited = lease.requests_limited, lease.tokens_limited
        else:
            if h is not None:
                self._detach(t)
            h = t.held = _Held(lease.bucket_unix_s, lease.requests, lease.tokens,
                               lease.requests_limited, lease.tokens_limited)
        h.used_requests += 1
        h.used_tokens += tokens

    def restore(self, scope: Scope, settlements: list[Settlement]) -> None:
        """The transaction that was to apply ``settlements`` did not commit: keep them for the next."""
        self._tenants.setdefault(scope, _Tenant()).unsettled[:0] = settlements

    def expired(self, scope: Scope, now_unix_s: float) -> list[Settlement]:
        """Detach a lease whose second is over; return (and take out) everything left to settle."""
        t = self._tenants.get(scope)
        if t is None:
            return []
        self._detach_expired(t, now_unix_s)
        settlements, t.unsettled = t.unsettled, []
        return settlements

    def _detach_expired(self, t: _Tenant, now_unix_s: float) -> None:
        if t.held is not None and t.held.bucket_unix_s < math.floor(now_unix_s):
            self._detach(t)

    @staticmethod
    def _detach(t: _Tenant) -> None:
        h = t.held
        assert h is not None
        t.held = None
        t.prev_bucket_unix_s, t.prev_requests, t.prev_tokens = h.bucket_unix_s, h.used_requests, h.used_tokens
        s = h.settlement()
        if s.requests or s.tokens:
            t.unsettled.append(s)
