"""One type for the limits of a scope (a tenant, or one key inside it): rpm, tpm, a budget with its
reset period and a soft-alert threshold; reading and writing them; budget periods as UTC days.

Limits of a key apply on top of its tenant's: a request must fit both. Values are checked here, in
one place, for the admin API and the CLI alike: whole numbers for rpm/tpm (a boolean is not a number),
finite numbers for money and fractions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, delete, select

from computemoat.store.db import Database, write_tx
from computemoat.store.errors import FieldError, NotFoundError
from computemoat.store.schema import ApiKey, LimitRow, Tenant
from computemoat.store.upsert import upsert

TOKENS_MAX = 2**31 - 1  # tokens of one request are capped here (PostgreSQL INTEGER; no model comes near)
SUM_MAX = 2**61  # stored token sums saturate here: sum + addend stays inside BIGINT (2^63 - 1)
RPM_MAX = 1_000_000_000
TPM_MAX = 2_000_000_000
BUDGET_USD_MAX = 1e12
UNSET: object = object()  # "not given", as opposed to None = "remove"


class BudgetPeriod(StrEnum):
    """When a budget starts again from zero (UTC): every day, every Monday, every 1st of the month."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


@dataclass(frozen=True, slots=True)
class Scope:
    """Whom limits and spend belong to: a tenant (``key_id`` '') or one key of that tenant."""

    tenant_id: str
    key_id: str = ""

    def describe(self) -> str:
        return f"key {self.key_id!r} of tenant {self.tenant_id!r}" if self.key_id else f"tenant {self.tenant_id!r}"


@dataclass(frozen=True, slots=True)
class Limits:
    rpm: int | None = None
    tpm: int | None = None
    budget_usd: float | None = None
    budget_period: BudgetPeriod = BudgetPeriod.MONTHLY
    alert_at_fraction: float | None = None  # a soft alert once spend reaches this share of the budget

    @property
    def rate_limited(self) -> bool:
        return self.rpm is not None or self.tpm is not None

    @property
    def empty(self) -> bool:
        return not self.rate_limited and self.budget_usd is None


NO_LIMITS = Limits()


def period_start(period: BudgetPeriod, now_unix_s: float) -> str:
    """First UTC day (``YYYY-MM-DD``) of the budget period that contains ``now_unix_s``."""
    day = datetime.fromtimestamp(now_unix_s, UTC).date()
    if period is BudgetPeriod.WEEKLY:
        day -= timedelta(days=day.weekday())
    elif period is BudgetPeriod.MONTHLY:
        day = day.replace(day=1)
    return day.isoformat()


def day_of(time_unix_s: float) -> str:
    return datetime.fromtimestamp(time_unix_s, UTC).strftime("%Y-%m-%d")


def clamp_tokens(tokens: int) -> int:
    """A request's token count as stored and counted: 0 ... ``TOKENS_MAX``."""
    return min(max(0, int(tokens)), TOKENS_MAX)


def require_tenant(conn: Connection, tenant_id: str) -> None:
    if conn.execute(select(Tenant.id).where(Tenant.id == tenant_id)).first() is None:
        raise NotFoundError(f"tenant {tenant_id!r} does not exist (see `computemoat tenants list`)")


def key_scope(conn: Connection, key_id: str) -> Scope:
    tenant = conn.execute(select(ApiKey.tenant_id).where(ApiKey.id == key_id)).scalar()
    if tenant is None:
        raise NotFoundError(f"key {key_id!r} does not exist (see `computemoat keys list --tenant T`)")
    return Scope(tenant, key_id)


