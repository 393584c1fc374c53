"""Shared rate limits and budgets, enforced inside the database so every gateway worker process sees
the same counters (a per-process limiter would let N workers admit N x the limit).

Algorithm: a sliding 60-second window over one-second buckets per scope (a tenant, or one of its keys
with limits of its own). Each admitted request adds 1 request and its estimated tokens to the bucket of
its whole second; a request is admitted only if the buckets of the last 61 seconds
(``floor(now) - 60 .. floor(now)``) plus itself stay within rpm/tpm, in every scope that limits it.
Counting 61 buckets instead of 60 makes the limit *conservative*: every request admitted in any rolling
60 s interval is in those buckets, so no interval ever holds more than rpm requests; the price is that a
request can be held back up to one extra second. A token bucket (burst = rpm, refill rpm/60 per second)
would let up to 2 x rpm through in a minute.

Leases (:func:`acquire`): a gateway process does not pay a transaction per request. It reserves a block
of requests/tokens in the bucket of the current second, checked against the window exactly as single
requests are, and admits locally from that block *during that second only* (``store.leases``). Every
request so admitted is therefore counted in the bucket of its own second, as if it had been counted
alone, and the sum of all reservations never exceeds the limit: exactness is unchanged. When the second
is over, the process settles the block (gives back what it did not use, adds the tokens it used where
tpm is unlimited). A block is at most ``LEASE_FRACTION`` of the limit (and at least what the request
needs). :func:`admit` is a lease of exactly one request.

Budgets ride on the same transaction: it reads the scopes' spend of their current budget period
(``daily_spend``, maintained by the usage writer in the same commit as the usage rows) and refuses with
402 once it reached the budget; the verdict holds for the rest of that second in the process (no read
per request). Requests admitted in that second and requests in flight are not yet in the spend, so the
overshoot is bounded by their cost. Crossing ``alert_at_fraction`` of a budget inserts a
``budget_alerts`` row for the period; the one transaction whose insert took returns the alert.

Atomicity: everything runs in one transaction that first takes the scopes' locks (``SELECT ... FOR
UPDATE`` of their ``limits`` rows on PostgreSQL, in key order; ``BEGIN IMMEDIATE`` on SQLite, which holds
the database write lock). Sums saturate at ``SUM_MAX``; a database failure raises
``StoreUnavailableError``, never a driver error.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Connection, case, delete, literal, select, update
from sqlalchemy.exc import SQLAlchemyError

from computemoat.store.db import Database, write_tx
from computemoat.store.errors import StoreUnavailableError
from computemoat.store.limits import SUM_MAX, BudgetPeriod, Limits, Scope, clamp_tokens, load, period_start
from computemoat.store.schema import BudgetAlert, DailySpend, LimitRow, RateBucket
from computemoat.store.upsert import insert_for

WINDOW_S = 60
LEASE_FRACTION = 0.1  # a lease holds at most this share of the limit (but never less than one request)

USD_EPS = 1e-9  # spend is a float sum of tiny costs: "reached" means within a nano-dollar
Ask = tuple[tuple[int, int], tuple[int, int]]  # (need, want), each (requests, tokens)


@dataclass(frozen=True, slots=True)
class Decision:
    status: int = 200  # 200 admit, 429 rate limited, 402 budget exhausted
    message: str = ""
    retry_after_s: float | None = None


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
class Alert:
    """A scope's spend reached ``alert_at_fraction`` of its budget in the period from ``period_start``."""

    scope: Scope
    period: BudgetPeriod
    period_start: str
    budget_usd: float
    spent_usd: float
    alert_at_fraction: float


@dataclass(frozen=True, slots=True)
class BudgetState:
    """A scope's budget and what it had spent in the current period when the transaction read it."""

    scope: Scope
    period: BudgetPeriod
    period_start: str
    budget_usd: float
    spent_usd: float

    def exhausted(self, spent_usd: float | None = None) -> bool:
        return (self.spent_usd if spent_usd is None else spent_usd) >= self.budget_usd - USD_EPS

    def refusal(self, spent_usd: float | None = None) -> Decision:
        spent = self.spent_usd if spent_usd is None else spent_usd
        return Decision(
            402,
            f"{self.scope.describe()} has used its {self.period.value} budget of ${self.budget_usd:,.2f} "
            f"for the period from {self.period_start} (${spent:,.2f} spent); ask the operator to raise it "
            "(`computemoat limits set`)",
        )


@dataclass(frozen=True, slots=True)
class Grant:
    decision: Decision
    leases: dict[Scope, Lease] = field(default_factory=dict)  # per rate-limited scope, when admitted
    alerts: tuple[Alert, ...] = ()
    budgets: tuple[BudgetState, ...] = ()  # a verdict for this second only: spend grows meanwhile


@contextmanager
def _unavailable() -> Iterator[None]:
    try:
        yield
    except SQLAlchemyError as e:
        reason = " ".join(str(getattr(e, "orig", None) or e).split())[:200]
        raise StoreUnavailableError(f"the limits database failed ({type(e).__name__}: {reason})") from e


