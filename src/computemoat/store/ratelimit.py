"""Shared rate limits and budgets, enforced inside the database so every gateway worker process sees
the same counters (a per-process limiter would let N workers admit N x the limit).

Algorithm: a sliding 60-second window over one-second buckets. Each admitted request adds 1 request and
its estimated tokens to the bucket of its whole second; a request is admitted only if the buckets of the
last 61 seconds (``floor(now) - 60 .. floor(now)``) plus itself stay within rpm/tpm. Counting 61 buckets
instead of 60 makes the limit *conservative*: every request admitted in any rolling 60 s interval is in
those buckets, so no interval ever holds more than rpm requests; the price is that a request can be held
back up to one extra second. A token bucket (burst = rpm, refill rpm/60 per second) would let up to 2 x
rpm through in a minute.

Leases (:func:`acquire`): a gateway process does not pay a transaction per request. It reserves a block
of requests/tokens in the bucket of the current second, checked against the window exactly as single
requests are, and admits locally from that block *during that second only* (``store.leases``). Every
request so admitted is therefore counted in the bucket of its own second, as if it had been counted
alone, and the sum of all reservations never exceeds the limit: exactness is unchanged. When the second
is over, the process settles the block (gives back what it did not use, adds the tokens it used where
tpm is unlimited), so only the current second's unused reservations are ever held. A block is at most
``LEASE_FRACTION`` of the limit (and at least what the request needs). :func:`admit` is a lease of
exactly one request.

Atomicity: the check and the increment run in one transaction that first takes the tenant's lock
(``SELECT ... FOR UPDATE`` of its ``rate_limits`` row on PostgreSQL; ``BEGIN IMMEDIATE`` on SQLite,
which holds the database write lock). Settlements take the same lock.

Budgets: spend of the UTC month (``monthly_spend``, maintained by the usage writer in the same commit as
the usage rows) >= the monthly budget refuses with 402 (:func:`budget_refusal`, a read). Requests in
flight when the budget runs out are not yet in the spend, so the overshoot is bounded by the cost of the
requests in flight.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, bindparam, delete, select, update

from computemoat.store.db import Database, write_tx
from computemoat.store.schema import Budget, MonthlySpend, RateBucket, RateLimit
from computemoat.store.upsert import insert_for

WINDOW_S = 60
LEASE_FRACTION = 0.1  # a lease holds at most this share of the limit (but never less than one request)


@dataclass(frozen=True, slots=True)
class Decision:
    status: int = 200  # 200 admit, 429 rate limited, 402 budget exhausted
    message: str = ""
    retry_after_s: float | None = None


@dataclass(frozen=True, slots=True)
class TenantLimits:
    rpm: int | None
    tpm: int | None
    monthly_budget_usd: float | None

    @property
    def rate_limited(self) -> bool:
        return self.rpm is not None or self.tpm is not None


@dataclass(frozen=True, slots=True)
class Lease:
    """Requests/tokens reserved in ``bucket_unix_s``. A dimension without a limit (``*_limited`` False)
    reserves only what the first request needs; the rest is counted when the lease is settled."""

    bucket_unix_s: int
    requests: int
    tokens: int
    requests_limited: bool
    tokens_limited: bool


@dataclass(frozen=True, slots=True)
class Settlement:
    """Correction of a past bucket: ``requests``/``tokens`` = used - reserved (given back when < 0)."""

    bucket_unix_s: int
    requests: int
    tokens: int


@dataclass(frozen=True, slots=True)
class Grant:
    decision: Decision
    lease: Lease | None = None  # None with status 200: the tenant has no rpm/tpm limit


def month_of(time_unix_s: float) -> str:
    return datetime.fromtimestamp(time_unix_s, UTC).strftime("%Y-%m")


_SPEND = select(Budget.monthly_usd, MonthlySpend.usd).select_from(
    Budget.__table__.outerjoin(MonthlySpend.__table__, (MonthlySpend.tenant_id == Budget.tenant_id)
                                & (MonthlySpend.month == bindparam("m")))
).where(Budget.tenant_id == bindparam("t"))


def tenant_limits(db: Database, tenant_id: str) -> TenantLimits | None:
    """The tenant's rpm/tpm/budget, or None when it has none (every request is admitted)."""
    with db.engine.connect() as conn:
        lim = conn.execute(select(RateLimit.rpm, RateLimit.tpm).where(RateLimit.tenant_id == tenant_id)).first()
        budget = conn.execute(select(Budget.monthly_usd).where(Budget.tenant_id == tenant_id)).scalar()
    limits = TenantLimits(lim.rpm if lim else None, lim.tpm if lim else None, budget)
    return limits if limits.rate_limited or limits.monthly_budget_usd is not None else None


def is_limited(db: Database, tenant_id: str) -> bool:
    """Whether the tenant has any rpm/tpm limit or budget (else :func:`admit` would always say yes)."""
    return tenant_limits(db, tenant_id) is not None


def budget_refusal(db: Database, tenant_id: str, now_unix_s: float | None = None) -> Decision | None:
    """402 if the tenant's spend this UTC month has reached its budget; a read, no lock."""
    now = time.time() if now_unix_s is None else now_unix_s
    with db.engine.connect() as conn:
        return _budget_refusal(conn, tenant_id, now)


def admit(db: Database, tenant_id: str, est_tokens: int, now_unix_s: float | None = None) -> Decision:
    """Check budget, then rpm/tpm; on success count the request. Serialised per tenant."""
    est_tokens = max(0, int(est_tokens))
    return acquire(db, tenant_id, (1, est_tokens), (1, est_tokens), now_unix_s).decision