def _count(field: str, value: object, maximum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise FieldError(field, f"must be a whole number from 1 to {maximum:,}, got {value!r} (omit it for no limit)")
    return value


def _finite(field: str, value: object, low: float, high: float, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not low < value <= high:
        raise FieldError(field, f"must be a finite number > {low:g} and <= {high:g} ({what}), got {value!r}")
    return float(value)


def _period(value: object) -> BudgetPeriod:
    try:
        return BudgetPeriod(str(value))
    except ValueError:
        raise FieldError("budget_period", f"must be one of {', '.join(p.value for p in BudgetPeriod)}, "
                         f"got {value!r}") from None


def _row_limits(row: Any) -> Limits:
    """A ``limits`` row (or anything with its columns as attributes) as :class:`Limits`."""
    if row is None:
        return NO_LIMITS
    return Limits(row.rpm, row.tpm, row.budget_usd, BudgetPeriod(row.budget_period), row.alert_at_fraction)


def load(conn: Connection, tenant_id: str, key_id: str = "") -> dict[Scope, Limits]:
    """The limits of the tenant and (when given) of one of its keys that have any, in one query."""
    rows = conn.execute(select(LimitRow).where(LimitRow.tenant_id == tenant_id, LimitRow.key_id.in_({"", key_id})))
    out = {Scope(r.tenant_id, r.key_id): _row_limits(r) for r in rows}
    return {s: lim for s, lim in out.items() if not lim.empty}


def get_limits(db: Database, scope: Scope) -> Limits:
    with db.engine.connect() as conn:
        require_tenant(conn, scope.tenant_id)
        if scope.key_id:
            key_scope(conn, scope.key_id)
        return load(conn, scope.tenant_id, scope.key_id).get(scope, NO_LIMITS)


def set_limits(
    db: Database, scope: Scope, *, rpm: object = UNSET, tpm: object = UNSET, budget_usd: object = UNSET,
    budget_period: object = UNSET, alert_at_fraction: object = UNSET,
) -> Limits:
    """Change the given limits of ``scope``; ``None`` removes one, ``UNSET`` leaves it as it is."""
    given = {k: v for k, v in {"rpm": rpm, "tpm": tpm, "budget_usd": budget_usd, "budget_period": budget_period,
                                "alert_at_fraction": alert_at_fraction}.items() if v is not UNSET}
    checked: dict[str, object] = {}
    if "rpm" in given:
        checked["rpm"] = _count("rpm", given["rpm"], RPM_MAX)
    if "tpm" in given:
        checked["tpm"] = _count("tpm", given["tpm"], TPM_MAX)
    if "budget_usd" in given:
        checked["budget_usd"] = _finite("budget_usd", given["budget_usd"], 0, BUDGET_USD_MAX, "USD")
    if "alert_at_fraction" in given:
        checked["alert_at_fraction"] = _finite("alert_at_fraction", given["alert_at_fraction"], 0, 1,
                                               "a share of the budget, e.g. 0.8")
    if "budget_period" in given:
        checked["budget_period"] = _period(given["budget_period"] or BudgetPeriod.MONTHLY).value
    with write_tx(db) as conn:
        require_tenant(conn, scope.tenant_id)
        if scope.key_id and key_scope(conn, scope.key_id).tenant_id != scope.tenant_id:
            raise NotFoundError(f"key {scope.key_id!r} is not a key of tenant {scope.tenant_id!r}")
        row = conn.execute(select(LimitRow).where(LimitRow.tenant_id == scope.tenant_id,
                                                  LimitRow.key_id == scope.key_id)).first()
        current = _row_limits(row)
        values = {"rpm": current.rpm, "tpm": current.tpm, "budget_usd": current.budget_usd,
                  "budget_period": current.budget_period.value, "alert_at_fraction": current.alert_at_fraction,
                  **checked}
        new = _row_limits(SimpleNamespace(**values))
        if new.empty and new.alert_at_fraction is None:
            conn.execute(delete(LimitRow).where(LimitRow.tenant_id == scope.tenant_id,
                                                LimitRow.key_id == scope.key_id))
        else:
            conn.execute(upsert(conn, LimitRow, {"tenant_id": scope.tenant_id, "key_id": scope.key_id, **values},
                                ["tenant_id", "key_id"], values))
    return new
