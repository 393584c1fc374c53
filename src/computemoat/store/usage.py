"""Reading usage back: per-month totals by model and provider (`computemoat usage`, invoices, the
tenant's own ``/admin/tenants/{id}/usage``) and spend reports grouped by key, by UTC day or by the
request tag."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select

from computemoat.store.db import Database
from computemoat.store.errors import FieldError
from computemoat.store.limits import require_tenant
from computemoat.store.schema import UsageRecordRow

_MONTH_RE = re.compile(r"^([1-9][0-9]{3})-(0[1-9]|1[0-2])$")


class ReportBy(StrEnum):
    MODEL = "model"  # model and provider
    KEY = "key"
    DAY = "day"  # UTC day
    TAG = "tag"  # the request's tag (OpenAI ``user`` field); '' = untagged


@dataclass(frozen=True, slots=True)
class UsageLine:
    model: str
    provider: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


@dataclass(frozen=True, slots=True)
class SpendLine:
    group: str  # the key id, day (YYYY-MM-DD) or tag this line sums
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


def month_bounds_unix_s(month: str) -> tuple[float, float]:
    """``"2026-11"`` -> [start, end) of that UTC month in UNIX seconds."""
    m = _MONTH_RE.fullmatch(month)
    if not m:
        raise FieldError("month", f"{month!r} is not a month (use YYYY-MM, e.g. 2026-11)")
    year, mon = int(m.group(1)), int(m.group(2))
    start = datetime(year, mon, 1, tzinfo=UTC)
    if year == 9999 and mon == 12:
        return start.timestamp(), float("inf")
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=UTC)
    return start.timestamp(), end.timestamp()


def _sums() -> tuple[Any, ...]:
    u = UsageRecordRow
    return func.count(), func.sum(u.prompt_tokens), func.sum(u.completion_tokens), func.sum(u.cost_usd)


def usage_by_model(db: Database, tenant_id: str, month: str) -> list[UsageLine]:
    """Requests, tokens and cost of ``tenant_id`` in ``month`` by model and provider (NotFoundError
    for a tenant that does not exist: an empty bill must not look like a real one)."""
    start, end = month_bounds_unix_s(month)
    u = UsageRecordRow
    stmt = (
        select(u.model, u.provider, *_sums())
        .where(u.tenant_id == tenant_id, u.time_unix_s >= start, u.time_unix_s < end)
        .group_by(u.model, u.provider)
        .order_by(u.model, u.provider)
    )
    with db.engine.connect() as conn:
        require_tenant(conn, tenant_id)
        rows = conn.execute(stmt).all()
    return [UsageLine(r[0], r[1], int(r[2]), int(r[3] or 0), int(r[4] or 0), float(r[5] or 0.0)) for r in rows]


def spend_report(db: Database, tenant_id: str, month: str, by: ReportBy) -> list[SpendLine]:
    """Requests, tokens and cost of ``tenant_id`` in ``month`` by key, UTC day or tag."""
    if by is ReportBy.MODEL:
        return [SpendLine(f"{x.model} / {x.provider}", x.requests, x.prompt_tokens, x.completion_tokens, x.cost_usd)
                for x in usage_by_model(db, tenant_id, month)]
    start, end = month_bounds_unix_s(month)
    u = UsageRecordRow
    with db.engine.connect() as conn:
        require_tenant(conn, tenant_id)
        group: Any
        if by is ReportBy.KEY:
            group = u.key_id
        elif by is ReportBy.TAG:
            group = u.tag
        elif conn.dialect.name == "sqlite":
            group = func.strftime("%Y-%m-%d", u.time_unix_s, "unixepoch")
        else:
            group = func.to_char(func.timezone("UTC", func.to_timestamp(u.time_unix_s)), "YYYY-MM-DD")
        rows = conn.execute(
            select(group.label("g"), *_sums())
            .where(u.tenant_id == tenant_id, u.time_unix_s >= start, u.time_unix_s < end)
            .group_by(group).order_by(group)
        ).all()
    return [SpendLine(str(r[0]), int(r[1]), int(r[2] or 0), int(r[3] or 0), float(r[4] or 0.0)) for r in rows]


def stored_request_ids(db: Database, request_ids: list[str]) -> set[str]:
    """Which of ``request_ids`` have a usage record (used to audit durability)."""
    found: set[str] = set()
    with db.engine.connect() as conn:
        for i in range(0, len(request_ids), 500):
            chunk = request_ids[i : i + 500]
            found.update(conn.execute(
                select(UsageRecordRow.request_id).where(UsageRecordRow.request_id.in_(chunk))
            ).scalars())
    return found
