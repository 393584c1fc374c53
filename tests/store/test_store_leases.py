"""Leases of shared rate-limit capacity: blocks reserved in the current second's bucket, never more than
the limit in total, given back when the second is over."""

from __future__ import annotations

import pytest

from computemoat.store import repo
from computemoat.store.leases import LeaseBook
from computemoat.store.limits import Scope, set_limits
from computemoat.store.ratelimit import Settlement, acquire, admit, settle

S = Scope("acme")

T0 = 1_800_000_000.0  # a whole second, far from the real clock


def test_leases_are_capped_at_a_tenth_of_the_limit_and_never_exceed_it(db):
    repo.create_tenant(db, "acme")
    set_limits(db, S, rpm=100)
    first = acquire(db, "acme", "", 0, {S: ((1, 0), (1000, 0))}, T0 + 0.1).leases[S]
    assert first.requests == 10  # 10 % of rpm, though 1000 were wanted
    granted = first.requests
    while True:  # other processes take what is left, lease by lease
        g = acquire(db, "acme", "", 0, {S: ((1, 0), (7, 0))}, T0 + 0.2)
        if S not in g.leases:
            break
        granted += g.leases[S].requests
    assert granted == 100  # the last lease was cut to what was left
    assert g.decision.status == 429 and g.decision.retry_after_s == pytest.approx(61 - 0.2)
    assert admit(db, "acme", 0, T0 + 0.3).status == 429


def test_settling_gives_back_unused_capacity_and_counts_unlimited_tokens(db):
    repo.create_tenant(db, "acme")
    set_limits(db, S, rpm=20)
    lease = acquire(db, "acme", "", 0, {S: ((1, 50), (2, 0))}, T0 + 0.5).leases.get(S)
    assert lease is not None and (lease.requests, lease.tokens) == (2, 50)  # tpm unlimited: just counted
    assert not lease.tokens_limited and lease.requests_limited
    one = {S: ((1, 0), (1, 0))}
    assert sum(acquire(db, "acme", "", 0, one, T0 + 0.6).decision.status == 200 for _ in range(30)) == 18
    settle(db, {S: [Settlement(lease.bucket_unix_s, -1, 70)]})  # used 1 of 2; 120 tokens in all
    assert admit(db, "acme", 0, T0 + 0.7).status == 200  # the request given back
    assert admit(db, "acme", 0, T0 + 0.8).status == 429


def test_lease_book_admits_only_within_the_lease_second_and_grows_with_the_pace(db):
    repo.create_tenant(db, "acme")
    set_limits(db, S, rpm=1000, tpm=100_000)
    book = LeaseBook()
    assert not book.take(S, 10, T0 + 0.5)
    need, want, settlements = book.plan(S, 10, T0 + 0.5)
    assert (need, want, settlements) == ((1, 10), (1, 10), [])
    grant = acquire(db, "acme", "", 10, {S: (need, want)}, T0 + 0.5, {S: settlements})
    book.granted(S, grant.leases[S], 10)
    assert not book.take(S, 10, T0 + 0.6)  # the lease of one request is used up
    need, want, _ = book.plan(S, 10, T0 + 0.6)
    assert (need, want) == ((1, 10), (1, 10))  # at least as much as this second already leased
    lease = acquire(db, "acme", "", 10, {S: (need, want)}, T0 + 0.6).leases.get(S)
    assert lease is not None
    book.granted(S, lease, 10)
    assert not book.take(S, 10, T0 + 1.0)  # the next second: the lease is over
    assert book.expired(S, T0 + 1.0) == []  # both leases fully used: nothing to give back
    # 2 requests in the last second: the next second's first lease is sized for that pace
    need, want, _ = book.plan(S, 10, T0 + 1.0)
    assert need == (1, 10) and want == (2, 20)
    lease = acquire(db, "acme", "", 10, {S: (need, want)}, T0 + 1.0).leases.get(S)
    assert lease is not None and (lease.requests, lease.tokens) == (2, 20)
    book.granted(S, lease, 10)
    assert not book.take(S, 10, T0 + 2.0)  # one request of the lease was never used
    assert book.expired(S, T0 + 2.0) == [Settlement(int(T0) + 1, -1, -10)]
    assert book.expired(S, T0 + 2.0) == []
