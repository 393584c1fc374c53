"""Tenancy and metering for the gateway on top of ``store``: the ``Authenticator`` and ``UsageSink`` of
``hooks.py``, and :func:`build_tenancy` which ``computemoat serve`` calls (the admin API is in
``tenancy_admin.py``).

Hot-path costs: a key lookup is cached for ``cache_ttl_s`` (0.5 s, so a revoked key or disabled tenant
stops working within a second in every worker); the limits of a tenant and key are cached the same
way, so tenants without limits never touch the database before routing. A cache miss is loaded once
however many requests are waiting for it (single flight). Rate limits and budgets are checked in one
shared-database transaction per lease (``store.ratelimit.acquire``): rate-limited scopes admit from
this process's lease of the current second (``store.leases``), and the budget verdict of that
transaction holds for the rest of the same second, so a busy process pays about one transaction per
second per tenant and no read per request. Usage goes through the group commit writer: ``record``
returns once the row is committed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import os
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from computemoat.gateway.hooks import Admission, AdmissionUnavailable, TenantContext, UsageRecord
from computemoat.store import Database, default_database_url, open_database, ratelimit, repo
from computemoat.store.errors import StoreUnavailableError
from computemoat.store.keys import KEY_PREFIX, hash_key
from computemoat.store.leases import LeaseBook
from computemoat.store.limits import Limits, Scope, clamp_tokens, load
from computemoat.store.writer import GroupCommitWriter

ENV_ALERT_WEBHOOK_URL = "COMPUTEMOAT_ALERT_WEBHOOK_URL"
_CACHE_MAX_ENTRIES = 100_000
_SETTLE_DELAY_S = 0.05  # after the end of a lease's second: settle it unless an acquisition already did
T = TypeVar("T")
log = logging.getLogger("computemoat.tenancy")


def _guarded(load: Callable[[], T]) -> Callable[[], T]:
    """``load`` with database failures raised as ``StoreUnavailableError`` (503, not 500)."""
    def run() -> T:
        try:
            return load()
        except SQLAlchemyError as e:
            raise StoreUnavailableError(f"the tenancy database failed ({type(e).__name__})") from e
    return run


class _TtlCache:
    """``key -> value`` for ``ttl_s`` (counted from when the load started), loaded in a thread, once
    per key however many callers miss at the same time."""

    def __init__(self, ttl_s: float) -> None:
        self._ttl_s = ttl_s
        self._values: dict[Hashable, tuple[float, Any]] = {}
        self._loading: dict[Hashable, asyncio.Future[Any]] = {}

    async def get(self, key: Hashable, load: Callable[[], T]) -> T:
        hit = self._values.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        task = self._loading.get(key)
        if task is None:
            task = self._loading[key] = asyncio.ensure_future(self._load(key, load))
        return await asyncio.shield(task)

    async def _load(self, key: Hashable, load: Callable[[], T]) -> T:
        started = time.monotonic()
        try:
            value = await asyncio.to_thread(_guarded(load))
        finally:
            del self._loading[key]
        if len(self._values) >= _CACHE_MAX_ENTRIES:
            self._values.clear()  # bounded memory against floods of random keys
        self._values[key] = (started + self._ttl_s, value)
        return value


def _unavailable_on_db_errors(method: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """A database error while authenticating or admitting is the gateway's 503, never a 500."""

    @functools.wraps(method)
    async def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return await method(*args, **kwargs)
        except StoreUnavailableError as e:
            log.warning("admission failed: %s", e.reason)
            raise AdmissionUnavailable(e.reason, e.retry_after_s) from e
        except SQLAlchemyError as e:
            raise AdmissionUnavailable(f"database error: {type(e).__name__}") from e

    return wrapper


@dataclass(slots=True)
class _Verdict:
    """The budgets' state for one second: refused, or admitted with each budget's spend so far (the
    transaction's reading plus what this process committed since)."""

    second: int
    refusal: Admission | None
    budgets: dict[Scope, list[Any]]  # budget scope -> [BudgetState, spent_usd]


