"""Repository functions for tenants, keys (with their model allow-lists) and prices (synchronous; the
gateway calls them from a worker thread, the CLI directly). Limits live in ``store.limits``. Bad input
raises ``UserError`` naming the field."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from computemoat.model.errors import UserError
from computemoat.store import keys
from computemoat.store.db import Database, write_tx
from computemoat.store.errors import ConflictError, FieldError, NotFoundError
from computemoat.store.limits import NO_LIMITS, Limits, Scope, key_scope, load, require_tenant
from computemoat.store.schema import ApiKey, LimitRow, Price, Tenant
from computemoat.store.upsert import upsert

TENANT_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
TENANT_ID_HINT = "1-64 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
PRICE_MAX = 1e6  # USD per million tokens
MODELS_MAX = 256  # names in one key's allow-list


@dataclass(frozen=True, slots=True)
class TenantInfo:
    id: str
    created_unix_s: float
    disabled: bool
    limits: Limits
    active_keys: int


@dataclass(frozen=True, slots=True)
class KeyInfo:
    key_id: str
    tenant_id: str
    prefix: str
    name: str
    created_unix_s: float
    revoked: bool
    allowed_models: list[str] | None  # None: every model
    limits: Limits


@dataclass(frozen=True, slots=True)
class NewKey:
    key_id: str
    tenant_id: str
    api_key: str  # shown once, never stored
    prefix: str
    allowed_models: list[str] | None


@dataclass(frozen=True, slots=True)
class KeyMatch:
    """A live key of an enabled tenant, as the gateway needs it on every request."""

    tenant_id: str
    key_id: str
    allowed_models: frozenset[str] | None  # None: every model


def check_tenant_id(tenant_id: str) -> str:
    if not TENANT_ID_RE.fullmatch(tenant_id):
        raise UserError(f"tenant id {tenant_id!r} is invalid ({TENANT_ID_HINT})")
    return tenant_id


def create_tenant(db: Database, tenant_id: str) -> TenantInfo:
    check_tenant_id(tenant_id)
    now = time.time()
    try:
        with write_tx(db) as conn:
            conn.execute(insert(Tenant).values(id=tenant_id, created_unix_s=now))
    except IntegrityError:
        raise ConflictError(f"tenant {tenant_id!r} already exists (pick another id)") from None
    return TenantInfo(tenant_id, now, False, NO_LIMITS, 0)


def list_tenants(db: Database) -> list[TenantInfo]:
    with db.engine.connect() as conn:
        tenants = conn.execute(select(Tenant).order_by(Tenant.id)).all()
        limits = {r.tenant_id: load(conn, r.tenant_id).get(Scope(r.tenant_id), NO_LIMITS)
                  for r in conn.execute(select(LimitRow.tenant_id).where(LimitRow.key_id == "")).all()}
        key_rows = conn.execute(select(ApiKey.tenant_id).where(ApiKey.revoked_unix_s.is_(None))).all()
    counts: dict[str, int] = {}
    for (tid,) in key_rows:
        counts[tid] = counts.get(tid, 0) + 1
    return [TenantInfo(t.id, t.created_unix_s, t.disabled_unix_s is not None, limits.get(t.id, NO_LIMITS),
                       counts.get(t.id, 0)) for t in tenants]


def get_tenant(db: Database, tenant_id: str) -> TenantInfo:
    for t in list_tenants(db):
        if t.id == tenant_id:
            return t
    raise NotFoundError(f"tenant {tenant_id!r} does not exist (see `computemoat tenants list`)")


def disable_tenant(db: Database, tenant_id: str) -> None:
    """Disabled tenants' keys stop authenticating (within the gateway's cache TTL); usage is kept."""
    with write_tx(db) as conn:
        require_tenant(conn, tenant_id)
        conn.execute(
            update(Tenant)
            .where(Tenant.id == tenant_id, Tenant.disabled_unix_s.is_(None))
            .values(disabled_unix_s=time.time())
        )


def _check_models(models: object) -> list[str] | None:
    if models is None:
        return None
    if not isinstance(models, list | tuple) or len(models) > MODELS_MAX or not all(
        isinstance(m, str) and 0 < len(m) <= 128 for m in models
    ):
        raise FieldError("allowed_models", f"must be a list of at most {MODELS_MAX} model names of 1-128 "
                         f"characters (or null for every model), got {models!r}")
    return sorted(set(models))


def create_key(db: Database, tenant_id: str, name: str = "", allowed_models: object = None) -> NewKey:
    """A new key of ``tenant_id``; ``allowed_models`` (a list) restricts the models it may call."""
    if len(name) > 64:
        raise FieldError("name", f"is {len(name)} characters long (at most 64)")
    models = _check_models(allowed_models)
    api_key = keys.new_key()
    key_id = keys.new_id("key")
    with write_tx(db) as conn:
        require_tenant(conn, tenant_id)
        conn.execute(
            insert(ApiKey).values(
                id=key_id, tenant_id=tenant_id, key_sha256=keys.hash_key(api_key),
                prefix=keys.display_prefix(api_key), name=name, created_unix_s=time.time(),
                allowed_models=None if models is None else json.dumps(models),
            )
        )
    return NewKey(key_id, tenant_id, api_key, keys.display_prefix(api_key), models)


def set_allowed_models(db: Database, key_id: str, allowed_models: object) -> KeyInfo:
    """Restrict key ``key_id`` to ``allowed_models`` (None: every model again)."""
    models = _check_models(allowed_models)
    with write_tx(db) as conn:
        scope = key_scope(conn, key_id)
        conn.execute(update(ApiKey).where(ApiKey.id == key_id)
                     .values(allowed_models=None if models is None else json.dumps(models)))
    return next(k for k in list_keys(db, scope.tenant_id) if k.key_id == key_id)


def _models(text: str | None) -> list[str] | None:
    return None if text is None else list(json.loads(text))


def list_keys(db: Database, tenant_id: str) -> list[KeyInfo]:
    with db.engine.connect() as conn:
        require_tenant(conn, tenant_id)
        rows = conn.execute(
            select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.created_unix_s)
        ).all()
        limits = load_key_limits(conn, tenant_id)
    return [
        KeyInfo(r.id, r.tenant_id, r.prefix, r.name, r.created_unix_s, r.revoked_unix_s is not None,
                _models(r.allowed_models), limits.get(r.id, NO_LIMITS))
        for r in rows
    ]


def load_key_limits(conn: Connection, tenant_id: str) -> dict[str, Limits]:
    rows = conn.execute(select(LimitRow.key_id).where(LimitRow.tenant_id == tenant_id, LimitRow.key_id != "")).all()
    out: dict[str, Limits] = {}
    for (key_id,) in rows:
        out[key_id] = load(conn, tenant_id, key_id).get(Scope(tenant_id, key_id), NO_LIMITS)
    return out


def revoke_key(db: Database, key_id: str) -> None:
    with write_tx(db) as conn:
        key_scope(conn, key_id)
        conn.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.revoked_unix_s.is_(None))
            .values(revoked_unix_s=time.time())
        )


def lookup_key(db: Database, api_key: str) -> KeyMatch | None:
    """The live key ``api_key`` of an enabled tenant, else None."""
    stmt = (
        select(ApiKey.tenant_id, ApiKey.id, ApiKey.allowed_models)
        .join(Tenant, Tenant.id == ApiKey.tenant_id)
        .where(
            ApiKey.key_sha256 == keys.hash_key(api_key),
            ApiKey.revoked_unix_s.is_(None),
            Tenant.disabled_unix_s.is_(None),
        )
    )
    with db.engine.connect() as conn:
        row = conn.execute(stmt).first()
    if row is None:
        return None
    models = _models(row[2])
    return KeyMatch(row[0], row[1], None if models is None else frozenset(models))


def set_price(
    db: Database, model: str, provider: str, usd_per_mtok_prompt: float, usd_per_mtok_completion: float
) -> None:
    """Price per million tokens; ``provider='*'`` prices the model on any provider without its own row."""
    for field, value in (("usd_per_mtok_prompt", usd_per_mtok_prompt),
                         ("usd_per_mtok_completion", usd_per_mtok_completion)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < PRICE_MAX:
            raise FieldError(field, f"must be a finite number >= 0 and < {PRICE_MAX:g} USD per million tokens, "
                             f"got {value!r}")
    if not model or not provider:
        raise UserError("price needs a model and a provider ('*' for any provider)")
    values = {"model": model, "provider": provider, "usd_per_mtok_prompt": float(usd_per_mtok_prompt),
              "usd_per_mtok_completion": float(usd_per_mtok_completion)}
    with write_tx(db) as conn:
        conn.execute(upsert(conn, Price, values, ["model", "provider"],
                            {k: v for k, v in values.items() if k.startswith("usd")}))
