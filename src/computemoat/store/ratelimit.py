"""Shared rate limits and budgets, enforced inside the database so every gateway worker process sees
the same counters (a per-process limiter would let N workers admit N x the limit).

Algorithm: a sliding 60-second window over one-second buckets. Each admitted request adds 1 request and
its estimated tokens to the bucket of its whole second; a request is admitted only if the buckets of the
last 61 seconds (``floor(now) - 60 .. floor(now)``) plus itself stay within rpm/tpm. Counting 61 buckets
instead of 60 makes the limit *conservative*: every request admitted in any rolling 60 s interval is in
those buckets, so no interval ever holds more than rpm requests; the price is that a request can be held
back up to one extra second. A token bucket (burst = rpm, refill rpm/60 per second) would let up to 2 x
rpm through in a minute.

Atomicity: the check and the increment run in one transaction that first takes the tenant's lock
(``SELECT ... FOR UPDATE`` of its ``rate_limits`` row on PostgreSQL; ``BEGIN IMMEDIATE`` on SQLite,
which holds the database write lock). Cost: one short write transaction per limited request; tenants
without rpm/tpm never reach this code (the gateway caches who is limited).

Budgets: spend of the UTC month (``monthly_spend``, maintained by the usage writer in the same commit as
the usage rows) >= the monthly budget refuses with 402. Requests in flight when the budget runs out
are not yet in the spend, so the overshoot is bounded by the cost of the requests in flight.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, delete, select

from computemoat.store.db import Database, write_tx
from computemoat.store.schema import Budget, MonthlySpend, RateBucket, RateLimit
from computemoat.store.upsert import insert_for

WINDOW_S = 60


@dataclass(frozen=True, slots=True)
class Decision:
    status: int = 200  # 200 admit, 429 rate limited, 402 budget exhausted
    message: str = ""
    retry_after_s: float | None = None


def month_of(time_unix_s: float) -> str:
    return datetime.fromtimestamp(time_unix_s, UTC).strftime("%Y-%m")


def is_limited(db: Database, tenant_id: str) -> bool:
    """Whether the tenant has any rpm/tpm limit or budget (else :func:`admit` would always say yes)."""
    with db.engine.connect() as conn:
        return any(
            conn.execute(select(model.tenant_id).where(model.tenant_id == tenant_id)).first() is not None
            for model in (RateLimit, Budget)
        )


def admit(db: Database, tenant_id: str, est_tokens: int, now_unix_s: float | None = None) -> Decision:
    """Check budget, then rpm/tpm; on success count the request. Serialised per tenant."""
    now = time.time() if now_unix_s is None else now_unix_s
    est_tokens = max(0, int(est_tokens))
    with write_tx(db) as conn:
        limits = conn.execute(
            select(RateLimit.rpm, RateLimit.tpm).where(RateLimit.tenant_id == tenant_id).with_for_update()
        ).first()
        refusal = _budget_refusal(conn, tenant_id, now)
        if refusal is not None:
            return refusal
        if limits is None or (limits.rpm is None and limits.tpm is None):
            return Decision()
        return _rate_check(conn, tenant_id, limits.rpm, limits.tpm, est_tokens, now)


def _budget_refusal(conn: Connection, tenant_id: str, now: float) -> Decision | None:
    budget = conn.execute(select(Budget.monthly_usd).where(Budget.tenant_id == tenant_id)).scalar()
    if budget is None:
        return None
    month = month_of(now)
    spent = conn.execute(
        select(MonthlySpend.usd).where(MonthlySpend.tenant_id == tenant_id, MonthlySpend.month == month)
    ).scalar() or 0.0
    if spent < budget:
        return None
    return Decision(
        402,
        f"tenant {tenant_id!r} has used its monthly budget of ${budget:,.2f} for {month} "
        f"(${spent:,.2f} spent); ask the operator to raise it (`computemoat limits set`)",
    )


def _rate_check(
    conn: Connection, tenant_id: str, rpm: int | None, tpm: int | None, est_tokens: int, now: float
) -> Decision:
    if tpm is not None and est_tokens > tpm:
        return Decision(
            429, f"this request's ~{est_tokens} tokens exceed tenant {tenant_id!r}'s limit of {tpm} "
            "tokens per minute on their own; send a shorter request or ask for a higher tpm limit"
        )
    now_s = math.floor(now)
    oldest_s = now_s - WINDOW_S
    rows = conn.execute(
        select(RateBucket.bucket_unix_s, RateBucket.requests, RateBucket.tokens)
        .where(RateBucket.tenant_id == tenant_id, RateBucket.bucket_unix_s >= oldest_s)
        .order_by(RateBucket.bucket_unix_s)
    ).all()
    used_requests = sum(r.requests for r in rows)
    used_tokens = sum(r.tokens for r in rows)
    waits: list[float] = []
    if rpm is not None and used_requests + 1 > rpm:
        waits.append(_wait_s(rows, 1, used_requests + 1 - rpm, now))
    if tpm is not None and used_tokens + est_tokens > tpm:
        waits.append(_wait_s(rows, 2, used_tokens + est_tokens - tpm, now))
    if waits:
        which = "requests" if rpm is not None and used_requests + 1 > rpm else "tokens"
        limit = rpm if which == "requests" else tpm
        return Decision(
            429, f"rate limit: tenant {tenant_id!r} may send {limit} {which} per minute; retry later",
            max(waits),
        )
    stmt = insert_for(conn, RateBucket).values(
        tenant_id=tenant_id, bucket_unix_s=now_s, requests=1, tokens=est_tokens
    )
    excluded = stmt.excluded
    conn.execute(stmt.on_conflict_do_update(
        index_elements=["tenant_id", "bucket_unix_s"],
        set_={"requests": RateBucket.requests + excluded.requests, "tokens": RateBucket.tokens + excluded.tokens},
    ))
    conn.execute(delete(RateBucket).where(RateBucket.tenant_id == tenant_id, RateBucket.bucket_unix_s < oldest_s))
    return Decision()


def _wait_s(rows: list, column: int, excess: int, now: float) -> float:  # type: ignore[type-arg]
    """Seconds until enough of the oldest buckets leave the window to free ``excess`` units.
    Bucket ``b`` stops being counted once ``floor(t) - 60 > b``, i.e. at ``t = b + 61``."""
    freed = 0
    for row in rows:
        freed += row[column]
        if freed >= excess:
            return max(0.0, row[0] + WINDOW_S + 1 - now)
    return float(WINDOW_S + 1)
