"""Upgrading a database of the previous revision (0001) keeps its limits, budgets and spend (issue 15:
schema changes come with an Alembic migration, tested from the previous revision on both databases).
Oracle: the values written through 0001's own tables, and the spend recomputed from the usage rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from computemoat.store import open_database
from computemoat.store.db import downgrade, upgrade
from computemoat.store.limits import BudgetPeriod, Limits, Scope, get_limits
from computemoat.store.ratelimit import admit
from computemoat.store.usage import ReportBy, spend_report, usage_by_model

NOV_30 = datetime(2026, 11, 30, 12, tzinfo=UTC).timestamp()
DEC_01 = datetime(2026, 12, 1, 12, tzinfo=UTC).timestamp()
_ROW = ("INSERT INTO usage_records (request_id, tenant_id, key_id, model, provider, site, backend, "
        "prompt_tokens, completion_tokens, latency_ms, status, streamed, time_unix_s, cost_usd) "
        "VALUES (:r, 'acme', :k, 'm', 'p', 's', 'b', 10, 5, 1.0, 200, :f, :t, :c)")


def test_upgrade_from_0001_keeps_limits_budgets_and_spend(db_url):
    db = open_database(db_url, migrate=False)
    try:
        upgrade(db, "0001")
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO tenants (id, created_unix_s) VALUES ('acme', 0), ('free', 0)"))
            conn.execute(text("INSERT INTO api_keys (id, tenant_id, key_sha256, prefix, name, created_unix_s) "
                              "VALUES ('key_1', 'acme', 'h1', 'cm-x', '', 0)"))
            conn.execute(text("INSERT INTO rate_limits (tenant_id, rpm, tpm) VALUES ('acme', 100, 5000)"))
            conn.execute(text("INSERT INTO budgets (tenant_id, monthly_usd) VALUES ('acme', 0.5)"))
            for i, (t, cost) in enumerate([(NOV_30, 0.25), (DEC_01, 0.125), (DEC_01 + 60, 0.375)]):
                conn.execute(text(_ROW), {"r": f"r{i}", "k": "key_1", "f": False, "t": t, "c": cost})
            conn.execute(text("INSERT INTO monthly_spend (tenant_id, month, usd, requests) VALUES "
                              "('acme', '2026-11', 0.25, 1), ('acme', '2026-12', 0.5, 2)"))
        upgrade(db)
        assert get_limits(db, Scope("acme")) == Limits(100, 5000, 0.5, BudgetPeriod.MONTHLY)
        assert get_limits(db, Scope("free")) == Limits()
        by_day = spend_report(db, "acme", "2026-12", ReportBy.DAY)
        assert [(x.group, x.requests, x.cost_usd) for x in by_day] == [("2026-12-01", 2, 0.5)]
        assert [x.group for x in spend_report(db, "acme", "2026-12", ReportBy.TAG)] == [""]  # old rows: untagged
        # the December budget is used up by the migrated spend (0.125 + 0.375), per tenant and per key
        refused = admit(db, "acme", 0, DEC_01 + 120, key_id="key_1")
        assert refused.status == 402 and "$0.50 spent" in refused.message
        with db.engine.connect() as conn:
            per_key = conn.execute(text("SELECT SUM(usd) FROM daily_spend WHERE key_id = 'key_1'")).scalar()
        assert per_key == pytest.approx(0.75)
        downgrade(db, "0001")  # and back: 0001's tables hold the tenant's values again
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT rpm, tpm FROM rate_limits")).one() == (100, 5000)
            assert conn.execute(text("SELECT monthly_usd FROM budgets")).scalar() == 0.5
            months = conn.execute(text("SELECT month, usd FROM monthly_spend ORDER BY month")).all()
        assert [(m, pytest.approx(u)) for m, u in months] == [("2026-11", 0.25), ("2026-12", 0.5)]
        upgrade(db)
        assert [x.requests for x in usage_by_model(db, "acme", "2026-11")] == [1]
    finally:
        db.dispose()
