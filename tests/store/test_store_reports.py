"""Spend reports by key, by UTC day and by request tag. Oracle: the same sums computed in Python from
the rows that were written."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import pytest

from computemoat.model.usage import UsageRecord
from computemoat.store import repo
from computemoat.store.commit import commit_rows
from computemoat.store.errors import NotFoundError
from computemoat.store.usage import ReportBy, spend_report


def test_spend_by_key_day_and_tag_matches_the_rows(db):
    repo.create_tenant(db, "acme")
    repo.create_tenant(db, "globex")
    repo.set_price(db, "m", "*", 2.0, 4.0)
    start = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
    rows = [
        UsageRecord("acme", f"key_{i % 3}", "m", "p", "s", "b", 100 * (i + 1), 10 * i, 1.0, 200, False,
                    start + i * 7 * 3600.0, f"r{i}", tag=["", "team-a", "équipe-b"][i % 2 + (i % 5 == 0)])
        for i in range(20)
    ]
    rows.append(UsageRecord("globex", "key_9", "m", "p", "s", "b", 1, 1, 1.0, 200, False, start, "g"))
    rows.append(UsageRecord("acme", "key_0", "m", "p", "s", "b", 1, 1, 1.0, 200, False, start - 1, "nov"))
    commit_rows(db, rows)
    december = [r for r in rows if r.tenant_id == "acme" and r.time_unix_s >= start]
    for by, group_of in (
        (ReportBy.KEY, lambda r: r.key_id),
        (ReportBy.DAY, lambda r: datetime.fromtimestamp(r.time_unix_s, UTC).strftime("%Y-%m-%d")),
        (ReportBy.TAG, lambda r: r.tag),
    ):
        want: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0, 0.0])
        for r in december:
            w = want[group_of(r)]
            w[0] += 1
            w[1] += r.prompt_tokens
            w[2] += r.completion_tokens
            w[3] += (2.0 * r.prompt_tokens + 4.0 * r.completion_tokens) / 1e6
        got = spend_report(db, "acme", "2026-12", by)
        assert [x.group for x in got] == sorted(want), by
        for x in got:
            assert [x.requests, x.prompt_tokens, x.completion_tokens] == want[x.group][:3], (by, x)
            assert x.cost_usd == pytest.approx(want[x.group][3]), (by, x)
    assert len(spend_report(db, "acme", "2026-12", ReportBy.DAY)) == 6  # 20 rows, 7 h apart, from midnight


def test_reports_for_a_tenant_that_does_not_exist_are_an_error_not_an_empty_bill(db):
    for by in ReportBy:
        with pytest.raises(NotFoundError, match="tenant 'nobody' does not exist"):
            spend_report(db, "nobody", "2026-12", by)
