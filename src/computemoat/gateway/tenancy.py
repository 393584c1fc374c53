"""Tenancy and metering for the gateway on top of ``store``: the ``Authenticator`` and ``UsageSink`` of
``hooks.py``, the admin API, and :func:`build_tenancy` which ``computemoat serve`` calls.

Hot-path costs: a key lookup is cached for ``cache_ttl_s`` (0.5 s, so a revoked key or disabled tenant
stops working within a second in every worker); a tenant's limits are cached the same way, so unlimited
tenants never touch the database before routing. A cache miss is loaded once however many requests
are waiting for it (single flight). Rate-limited tenants are admitted from this process's lease of the
current second (``store.leases``): one shared-database transaction per lease, not per request. Tenants
with a budget pay one read of their month's spend per request. Usage goes through the group commit
writer: ``record`` returns once the row is committed.
"""


import asyncio
import functools
import hmac
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import asdict
from typing import Annotated, Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from computemoat.gateway.hooks import Admission, AdmissionUnavailable, TenantContext, UsageRecord
from computemoat.store import Database, default_database_url, open_database, ratelimit, repo
from computemoat.store.keys import KEY_PREFIX, hash_key
from computemoat.store.leases import LeaseBook
from computemoat.store.writer import GroupCommitWriter

_CACHE_MAX_ENTRIES = 100_000
_SETTLE_DELAY_S = 0.05  # after the end of a lease's second: settle it unless an acquisition already did
T = TypeVar("T")


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
            return hit[1]  # type: ignore[no-any-return]
        task = self._loading.get(key)
        if task is None:
            task = self._loading[key] = asyncio.ensure_future(self._load(key, load))
        return await asyncio.shield(task)  # type: ignore[no-any-return]

    async def _load(self, key: Hashable, load: Callable[[], T]) -> T:
        started = time.monotonic()
        try:
            value = await asyncio.to_thread(load)
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
        except SQLAlchemyError as e:
            raise AdmissionUnavailable(f"database error: {type(e).__name__}") from e

    return wrapper


class StoreAuthenticator:
    def __init__(self, db: Database, *, cache_ttl_s: float = 0.5) -> None:
        self._db = db
        self._keys = _TtlCache(cache_ttl_s)
        self._limits = _TtlCache(cache_ttl_s)
        self._leases = LeaseBook()
        self._locks: dict[str, asyncio.Lock] = {}
        self._settle_at: dict[str, int] = {}  # tenant -> lease second whose settle timer is armed
        self._tasks: set[asyncio.Task[None]] = set()

    @_unavailable_on_db_errors
    async def authenticate(self, api_key: str | None) -> TenantContext | None:
        if not api_key or not api_key.startswith(KEY_PREFIX) or len(api_key) > 256:
            return None
        found = await self._keys.get(hash_key(api_key), lambda: repo.lookup_key(self._db, api_key))
        return TenantContext(tenant_id=found[0], key_id=found[1]) if found else None

    @_unavailable_on_db_errors
    async def admit(self, ctx: TenantContext, model: str, est_tokens: int) -> Admission:
        tenant = ctx.tenant_id
        limits = await self._limits.get(tenant, lambda: ratelimit.tenant_limits(self._db, tenant))
        if limits is None:
            return Admission()
        if limits.monthly_budget_usd is not None:
            refusal = await asyncio.to_thread(ratelimit.budget_refusal, self._db, tenant)
            if refusal is not None:
                return Admission(status=refusal.status, message=refusal.message)
        if not limits.rate_limited:
            return Admission()
        tokens = max(0, int(est_tokens))
        if self._leases.take(tenant, tokens, time.time()):
            return Admission()
        # The acquisition runs as its own task: a cancelled request must not lose a granted lease or
        # apply a settlement twice.
        return await asyncio.shield(asyncio.ensure_future(self._acquire(tenant, tokens)))

    async def _acquire(self, tenant: str, tokens: int) -> Admission:
        async with self._locks.setdefault(tenant, asyncio.Lock()):
            now = time.time()
            if self._leases.take(tenant, tokens, now):  # another request's lease arrived meanwhile
                return Admission()
            need, want, settlements = self._leases.plan(tenant, tokens, now)
            try:
                grant = await asyncio.to_thread(ratelimit.acquire, self._db, tenant, need, want, now, settlements)
            except BaseException:
                self._leases.restore(tenant, settlements)
                raise
            if grant.lease is not None:
                self._leases.granted(tenant, grant.lease, tokens)
                self._arm_settle(tenant, grant.lease.bucket_unix_s)
            d = grant.decision
            return Admission(status=d.status, message=d.message, retry_after_s=d.retry_after_s)

    def _arm_settle(self, tenant: str, bucket_unix_s: int) -> None:
        """At the end of the lease's second, give back what is unused, so an idle process holds nothing."""
        if self._settle_at.get(tenant) == bucket_unix_s:
            return
        self._settle_at[tenant] = bucket_unix_s
        delay_s = bucket_unix_s + 1 - time.time() + _SETTLE_DELAY_S
        asyncio.get_running_loop().call_later(max(0.0, delay_s), self._settle_soon, tenant)

    def _settle_soon(self, tenant: str) -> None:
        task = asyncio.ensure_future(self._settle(tenant))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _settle(self, tenant: str) -> None:
        async with self._locks.setdefault(tenant, asyncio.Lock()):
            settlements = self._leases.expired(tenant, time.time())
            if not settlements:
                return  # a newer lease already carried them
            try:
                await asyncio.to_thread(ratelimit.settle, self._db, tenant, settlements)
            except Exception:
                self._leases.restore(tenant, settlements)  # the next acquisition retries them