def admit(db: Database, tenant_id: str, est_tokens: int, now_unix_s: float | None = None,
          key_id: str = "") -> Decision:
    """Check budgets, then rpm/tpm; on success count the one request. Serialised per tenant."""
    return acquire(db, tenant_id, key_id, est_tokens, {}, now_unix_s).decision


def acquire(
    db: Database, tenant_id: str, key_id: str, tokens: int, asks: Mapping[Scope, Ask],
    now_unix_s: float | None = None, settle: Mapping[Scope, Sequence[Settlement]] | None = None,
) -> Grant:
    """Apply ``settle`` to past buckets, check the budgets of the tenant and of key ``key_id``, then in
    every scope with rpm/tpm reserve at least ``need`` and up to ``want`` (``asks[scope]``, else one
    request of ``tokens``) in the bucket of ``now`` - at most ``LEASE_FRACTION`` of each limit beyond
    ``need``, never past the limit. All or nothing; one transaction under the scopes' locks."""
    now = time.time() if now_unix_s is None else now_unix_s
    tokens = clamp_tokens(tokens)
    with _unavailable(), write_tx(db) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(select(LimitRow.key_id).where(LimitRow.tenant_id == tenant_id,
                                                       LimitRow.key_id.in_({"", key_id}))
                         .order_by(LimitRow.key_id).with_for_update())
        _apply(conn, settle or {})
        limits = load(conn, tenant_id, key_id)
        budgets, alerts = _budgets(conn, limits, now)
        for b in budgets:
            if b.exhausted():
                return Grant(b.refusal(), alerts=alerts, budgets=budgets)
        leases: dict[Scope, Lease] = {}
        for scope, lim in sorted(limits.items(), key=lambda kv: kv[0].key_id):
            if not lim.rate_limited:
                continue
            need, want = asks.get(scope, ((1, tokens), (1, tokens)))
            got = _reserve(conn, scope, lim, need, want, now)
            if isinstance(got, Decision):
                return Grant(got, alerts=alerts, budgets=budgets)
            leases[scope] = got
        for scope, lease in leases.items():
            _write_lease(conn, scope, lease)
        return Grant(Decision(), leases, alerts, budgets)


def settle(db: Database, settlements: Mapping[Scope, Sequence[Settlement]]) -> None:
    """Give back unused reservations of past seconds (an idle process's last leases)."""
    if not any(settlements.values()):
        return
    with _unavailable(), write_tx(db) as conn:
        for tenant in sorted({s.tenant_id for s in settlements}):
            if conn.dialect.name == "postgresql":
                conn.execute(select(LimitRow.key_id).where(LimitRow.tenant_id == tenant)
                             .order_by(LimitRow.key_id).with_for_update())
        _apply(conn, settlements)


def _saturating_add(column: object, delta: object) -> object:
    """``column + delta`` kept in ``0 .. SUM_MAX`` without computing past it (BIGINT never overflows)."""
    return case((column > literal(SUM_MAX) - delta, literal(SUM_MAX)),
                (column + delta < 0, literal(0)),  # type: ignore[operator]
                else_=column + delta)  # type: ignore[operator]


def _clamp_sum(n: int) -> int:
    return max(-SUM_MAX, min(SUM_MAX, n))


def _apply(conn: Connection, settlements: Mapping[Scope, Sequence[Settlement]]) -> None:
    for scope, items in settlements.items():
        for s in items:
            if s.requests or s.tokens:  # a bucket already past the window is gone: nothing to correct
                conn.execute(
                    update(RateBucket)
                    .where(RateBucket.tenant_id == scope.tenant_id, RateBucket.key_id == scope.key_id,
                           RateBucket.bucket_unix_s == s.bucket_unix_s)
                    .values(requests=_saturating_add(RateBucket.requests, _clamp_sum(s.requests)),
                            tokens=_saturating_add(RateBucket.tokens, _clamp_sum(s.tokens)))
                )


def _budgets(conn: Connection, limits: Mapping[Scope, Limits], now: float) -> tuple[tuple[BudgetState, ...],
                                                                                  tuple[Alert, ...]]:
    """Each budgeted scope's spend in its current period (tenant first); alerts newly crossed."""
    budgets = {s: lim for s, lim in limits.items() if lim.budget_usd is not None}
    if not budgets:
        return (), ()
    starts = {s: period_start(lim.budget_period, now) for s, lim in budgets.items()}
    tenant_id = next(iter(budgets)).tenant_id
    rows = conn.execute(
        select(DailySpend.key_id, DailySpend.day, DailySpend.usd)
        .where(DailySpend.tenant_id == tenant_id, DailySpend.key_id.in_({s.key_id for s in budgets}),
               DailySpend.day >= min(starts.values()))
    ).all()
    states: list[BudgetState] = []
    alerts: list[Alert] = []
    for scope, lim in sorted(budgets.items(), key=lambda kv: kv[0].key_id):
        assert lim.budget_usd is not None
        start = starts[scope]
        spent = sum(usd for key, day, usd in rows if key == scope.key_id and day >= start)
        states.append(BudgetState(scope, lim.budget_period, start, lim.budget_usd, spent))
        if lim.alert_at_fraction is not None and spent >= lim.alert_at_fraction * lim.budget_usd - USD_EPS:
            inserted = conn.execute(
                insert_for(conn, BudgetAlert).values(tenant_id=scope.tenant_id, key_id=scope.key_id,
                                                     period_start=start, sent_unix_s=now)
                .on_conflict_do_nothing().returning(BudgetAlert.period_start)
            ).first()
            if inserted is not None:  # this transaction's insert took: it sends the alert
                alerts.append(Alert(scope, lim.budget_period, start, lim.budget_usd, spent, lim.alert_at_fraction))
    return tuple(states), tuple(alerts)


