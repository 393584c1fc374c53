"""Repository functions for tenants, keys, limits, budgets and prices (synchronous; the gateway calls
them from a worker thread, the CLI directly). Bad input raises ``UserError`` naming the field."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from computemoat.model.errors import UserError
from computemoat.store import keys
from computemoat.store.db import Database, write_tx
from computemoat.store.errors import ConflictError, NotFoundError
from computemoat.store.schema import ApiKey, Budget, Price, RateLimit, Tenant
from computemoat.store.upsert import upsert

TENANT_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
TENANT_ID_HINT = "1-64 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
UNSET: object = object()  # "not given", as opposed to None = "remove"


@dataclass(frozen=True, slots=True)
class TenantInfo:
    id: str
    created_unix_s: float
    disabled: bool
    rpm: int | None
    tpm: int | None
    monthly_budget_usd: float | None
    active_keys: int


@dataclass(frozen=True, slots=True)
class KeyInfo:
    key_id: str
    tenant_id: str
    prefix: str
    name: str
    created_unix_s: float
    revoked: bool


@dataclass(frozen=True, slots=True)
class NewKey:
    key_id: str
    tenant_id: str
    api_key: str  # shown once, never stored
    prefix: str


@dataclass(frozen=True, slots=True)
class Limits:
    rpm: int | None = None
    tpm: int | None = None
    monthly_budget_usd: float | None = None


def check_tenant_id(tenant_id: str) -> str:
    if not TENANT_ID_RE.fullmatch(tenant_id):
        raise UserError(f"tenant id {tenant_id!r} is invalid ({TENANT_ID_HINT})")
    return tenant_id


def create_tenant(db: Database, tenant_id: str) -> TenantInfo:
    check_tenant_id(tenant_id)
    now = time.time()
    try:
        with write_tx(db) as conn:
            conn.execute(Tenant.__table__.insert().values(id=tenant_id, created_unix_s=now))
    except IntegrityError:
        raise ConflictError(f"tenant {tenant_id!r} already exists (pick another id)") from None
    return TenantInfo(tenant_id, now, False, None, None, None, 0)


def list_tenants(db: Database) -> list[TenantInfo]:
    with db.engine.connect() as conn:
        tenants = conn.execute(select(Tenant).order_by(Tenant.id)).all()
        limits = {r.tenant_id: r for r in conn.execute(select(RateLimit)).all()}
        budgets = {r.tenant_id: r.monthly_usd for r in conn.execute(select(Budget)).all()}
        key_rows = conn.execute(select(ApiKey.tenant_id).where(ApiKey.revoked_unix_s.is_(None))).all()
    counts: dict[str, int] = {}
    for (tid,) in key_rows:
        counts[tid] = counts.get(tid, 0) + 1
    out = []
    for t in tenants:
        lim = limits.get(t.id)
        out.append(
            TenantInfo(
                t.id, t.created_unix_s, t.disabled_unix_s is not None,
                lim.rpm if lim else None, lim.tpm if lim else None,
                budgets.get(t.id), counts.get(t.id, 0),
            )
        )
    return out


def _require_tenant(conn, tenant_id: str) -> None:  # type: ignore[no-untyped-def]
    if conn.execute(select(Tenant.id).where(Tenant.id == tenant_id)).first() is None:
        raise NotFoundError(f"tenant {tenant_id!r} does not exist (see `computemoat tenants list`)")


def disable_tenant(db: Database, tenant_id: str) -> None:
    """Disabled tenants' keys stop authenticating (within the gateway's cache TTL); usage is kept."""
    with write_tx(db) as conn:
        _require_tenant(conn, tenant_id)
        conn.execute(
            update(Tenant)
            .where(Tenant.id == tenant_id, Tenant.disabled_unix_s.is_(None))
            .values(disabled_unix_s=time.time())
        )


def create_key(db: Database, tenant_id: str, name: str = "") -> NewKey:
    if len(name) > 64:
        raise UserError(f"key name is {len(name)} characters long (at most 64)")
    api_key = keys.new_key()
    key_id = keys.new_id("key")
    with write_tx(db) as conn:
        _require_tenant(conn, tenant_id)
        conn.execute(
            ApiKey.__table__.insert().values(
                id=key_id, tenant_id=tenant_id, key_sha256=keys.hash_key(api_key),
                prefix=keys.display_prefix(api_key), name=name, created_unix_s=time.time(),
            )
        )
    return NewKey(key_id, tenant_id, api_key, keys.display_prefix(api_key))


def list_keys(db: Database, tenant_id: str) -> list[KeyInfo]:
    with db.engine.connect() as conn:
        _require_tenant(conn, tenant_id)
        rows = conn.execute(
            select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.created_unix_s)
        ).all()
    return [
        KeyInfo(r.id, r.tenant_id, r.prefix, r.name, r.created_unix_s, r.revoked_unix_s is not None)
        for r in rows
    ]


def revoke_key(db: Database, key_id: str) -> None:
    with write_tx(db) as conn:
        found = conn.execute(select(ApiKey.id).where(ApiKey.id == key_id)).first()
        if found is None:
            raise NotFoundError(f"key {key_id!r} does not exist (see `computemoat keys list --tenant T`)")
        conn.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.revoked_unix_s.is_(None))
            .values(revoked_unix_s=time.time())
        )


def lookup_key(db: Database, api_key: str) -> tuple[str, str] | None:
    """``(tenant_id, key_id)`` for a live key of an enabled tenant, else None."""
    stmt = (
        select(ApiKey.tenant_id, ApiKey.id)
        .join(Tenant, Tenant.id == ApiKey.tenant_id)
        .where(
            ApiKey.key_sha256 == keys.hash_key(api_key),
            ApiKey.revoked_unix_s.is_(None),
            Tenant.disabled_unix_s.is_(None),
        )
    )
    with db.engine.connect() as conn:
        row = conn.execute(stmt).first()
    return (row[0], row[1]) if row else None


def _check_positive(field: str, value: object, maximum: float) -> None:
    if value is UNSET or value is None:
        return
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= maximum:
        raise UserError(f"{field} must be a number > 0 and <= {maximum:g}, got {value!r} (omit it for no limit)")


def set_limits(
    db: Database, tenant_id: str, *, rpm: object = UNSET, tpm: object = UNSET,
    monthly_budget_usd: object = UNSET,
) -> Limits:
    """Change the given limits; ``None`` removes one, ``UNSET`` leaves it as it is."""
    _check_positive("rpm", rpm, 1e9)
    _check_positive("tpm", tpm, 2e9)
    _check_positive("monthly_budget_usd", monthly_budget_usd, 1e12)
    with write_tx(db) as conn:
        _require_tenant(conn, tenant_id)
        cur = conn.execute(select(RateLimit).where(RateLimit.tenant_id == tenant_id)).first()
        new_rpm = (cur.rpm if cur else None) if rpm is UNSET else rpm
        new_tpm = (cur.tpm if cur else None) if tpm is UNSET else tpm
        conn.execute(delete(RateLimit).where(RateLimit.tenant_id == tenant_id))
        if new_rpm is not None or new_tpm is not None:
            conn.execute(RateLimit.__table__.insert().values(tenant_id=tenant_id, rpm=new_rpm, tpm=new_tpm))
        if monthly_budget_usd is None:
            conn.execute(delete(Budget).where(Budget.tenant_id == tenant_id))
        elif monthly_budget_usd is not UNSET:
            conn.execute(
                upsert(conn, Budget, {"tenant_id": tenant_id, "monthly_usd": float(monthly_budget_usd)},
                       ["tenant_id"], {"monthly_usd": float(monthly_budget_usd)})  # type: ignore[arg-type]
            )
    return get_limits(db, tenant_id)


def get_limits(db: Database, tenant_id: str) -> Limits:
    with db.engine.connect() as conn:
        _require_tenant(conn, tenant_id)
        lim = conn.execute(select(RateLimit).where(RateLimit.tenant_id == tenant_id)).first()
        bud = conn.execute(select(Budget.monthly_usd).where(Budget.tenant_id == tenant_id)).scalar()
    return Limits(lim.rpm if lim else None, lim.tpm if lim else None, bud)


def set_price(
    db: Database, model: str, provider: str, usd_per_mtok_prompt: float, usd_per_mtok_completion: float
) -> None:
    """Price per million tokens; ``provider='*'`` prices the model on any provider without its own row."""
    for field, value in (("usd_per_mtok_prompt", usd_per_mtok_prompt),
                         ("usd_per_mtok_completion", usd_per_mtok_completion)):
        if not 0 <= value < 1e6:
            raise UserError(f"{field} must be >= 0 and < 1e6 USD per million tokens, got {value!r}")
    if not model or not provider:
        raise UserError("price needs a model and a provider ('*' for any provider)")
    values = {"model": model, "provider": provider, "usd_per_mtok_prompt": usd_per_mtok_prompt,
              "usd_per_mtok_completion": usd_per_mtok_completion}
    with write_tx(db) as conn:
        conn.execute(upsert(conn, Price, values, ["model", "provider"],
                            {k: v for k, v in values.items() if k.startswith("usd")}))


def list_prices(db: Database) -> list[tuple[str, str, float, float]]:
    with db.engine.connect() as conn:
        rows = conn.execute(select(Price).order_by(Price.model, Price.provider)).all()
    return [(r.model, r.provider, r.usd_per_mtok_prompt, r.usd_per_mtok_completion) for r in rows]
