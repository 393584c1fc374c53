"""Reading usage back: per-month totals by model and provider, for `computemoat usage`, invoices and
the tenant's own ``/v1/usage``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select

from computemoat.model.errors import UserError
from computemoat.store.db import Database
from computemoat.store.schema import UsageRecordRow

_MONTH_RE = re.compile(r"^([1-9][0-9]{3})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True, slots=True)
class UsageLine:
    model: str
    provider: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


def month_bounds_unix_s(month: str) -> tuple[float, float]:
    """``"2026-11"`` -> [start, end) of that UTC month in UNIX seconds."""
    m = _MONTH_RE.fullmatch(month)
    if not m:
        raise UserError(f"--month {month!r} is not a month (use YYYY-MM, e.g. 2026-11)")
    year, mon = int(m.group(1)), int(m.group(2))
    start = datetime(year, mon, 1, tzinfo=UTC)
    if year == 9999 and mon == 12:
        return start.timestamp(), float("inf")
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=UTC)
    return start.timestamp(), end.timestamp()


def usage_by_model(db: Database, tenant_id: str, month: str) -> list[UsageLine]:
    start, end = month_bounds_unix_s(month)
    u = UsageRecordRow
    stmt = (
        select(u.model, u.provider, func.count(), func.sum(u.prompt_tokens), func.sum(u.completion_tokens),
               func.sum(u.cost_usd))
        .where(u.tenant_id == tenant_id, u.time_unix_s >= start, u.time_unix_s < end)
        .group_by(u.model, u.provider)
        .order_by(u.model, u.provider)
    )
    with db.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [UsageLine(r[0], r[1], int(r[2]), int(r[3] or 0), int(r[4] or 0), float(r[5] or 0.0)) for r in rows]


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