def acquire(
    db: Database, tenant_id: str, need: tuple[int, int], want: tuple[int, int],
    now_unix_s: float | None = None, settle: Sequence[Settlement] = (),
) -> Grant:
    """Apply ``settle`` to past buckets, check the budget, then reserve at least ``need`` and up to
    ``want`` (requests, tokens) in the bucket of ``now`` - at most ``LEASE_FRACTION`` of each limit
    beyond ``need``, and never past the limit. One transaction under the tenant's lock."""
    now = time.time() if now_unix_s is None else now_unix_s
    with write_tx(db) as conn:
        limits = conn.execute(
            select(RateLimit.rpm, RateLimit.tpm).where(RateLimit.tenant_id == tenant_id).with_for_update()
        ).first()
        _apply(conn, tenant_id, settle)
        refusal = _budget_refusal(conn, tenant_id, now)
        if refusal is not None:
            return Grant(refusal)
        if limits is None or (limits.rpm is None and limits.tpm is None):
            return Grant(Decision())
        return _reserve(conn, tenant_id, limits.rpm, limits.tpm, need, want, now)


def settle(db: Database, tenant_id: str, settlements: Sequence[Settlement]) -> None:
    """Give back unused reservations of past seconds (an idle process's last lease)."""
    if not settlements:
        return
    with write_tx(db) as conn:
        conn.execute(select(RateLimit.tenant_id).where(RateLimit.tenant_id == tenant_id).with_for_update())
        _apply(conn, tenant_id, settlements)


def _apply(conn: Connection, tenant_id: str, settlements: Sequence[Settlement]) -> None:
    for s in settlements:
        if s.requests or s.tokens:  # a bucket already past the window is gone: nothing to correct
            conn.execute(
                update(RateBucket)
                .where(RateBucket.tenant_id == tenant_id, RateBucket.bucket_unix_s == s.bucket_unix_s)
                .values(requests=RateBucket.requests + s.requests, tokens=RateBucket.tokens + s.tokens)
            )


def _budget_refusal(conn: Connection, tenant_id: str, now: float) -> Decision | None:
    month = month_of(now)
    row = conn.execute(_SPEND, {"t": tenant_id, "m": month}).first()
    if row is None:
        return None
    budget, spent = row[0], row[1] or 0.0
    if spent < budget:
        return None
    return Decision(
        402,
        f"tenant {tenant_id!r} has used its monthly budget of ${budget:,.2f} for {month} "
        f"(${spent:,.2f} spent); ask the operator to raise it (`computemoat limits set`)",
    )


def _grant(limit: int | None, used: int, need: int, want: int) -> int | None:
    """How much to reserve of one dimension (just ``need`` when unlimited: counted, never refused), or
    None when even ``need`` does not fit."""
    if limit is None:
        return need
    if used + need > limit:
        return None
    cap = max(need, math.ceil(LEASE_FRACTION * limit))
    return min(max(need, want), cap, limit - used)


def _reserve(
    conn: Connection, tenant_id: str, rpm: int | None, tpm: int | None,
    need: tuple[int, int], want: tuple[int, int], now: float,
) -> Grant:
    need_requests, need_tokens = need
    if tpm is not None and need_tokens > tpm:
        return Grant(Decision(
            429, f"this request's ~{need_tokens} tokens exceed tenant {tenant_id!r}'s limit of {tpm} "
            "tokens per minute on their own; send a shorter request or ask for a higher tpm limit"
        ))
    now_s = math.floor(now)
    oldest_s = now_s - WINDOW_S
    rows = conn.execute(
        select(RateBucket.bucket_unix_s, RateBucket.requests, RateBucket.tokens)
        .where(RateBucket.tenant_id == tenant_id, RateBucket.bucket_unix_s >= oldest_s)
        .order_by(RateBucket.bucket_unix_s)
    ).all()
    used_requests = sum(r.requests for r in rows)
    used_tokens = sum(r.tokens for r in rows)
    requests = _grant(rpm, used_requests, need_requests, want[0])
    tokens = _grant(tpm, used_tokens, need_tokens, want[1])
    if requests is None or tokens is None:
        waits: list[float] = []
        if requests is None:
            waits.append(_wait_s(rows, 1, used_requests + need_requests - rpm, now))  # type: ignore[operator]
        if tokens is None:
            waits.append(_wait_s(rows, 2, used_tokens + need_tokens - tpm, now))  # type: ignore[operator]
        which, limit = ("requests", rpm) if requests is None else ("tokens", tpm)
        return Grant(Decision(
            429, f"rate limit: tenant {tenant_id!r} may send {limit} {which} per minute; retry later",
            max(waits),
        ))
    if requests or tokens:
        stmt = insert_for(conn, RateBucket).values(
            tenant_id=tenant_id, bucket_unix_s=now_s, requests=requests, tokens=tokens
        )
        excluded = stmt.excluded
        conn.execute(stmt.on_conflict_do_update(
            index_elements=["tenant_id", "bucket_unix_s"],
            set_={"requests": RateBucket.requests + excluded.requests,
                  "tokens": RateBucket.tokens + excluded.tokens},
        ))
    conn.execute(delete(RateBucket).where(RateBucket.tenant_id == tenant_id, RateBucket.bucket_unix_s < oldest_s))
    return Grant(Decision(), Lease(now_s, requests, tokens, rpm is not None, tpm is not None))


def _wait_s(rows: list, column: int, excess: int, now: float) -> float:  # type: ignore[type-arg]
    """Seconds until enough of the oldest buckets leave the window to free ``excess`` units.
    Bucket ``b`` stops being counted once ``floor(t) - 60 > b``, i.e. at ``t = b + 61``."""
    freed = 0
    for row in rows:
        freed += row[column]
        if freed >= excess:
            return max(0.0, row[0] + WINDOW_S + 1 - now)
    return float(WINDOW_S + 1)