class StoreAuthenticator:
    def __init__(self, db: Database, *, cache_ttl_s: float = 0.5, alert_webhook_url: str | None = None) -> None:
        self._db = db
        self._keys = _TtlCache(cache_ttl_s)
        self._limits = _TtlCache(cache_ttl_s)
        self._models: dict[str, frozenset[str] | None] = {}  # key id -> allow-list, from its lookup
        self._leases = LeaseBook()
        self._verdicts: dict[str, dict[Scope, _Verdict]] = {}  # tenant -> request scope -> this second's
        self._locks: dict[str, asyncio.Lock] = {}
        self._settle_at: dict[Scope, int] = {}  # scope -> lease second whose settle timer is armed
        self._tasks: set[asyncio.Task[None]] = set()
        self._alert_webhook_url = alert_webhook_url

    @_unavailable_on_db_errors
    async def authenticate(self, api_key: str | None) -> TenantContext | None:
        if not api_key or not api_key.startswith(KEY_PREFIX) or len(api_key) > 256:
            return None
        found = await self._keys.get(hash_key(api_key), lambda: repo.lookup_key(self._db, api_key))
        if found is None:
            return None
        if len(self._models) >= _CACHE_MAX_ENTRIES:
            self._models.clear()
        self._models[found.key_id] = found.allowed_models
        return TenantContext(tenant_id=found.tenant_id, key_id=found.key_id)

    @_unavailable_on_db_errors
    async def admit(self, ctx: TenantContext, model: str, est_tokens: int) -> Admission:
        allowed = self._models.get(ctx.key_id)
        if allowed is not None and model not in allowed:
            shown = ", ".join(sorted(allowed)) or "none"
            return Admission(status=403, message=f"this API key may not use model {model!r} "
                             f"(it may use: {shown}); ask the operator to allow it")
        return await self._admit(ctx, clamp_tokens(est_tokens))  # a database failure: the decorator's 503

    async def _admit(self, ctx: TenantContext, tokens: int) -> Admission:
        scope = Scope(ctx.tenant_id, ctx.key_id)
        limits: dict[Scope, Limits] = await self._limits.get(scope, lambda: self._load_limits(scope))
        if not limits:
            return Admission()
        now = time.time()
        fast = self._local(scope, limits, tokens, now)
        if fast is not None:
            return fast
        # The acquisition runs as its own task: a cancelled request must not lose a granted lease or
        # apply a settlement twice.
        return await asyncio.shield(asyncio.ensure_future(self._acquire(scope, limits, tokens)))

    def _load_limits(self, scope: Scope) -> dict[Scope, Limits]:
        with self._db.engine.connect() as conn:
            return load(conn, scope.tenant_id, scope.key_id)

    def _local(self, scope: Scope, limits: dict[Scope, Limits], tokens: int, now: float) -> Admission | None:
        """The answer without the database, when this second's budget verdict and leases give it."""
        if any(lim.budget_usd is not None for lim in limits.values()):
            verdict = self._verdicts.get(scope.tenant_id, {}).get(scope)
            if verdict is None or verdict.second != math.floor(now):
                return None
            if verdict.refusal is not None:
                return verdict.refusal
        limited = tuple(s for s, lim in limits.items() if lim.rate_limited)
        if not limited or self._leases.take_all(limited, tokens, now):
            return Admission()
        return None

    async def _acquire(self, scope: Scope, limits: dict[Scope, Limits], tokens: int) -> Admission:
        async with self._locks.setdefault(scope.tenant_id, asyncio.Lock()):
            now = time.time()
            fast = self._local(scope, limits, tokens, now)  # another request's acquisition did it
            if fast is not None:
                return fast
            asks: dict[Scope, ratelimit.Ask] = {}
            settlements: dict[Scope, list[ratelimit.Settlement]] = {}
            for s, lim in limits.items():
                if lim.rate_limited:
                    need, want, settlements[s] = self._leases.plan(s, tokens, now)
                    asks[s] = (need, want)
            try:
                grant = await asyncio.to_thread(ratelimit.acquire, self._db, scope.tenant_id, scope.key_id,
                                                tokens, asks, now, settlements)
            except BaseException:
                for s, items in settlements.items():
                    self._leases.restore(s, items)
                raise
            for s, lease in grant.leases.items():
                self._leases.granted(s, lease, tokens)
                self._arm_settle(s, lease.bucket_unix_s)
            d = grant.decision
            admission = Admission(status=d.status, message=d.message, retry_after_s=d.retry_after_s)
            if grant.budgets:
                verdicts = self._verdicts.setdefault(scope.tenant_id, {})
                if len(verdicts) >= _CACHE_MAX_ENTRIES:
                    verdicts.clear()
                verdicts[scope] = _Verdict(math.floor(now), admission if d.status == 402 else None,
                                           {b.scope: [b, b.spent_usd] for b in grant.budgets})
            for alert in grant.alerts:
                self._send_alert(alert)
            return admission

    def spent(self, costs: dict[tuple[str, str], float]) -> None:
        """Usage this process just committed: add it to this second's budget verdicts, so a budget this
        process exhausts is refused from its next request on, without a read."""
        for (tenant, key_id), usd in costs.items():
            for verdict in self._verdicts.get(tenant, {}).values():
                if verdict.refusal is not None:
                    continue
                for budget_scope, entry in verdict.budgets.items():
                    if budget_scope.key_id in ("", key_id):
                        entry[1] += usd
                        state: ratelimit.BudgetState = entry[0]
                        if state.exhausted(entry[1]):
                            d = state.refusal(entry[1])
                            verdict.refusal = Admission(status=d.status, message=d.message)

    def _send_alert(self, alert: ratelimit.Alert) -> None:
        """Log the soft budget alert, and POST it to the webhook when one is configured."""
        body = {"event": "budget_alert", "tenant_id": alert.scope.tenant_id, "key_id": alert.scope.key_id or None,
                "period": alert.period.value, "period_start": alert.period_start, "budget_usd": alert.budget_usd,
                "spent_usd": alert.spent_usd, "alert_at_fraction": alert.alert_at_fraction}
        log.warning("budget alert: %s has spent $%.2f of its %s budget of $%.2f (alert at %.0f%%) since %s",
                    alert.scope.describe(), alert.spent_usd, alert.period.value, alert.budget_usd,
                    100 * alert.alert_at_fraction, alert.period_start)
        if self._alert_webhook_url:
            self._spawn(self._post_alert(self._alert_webhook_url, body))

    @staticmethod
    async def _post_alert(url: str, body: dict[str, Any]) -> None:
        import httpx

        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                (await client.post(url, json=body)).raise_for_status()
        except httpx.HTTPError as e:
            log.warning("budget alert webhook %s failed: %s", url, e)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _arm_settle(self, scope: Scope, bucket_unix_s: int) -> None:
        """At the end of the lease's second, give back what is unused, so an idle process holds nothing."""
        if self._settle_at.get(scope) == bucket_unix_s:
            return
        self._settle_at[scope] = bucket_unix_s
        delay_s = bucket_unix_s + 1 - time.time() + _SETTLE_DELAY_S
        asyncio.get_running_loop().call_later(max(0.0, delay_s), lambda: self._spawn(self._settle(scope)))

    async def _settle(self, scope: Scope) -> None:
        async with self._locks.setdefault(scope.tenant_id, asyncio.Lock()):
            settlements = self._leases.expired(scope, time.time())
            if not settlements:
                return  # a newer lease already carried them
            try:
                await asyncio.to_thread(ratelimit.settle, self._db, {scope: settlements})
            except StoreUnavailableError:
                self._leases.restore(scope, settlements)  # the next acquisition retries them