class StoreUsageSink:
    def __init__(self, db: Database, *, linger_s: float = 0.002) -> None:
        self._db = db
        self.writer = GroupCommitWriter(db, linger_s=linger_s)

    async def record(self, rec: UsageRecord) -> None:
        await self.writer.write(rec)

    async def aclose(self) -> None:
        await self.writer.aclose()
        self._db.dispose()


def build_tenancy(
    database_url: str | None, admin_token: str | None
) -> tuple[StoreAuthenticator, StoreUsageSink, Any]:
    """Open (and migrate) the database - ``$COMPUTEMOAT_DATABASE_URL`` or ``./computemoat.db`` when no
    URL is given - and return ``(authenticator, usage_sink, admin_router)`` for ``create_app``."""
    db = open_database(database_url or default_database_url())
    return StoreAuthenticator(db), StoreUsageSink(db), admin_router(db, admin_token)


def admin_router(db: Database, admin_token: str | None) -> Any:
    """The admin API (mounted at ``/admin``): tenants, keys, limits, prices with the admin token;
    ``GET /tenants/{id}/usage`` also with one of that tenant's own keys (and no other tenant's)."""
    from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, status
    from pydantic import AfterValidator, BaseModel, ConfigDict, Field

    from computemoat.model.errors import UserError
    from computemoat.store.errors import ConflictError, NotFoundError
    from computemoat.store.usage import UsageLine, usage_by_model

    def _clean(v: str) -> str:
        if not v.isprintable():
            raise ValueError("must contain printable characters only")
        return v

    Text = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_clean)]
    TenantId = Annotated[str, Path(pattern=repo.TENANT_ID_RE.pattern, description=repo.TENANT_ID_HINT)]
    Month = Annotated[str, Query(pattern=r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$", examples=["2026-11"])]

    class Strict(BaseModel):
        model_config = ConfigDict(extra="forbid")

    class TenantIn(Strict):
        id: str = Field(pattern=repo.TENANT_ID_RE.pattern, description=repo.TENANT_ID_HINT)

    class KeyIn(Strict):
        name: Annotated[str, Field(max_length=64), AfterValidator(_clean)] = ""

    class NewKeyOut(Strict):
        key_id: str
        tenant_id: str
        api_key: str = Field(description="shown once; only its SHA-256 is stored")
        prefix: str

    class LimitsIn(Strict):
        """Fields left out stay as they are; ``null`` removes a limit."""

        rpm: int | None = Field(default=None, ge=1, le=1_000_000_000)
        tpm: int | None = Field(default=None, ge=1, le=2_000_000_000)
        monthly_budget_usd: float | None = Field(default=None, gt=0, le=1e12, allow_inf_nan=False)

    class PriceIn(Strict):
        model: Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_clean)]
        provider: Text = Field(description="'*' prices the model on every provider without its own row")
        usd_per_mtok_prompt: float = Field(ge=0, lt=1e6, allow_inf_nan=False)
        usd_per_mtok_completion: float = Field(ge=0, lt=1e6, allow_inf_nan=False)

    class UsageOut(Strict):
        tenant_id: str
        month: str
        lines: list[UsageLine]
        total_cost_usd: float

    def bearer(authorization: Annotated[str | None, Header()] = None) -> str | None:
        if authorization and authorization[:7].lower() == "bearer ":
            return authorization[7:].strip()
        return None

    def is_admin(token: str | None) -> bool:
        return bool(admin_token and token) and hmac.compare_digest(
            token.encode("utf-8", "surrogatepass"), admin_token.encode()  # type: ignore[union-attr]
        )

    def require_admin(token: Annotated[str | None, Depends(bearer)]) -> None:
        if admin_token is None:
            raise HTTPException(403, "the admin API is disabled: start `computemoat serve` with --admin-token")
        if not is_admin(token):
            raise HTTPException(401, "admin endpoints need 'Authorization: Bearer <admin token>'",
                                headers={"WWW-Authenticate": "Bearer"})

    def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NotFoundError as e:
            raise HTTPException(404, " ".join(e.lines)) from None
        except ConflictError as e:
            raise HTTPException(409, " ".join(e.lines)) from None
        except UserError as e:
            raise HTTPException(400, " ".join(e.lines)) from None

    admin = [Depends(require_admin)]
    router = APIRouter()

    @router.post("/tenants", status_code=status.HTTP_201_CREATED, dependencies=admin)
    def create_tenant(body: TenantIn) -> repo.TenantInfo:
        return call(repo.create_tenant, db, body.id)

    @router.get("/tenants", dependencies=admin)
    def list_tenants() -> list[repo.TenantInfo]:
        return call(repo.list_tenants, db)

    @router.post("/tenants/{tenant_id}/disable", dependencies=admin)
    def disable_tenant(tenant_id: TenantId) -> repo.TenantInfo:
        call(repo.disable_tenant, db, tenant_id)
        return next(t for t in repo.list_tenants(db) if t.id == tenant_id)

    @router.post("/tenants/{tenant_id}/keys", status_code=status.HTTP_201_CREATED, dependencies=admin)
    def create_key(tenant_id: TenantId, body: KeyIn) -> NewKeyOut:
        return NewKeyOut(**asdict(call(repo.create_key, db, tenant_id, body.name)))

    @router.get("/tenants/{tenant_id}/keys", dependencies=admin)
    def list_keys(tenant_id: TenantId) -> list[repo.KeyInfo]:
        return call(repo.list_keys, db, tenant_id)

    @router.delete("/keys/{key_id}", dependencies=admin)
    def revoke_key(key_id: Annotated[str, Path(pattern=r"^key_[0-9a-f]{16}$")]) -> dict[str, Any]:
        call(repo.revoke_key, db, key_id)
        return {"key_id": key_id, "revoked": True}

    @router.get("/tenants/{tenant_id}/limits", dependencies=admin)
    def get_limits(tenant_id: TenantId) -> repo.Limits:
        return call(repo.get_limits, db, tenant_id)

    @router.put("/tenants/{tenant_id}/limits", dependencies=admin)
    def set_limits(tenant_id: TenantId, body: LimitsIn) -> repo.Limits:
        changes = {f: getattr(body, f) for f in body.model_fields_set}
        return call(repo.set_limits, db, tenant_id, **changes)

    @router.put("/prices", dependencies=admin)
    def set_price(body: PriceIn) -> PriceIn:
        call(repo.set_price, db, body.model, body.provider, body.usd_per_mtok_prompt,
             body.usd_per_mtok_completion)
        return body

    @router.get("/tenants/{tenant_id}/usage")
    def tenant_usage(
        tenant_id: TenantId, month: Month, token: Annotated[str | None, Depends(bearer)]
    ) -> UsageOut:
        """Usage and cost by model and provider: for the admin, or for a key of this very tenant."""
        if not is_admin(token):
            owner = repo.lookup_key(db, token) if token else None
            if owner is None:
                raise HTTPException(401, "send 'Authorization: Bearer <API key or admin token>'",
                                    headers={"WWW-Authenticate": "Bearer"})
            if owner[0] != tenant_id:
                raise HTTPException(403, "this API key belongs to another tenant; it can read only its own usage")
        lines = call(usage_by_model, db, tenant_id, month)
        return UsageOut(tenant_id=tenant_id, month=month, lines=lines,
                        total_cost_usd=sum(x.cost_usd for x in lines))

    return router