def _grant(limit: int | None, used: int, need: int, want: int) -> int | None:
    """How much to reserve of one dimension (just ``need`` when unlimited: counted, never refused), or
    None when even ``need`` does not fit."""
    if limit is None:
        return need
    if used + need > limit:
        return None
    cap = max(need, math.ceil(LEASE_FRACTION * limit))
    return min(max(need, want), cap, limit - used)


def _reserve(conn: Connection, scope: Scope, lim: Limits, need: tuple[int, int], want: tuple[int, int],
             now: float) -> Lease | Decision:
    """What ``scope`` can lease now (nothing written yet), or the 429 that refuses the request."""
    need_requests, need_tokens = need[0], min(need[1], SUM_MAX)
    want_requests, want_tokens = want[0], min(want[1], SUM_MAX)
    if lim.tpm is not None and need_tokens > lim.tpm:
        return Decision(
            429, f"this request's ~{need_tokens} tokens exceed {scope.describe()}'s limit of {lim.tpm} "
            "tokens per minute on their own; send a shorter request or ask for a higher tpm limit"
        )
    now_s = math.floor(now)
    rows = conn.execute(
        select(RateBucket.bucket_unix_s, RateBucket.requests, RateBucket.tokens)
        .where(RateBucket.tenant_id == scope.tenant_id, RateBucket.key_id == scope.key_id,
               RateBucket.bucket_unix_s >= now_s - WINDOW_S)
        .order_by(RateBucket.bucket_unix_s)
    ).all()
    buckets = [(int(b), int(r), int(t)) for b, r, t in rows]
    used_requests = sum(r for _, r, _ in buckets)
    used_tokens = sum(t for _, _, t in buckets)
    requests = _grant(lim.rpm, used_requests, need_requests, want_requests)
    tokens = _grant(lim.tpm, used_tokens, need_tokens, want_tokens)
    if requests is not None and tokens is not None:
        return Lease(now_s, requests, tokens, lim.rpm is not None, lim.tpm is not None)
    waits: list[float] = []
    if requests is None and lim.rpm is not None:
        waits.append(_wait_s([(b, r) for b, r, _ in buckets], used_requests + need_requests - lim.rpm, now))
    if tokens is None and lim.tpm is not None:
        waits.append(_wait_s([(b, t) for b, _, t in buckets], used_tokens + need_tokens - lim.tpm, now))
    which, limit = ("requests", lim.rpm) if requests is None else ("tokens", lim.tpm)
    return Decision(429, f"rate limit: {scope.describe()} may send {limit} {which} per minute; retry later",
                    max(waits))


def _write_lease(conn: Connection, scope: Scope, lease: Lease) -> None:
    if lease.requests or lease.tokens:
        stmt = insert_for(conn, RateBucket).values(
            tenant_id=scope.tenant_id, key_id=scope.key_id, bucket_unix_s=lease.bucket_unix_s,
            requests=lease.requests, tokens=lease.tokens,
        )
        conn.execute(stmt.on_conflict_do_update(
            index_elements=["tenant_id", "key_id", "bucket_unix_s"],
            set_={"requests": _saturating_add(RateBucket.requests, stmt.excluded.requests),
                  "tokens": _saturating_add(RateBucket.tokens, stmt.excluded.tokens)},
        ))
    conn.execute(delete(RateBucket).where(RateBucket.tenant_id == scope.tenant_id, RateBucket.key_id == scope.key_id,
                                          RateBucket.bucket_unix_s < lease.bucket_unix_s - WINDOW_S))


def _wait_s(buckets: list[tuple[int, int]], excess: int, now: float) -> float:
    """Seconds until enough of the oldest buckets leave the window to free ``excess`` units.
    Bucket ``b`` stops being counted once ``floor(t) - 60 > b``, i.e. at ``t = b + 61``."""
    freed = 0
    for bucket_unix_s, amount in buckets:
        freed += amount
        if freed >= excess:
            return max(0.0, bucket_unix_s + WINDOW_S + 1 - now)
    return float(WINDOW_S + 1)
