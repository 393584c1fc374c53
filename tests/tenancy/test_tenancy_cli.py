"""The tenant commands against a real SQLite file (the CLI talks to the store, no gateway needed)."""

from __future__ import annotations

import csv
import io
import json

from typer.testing import CliRunner

from computemoat.cli import app
from computemoat.model.usage import UsageRecord
from computemoat.store import open_database, repo
from computemoat.store.commit import commit_rows
from computemoat.store.limits import BudgetPeriod, Limits, Scope, get_limits
from computemoat.store.usage import month_bounds_unix_s


def test_tenant_lifecycle_usage_and_invoice(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("COMPUTEMOAT_DATABASE_URL", url)
    run = CliRunner().invoke
    assert run(app, ["tenants", "create", "acme"]).exit_code == 0
    created = run(app, ["keys", "create", "--tenant", "acme"])
    api_key = created.output.strip().splitlines()[-1]
    assert created.exit_code == 0 and api_key.startswith("cm-")
    assert run(app, ["limits", "set", "--tenant", "acme", "--rpm", "100", "--budget-usd", "5"]).exit_code == 0
    assert run(app, ["prices", "set", "m", "*", "--prompt-usd-per-mtok", "1",
                     "--completion-usd-per-mtok", "2"]).exit_code == 0

    db = open_database(url)
    assert repo.lookup_key(db, api_key) is not None
    assert get_limits(db, Scope("acme")) == Limits(100, None, 5.0)
    t0 = month_bounds_unix_s("2026-11")[0]
    commit_rows(db, [UsageRecord("acme", "k", "m", p, "s", "b", 1000, 500, 1.0, 200, False, t0 + i, f"r{i}")
                     for i, p in enumerate(["aws", "aws", "gcp"])])

    out = run(app, ["usage", "--tenant", "acme", "--month", "2026-11", "--format", "csv"]).output
    assert [(r["provider"], r["requests"], r["cost_usd"]) for r in csv.DictReader(io.StringIO(out))] == [
        ("aws", "2", "0.004"), ("gcp", "1", "0.002")]
    data = json.loads(run(app, ["usage", "--tenant", "acme", "--month", "2026-11", "--format", "json"]).output)
    assert abs(data["total_cost_usd"] - 0.006) < 1e-12

    html_path = tmp_path / "inv.html"
    assert run(app, ["invoice", "--tenant", "acme", "--month", "2026-11", "--out", str(html_path)]).exit_code == 0
    html = html_path.read_text()
    assert "acme" in html and "2026-11" in html and "<td>gcp</td>" in html and "0.01</td>" in html

    key_id = repo.list_keys(db, "acme")[0].key_id
    assert run(app, ["keys", "revoke", key_id]).exit_code == 0
    assert repo.lookup_key(db, api_key) is None
    db.dispose()


def test_mistakes_exit_2_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPUTEMOAT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    run = CliRunner().invoke
    for args, text in (
        (["tenants", "create", "Bad Id"], "tenant id 'Bad Id' is invalid"),
        (["keys", "create", "--tenant", "ghost"], "tenant 'ghost' does not exist"),
        (["usage", "--tenant", "x", "--month", "2026-13"], "is not a month"),
        (["limits", "set", "--tenant", "x", "--clear", "speed"], "--clear 'speed'"),
        (["tenants", "list", "--database-url", "nonsense"], "is not a database URL"),
    ):
        result = run(app, args)
        assert result.exit_code == 2 and text in result.output, (args, result.output)


def test_usage_of_an_unknown_tenant_is_one_line_and_exit_2(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPUTEMOAT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    result = CliRunner().invoke(app, ["usage", "--tenant", "nobody", "--month", "2026-11"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: tenant 'nobody' does not exist (see `computemoat tenants list`)"]


def test_store_fields_are_named_as_flags_here(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPUTEMOAT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    run = CliRunner().invoke
    bad_url = run(app, ["tenants", "list", "--database-url", "nonsense"])
    assert bad_url.exit_code == 2 and bad_url.output.startswith("error: --database-url 'nonsense' is not")
    assert run(app, ["tenants", "create", "acme"]).exit_code == 0
    month = run(app, ["usage", "--tenant", "acme", "--month", "2026-13"])
    assert month.exit_code == 2 and "--month '2026-13' is not a month" in month.output
    period = run(app, ["limits", "set", "--tenant", "acme", "--budget-usd", "5", "--budget-period", "yearly"])
    assert period.exit_code == 2 and "--budget-period must be one of daily, weekly, monthly" in period.output


def test_key_limits_allow_lists_and_spend_by_key(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("COMPUTEMOAT_DATABASE_URL", url)
    run = CliRunner().invoke
    assert run(app, ["tenants", "create", "acme"]).exit_code == 0
    assert run(app, ["keys", "create", "--tenant", "acme", "--model", "m", "--model", "n"]).exit_code == 0
    db = open_database(url)
    (key,) = repo.list_keys(db, "acme")
    assert key.allowed_models == ["m", "n"]
    out = run(app, ["limits", "set", "--tenant", "acme", "--key", key.key_id, "--rpm", "7", "--budget-usd", "2",
                    "--budget-period", "daily", "--alert-at", "0.8"])
    assert out.exit_code == 0, out.output
    assert get_limits(db, Scope("acme", key.key_id)) == Limits(7, None, 2.0, BudgetPeriod.DAILY, 0.8)
    assert run(app, ["keys", "models", key.key_id, "--all"]).exit_code == 0
    assert repo.list_keys(db, "acme")[0].allowed_models is None
    t0 = month_bounds_unix_s("2026-11")[0]
    commit_rows(db, [UsageRecord("acme", k, "m", "p", "s", "b", 10, 5, 1.0, 200, False, t0 + i, f"r{i}", tag=tag)
                     for i, (k, tag) in enumerate([(key.key_id, "a"), (key.key_id, ""), ("key_other", "a")])])
    db.dispose()
    by_key = run(app, ["usage", "--tenant", "acme", "--month", "2026-11", "--by", "key", "--format", "csv"]).output
    assert [(r["key"], r["requests"]) for r in csv.DictReader(io.StringIO(by_key))] == [
        (key.key_id, "2"), ("key_other", "1")] if key.key_id < "key_other" else [("key_other", "1"), (key.key_id, "2")]
    by_tag = json.loads(run(app, ["usage", "--tenant", "acme", "--month", "2026-11", "--by", "tag",
                                  "--format", "json"]).output)
    assert [(x["tag"], x["requests"]) for x in by_tag["lines"]] == [("", 1), ("a", 2)]
    table = run(app, ["usage", "--tenant", "acme", "--month", "2026-11", "--by", "day"])
    assert table.exit_code == 0 and "2026-11-01" in table.output
