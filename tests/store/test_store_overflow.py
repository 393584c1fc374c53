"""Huge token counts never overflow a column and a failing database never leaks a driver error out of
admission (issue 15, item 7). Oracle: PostgreSQL BIGINT / SQLite INTEGER hold at most 2^63 - 1, so a
sum kept at or below ``SUM_MAX`` (2^61) plus an addend at most ``SUM_MAX`` can never pass it."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text

from computemoat.gateway.hooks import AdmissionUnavailable, TenantContext
from computemoat.gateway.tenancy import StoreAuthenticator
from computemoat.model.usage import UsageRecord
from computemoat.store import repo
from computemoat.store.commit import commit_rows
from computemoat.store.errors import StoreUnavailableError
from computemoat.store.limits import SUM_MAX, TOKENS_MAX, Scope, set_limits
from computemoat.store.ratelimit import Settlement, admit, settle
from computemoat.store.schema import RateBucket, UsageRecordRow

T0 = 1_800_000_000.0
I64_MAX = 2**63 - 1


def _bucket_tokens(db) -> list[int]:  # type: ignore[no-untyped-def]
    with db.engine.connect() as conn:
        return [int(t) for t in conn.execute(select(RateBucket.tokens).order_by(RateBucket.bucket_unix_s)).scalars()]


def test_max_int64_tokens_are_admitted_under_rpm_and_counted_capped(db):
    repo.create_tenant(db, "acme")
    set_limits(db, Scope("acme"), rpm=100)
    assert admit(db, "acme", I64_MAX, T0 + 0.1).status == 200
    assert admit(db, "acme", 2**62, T0 + 0.2).status == 200  # two in one second: 2^63 + 2^62 in all
    assert admit(db, "acme", 2**62, T0 + 0.3).status == 200
    assert _bucket_tokens(db) == [3 * TOKENS_MAX]  # each request counted at the per-request cap


def test_stored_sums_saturate_instead_of_overflowing(db):
    repo.create_tenant(db, "acme")
    set_limits(db, Scope("acme"), rpm=100)
    assert admit(db, "acme", 1, T0).status == 200
    for _ in range(3):  # unlimited tokens are counted when a lease is settled: 3 x 2^62 > 2^63
        settle(db, {Scope("acme"): [Settlement(int(T0), 0, 2**62)]})
    assert _bucket_tokens(db) == [SUM_MAX]
    settle(db, {Scope("acme"): [Settlement(int(T0), 0, -(2**63))]})  # and never below zero
    assert _bucket_tokens(db) == [0]


def test_huge_token_count_is_refused_by_tpm_not_by_the_database(db):
    repo.create_tenant(db, "acme")
    set_limits(db, Scope("acme"), tpm=1000)
    refused = admit(db, "acme", I64_MAX, T0)
    assert refused.status == 429 and "on their own" in refused.message


def test_reported_token_counts_are_capped_when_stored(db):
    repo.create_tenant(db, "acme")
    repo.set_price(db, "m", "*", 1.0, 1.0)
    row = UsageRecord("acme", "k", "m", "p", "s", "b", I64_MAX, 2**62, 1.0, 200, False, T0, "r1")
    commit_rows(db, [row])
    with db.engine.connect() as conn:
        stored = conn.execute(select(UsageRecordRow.prompt_tokens, UsageRecordRow.completion_tokens,
                                     UsageRecordRow.cost_usd)).one()
    assert (stored[0], stored[1]) == (TOKENS_MAX, TOKENS_MAX)
    assert stored[2] == pytest.approx(2 * TOKENS_MAX / 1e6)


def test_a_database_failure_during_admission_is_typed_and_answered_503(db):
    repo.create_tenant(db, "acme")
    set_limits(db, Scope("acme"), rpm=100)
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE rate_buckets"))
    with pytest.raises(StoreUnavailableError, match="limits database failed"):
        admit(db, "acme", 1, T0)
    auth = StoreAuthenticator(db)
    with pytest.raises(AdmissionUnavailable, match="limits database failed") as raised:  # the gateway's 503
        asyncio.run(auth.admit(TenantContext("acme", "k"), "m", 10))
    assert raised.value.retry_after_s > 0
