"""Limits and budgets per key as well as per tenant, budget periods, soft alerts (issue 15, "expected
of an LLM gateway"). Oracles: closed-form counts (a request must fit both its key's and its tenant's
limits) and the calendar (2026-12-01 is a Tuesday)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from computemoat.model.errors import UserError
from computemoat.model.usage import UsageRecord
from computemoat.store import repo
from computemoat.store.commit import commit_rows
from computemoat.store.errors import NotFoundError
from computemoat.store.limits import BudgetPeriod, Limits, Scope, get_limits, period_start, set_limits
from computemoat.store.ratelimit import acquire, admit


def _t(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_period_starts_follow_the_utc_calendar():
    tue = _t("2026-12-01T23:59:59")
    assert period_start(BudgetPeriod.DAILY, tue) == "2026-12-01"
    assert period_start(BudgetPeriod.WEEKLY, tue) == "2026-11-30"  # the Monday before
    assert period_start(BudgetPeriod.MONTHLY, tue) == "2026-12-01"
    assert period_start(BudgetPeriod.WEEKLY, _t("2027-01-03T12:00:00")) == "2026-12-28"  # across a year
    assert period_start(BudgetPeriod.MONTHLY, _t("2026-11-30T00:00:00")) == "2026-11-01"


def test_a_request_must_fit_its_keys_limit_and_its_tenants(db):
    repo.create_tenant(db, "acme")
    k1, k2 = repo.create_key(db, "acme"), repo.create_key(db, "acme")
    set_limits(db, Scope("acme"), rpm=3)
    set_limits(db, Scope("acme", k1.key_id), rpm=2)
    t = _t("2026-12-01T10:00:00")
    k1_answers = [admit(db, "acme", 0, t + i / 10, key_id=k1.key_id).status for i in range(3)]
    assert k1_answers == [200, 200, 429]  # the key's own rpm=2
    k2_answers = [admit(db, "acme", 0, t + 0.5 + i / 10, key_id=k2.key_id).status for i in range(2)]
    assert k2_answers == [200, 429]  # the tenant's rpm=3: 2 + 1
    refused = admit(db, "acme", 0, t + 0.9, key_id=k1.key_id)
    assert f"key {k1.key_id!r}" in refused.message or "tenant 'acme'" in refused.message


def test_a_refused_scope_reserves_nothing_in_the_other(db):
    repo.create_tenant(db, "acme")
    k1 = repo.create_key(db, "acme")
    set_limits(db, Scope("acme"), rpm=2)
    set_limits(db, Scope("acme", k1.key_id), rpm=1)
    t = _t("2026-12-01T10:00:00")
    assert admit(db, "acme", 0, t, key_id=k1.key_id).status == 200
    for i in range(5):  # refused by the key: must not eat the tenant's second request
        assert admit(db, "acme", 0, t + 0.1 + i / 100, key_id=k1.key_id).status == 429
    assert admit(db, "acme", 0, t + 0.2).status == 200


def _spend(db, tenant: str, key: str, usd_cents: int, when: float, rid: str) -> None:  # type: ignore[no-untyped-def]
    # price 1 USD per million prompt tokens: 10_000 tokens = 1 cent
    commit_rows(db, [UsageRecord(tenant, key, "m", "p", "s", "b", 10_000 * usd_cents, 0, 1.0, 200, False, when, rid)])


def test_daily_budget_resets_at_utc_midnight_and_key_budgets_are_their_own(db):
    repo.create_tenant(db, "acme")
    k1, k2 = repo.create_key(db, "acme"), repo.create_key(db, "acme")
    repo.set_price(db, "m", "*", 1.0, 0.0)
    set_limits(db, Scope("acme", k1.key_id), budget_usd=0.05, budget_period="daily")
    day1 = _t("2026-12-01T08:00:00")
    _spend(db, "acme", k1.key_id, 5, day1, "r1")
    refused = admit(db, "acme", 0, day1 + 60, key_id=k1.key_id)
    assert refused.status == 402 and "daily budget of $0.05" in refused.message
    assert admit(db, "acme", 0, day1 + 60, key_id=k2.key_id).status == 200  # another key: no budget
    assert admit(db, "acme", 0, _t("2026-12-02T00:00:00"), key_id=k1.key_id).status == 200  # a new day


def test_weekly_tenant_budget_sums_every_key_since_monday(db):
    repo.create_tenant(db, "acme")
    k1, k2 = repo.create_key(db, "acme"), repo.create_key(db, "acme")
    repo.set_price(db, "m", "*", 1.0, 0.0)
    set_limits(db, Scope("acme"), budget_usd=0.10, budget_period=BudgetPeriod.WEEKLY)
    _spend(db, "acme", k1.key_id, 6, _t("2026-11-29T12:00:00"), "sunday")  # the week before
    _spend(db, "acme", k1.key_id, 6, _t("2026-11-30T12:00:00"), "monday")
    tuesday = _t("2026-12-01T12:00:00")
    assert admit(db, "acme", 0, tuesday, key_id=k2.key_id).status == 200  # 6 of 10 cents this week
    _spend(db, "acme", k2.key_id, 4, tuesday, "tuesday")
    assert admit(db, "acme", 0, tuesday + 1, key_id=k2.key_id).status == 402  # 6 + 4 by two keys
    assert admit(db, "acme", 0, _t("2026-12-07T00:00:01"), key_id=k1.key_id).status == 200  # next Monday


def test_soft_alert_fires_once_per_period_across_processes(db):
    repo.create_tenant(db, "acme")
    repo.set_price(db, "m", "*", 1.0, 0.0)
    set_limits(db, Scope("acme"), budget_usd=0.10, alert_at_fraction=0.8)
    t = _t("2026-12-01T12:00:00")
    _spend(db, "acme", "k", 7, t, "a")
    assert acquire(db, "acme", "", 0, {}, t + 1).alerts == ()  # 70 % < 80 %
    _spend(db, "acme", "k", 1, t + 2, "b")
    (alert,) = acquire(db, "acme", "", 0, {}, t + 3).alerts  # 80 %: the first transaction to see it
    assert alert.scope == Scope("acme") and alert.spent_usd == pytest.approx(0.08)
    assert alert.budget_usd == 0.10 and alert.period_start == "2026-12-01"
    assert acquire(db, "acme", "", 0, {}, t + 4).alerts == ()  # another process: already sent
    _spend(db, "acme", "k", 8, _t("2027-01-01T00:00:00"), "c")
    assert len(acquire(db, "acme", "", 0, {}, _t("2027-01-01T00:00:01")).alerts) == 1  # a new month


def test_limits_of_a_key_are_checked_and_belong_to_its_tenant(db):
    repo.create_tenant(db, "acme")
    repo.create_tenant(db, "globex")
    k = repo.create_key(db, "acme")
    assert set_limits(db, Scope("acme", k.key_id), tpm=500) == Limits(None, 500)
    assert get_limits(db, Scope("acme", k.key_id)) == Limits(None, 500)
    assert get_limits(db, Scope("acme")) == Limits()
    with pytest.raises(NotFoundError, match="is not a key of tenant 'globex'"):
        set_limits(db, Scope("globex", k.key_id), rpm=1)
    for field, value in (("rpm", True), ("rpm", 1.5), ("tpm", float("inf")), ("budget_usd", float("nan")),
                         ("budget_usd", float("inf")), ("alert_at_fraction", 1.5), ("budget_period", "yearly")):
        with pytest.raises(UserError, match=field):
            set_limits(db, Scope("acme"), **{field: value})