class StoreUsageSink:
    def __init__(self, db: Database, authenticator: StoreAuthenticator | None = None) -> None:
        """With ``authenticator``, committed costs update its budget verdicts (``spent``)."""
        self._db = db
        self.writer = GroupCommitWriter(db, on_spend=authenticator.spent if authenticator else None)

    async def record(self, rec: UsageRecord) -> None:
        await self.writer.write(rec)

    async def aclose(self) -> None:
        await self.writer.aclose()
        self._db.dispose()


def build_tenancy(
    database_url: str | None, admin_token: str | None, alert_webhook_url: str | None = None
) -> tuple[StoreAuthenticator, StoreUsageSink, Any]:
    """Open (and migrate) the database - ``$COMPUTEMOAT_DATABASE_URL`` or ``./computemoat.db`` when no
    URL is given - and return ``(authenticator, usage_sink, admin_router)`` for ``create_app``. Budget
    alerts go to the log, and to ``alert_webhook_url`` (default ``$COMPUTEMOAT_ALERT_WEBHOOK_URL``)."""
    from computemoat.gateway.tenancy_admin import admin_router

    db = open_database(database_url or default_database_url())
    webhook = alert_webhook_url or os.environ.get(ENV_ALERT_WEBHOOK_URL) or None
    authenticator = StoreAuthenticator(db, alert_webhook_url=webhook)
    return authenticator, StoreUsageSink(db, authenticator), admin_router(db, admin_token)
