"""``tenants``, ``keys``, ``limits``, ``prices``, ``usage`` and ``invoice``: managing the gateway's
tenants and reading their bills straight from the store (no gateway needs to run)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from computemoat.cli.common import console, examples, needs_extra, user_errors

if TYPE_CHECKING:
    from computemoat.store import Database

if TYPE_CHECKING:
    from computemoat.store import Database
    from computemoat.store.limits import Limits

DbUrl = Annotated[str | None, typer.Option(
    "--database-url", envvar="COMPUTEMOAT_DATABASE_URL",
    help="sqlite:///path.db or postgresql://user@host/db (default: ./computemoat.db)")]
Tenant = Annotated[str, typer.Option("--tenant", help="tenant id")]
Month = Annotated[str, typer.Option("--month", help="UTC month, YYYY-MM")]

tenants_app = typer.Typer(help="Create, list and disable tenants.", no_args_is_help=True)
keys_app = typer.Typer(help="Create, list and revoke API keys (a key is shown once).", no_args_is_help=True)
limits_app = typer.Typer(help="Rate limits (rpm/tpm) and monthly budgets.", no_args_is_help=True)
prices_app = typer.Typer(help="USD per million tokens by model and provider.", no_args_is_help=True)


class UsageFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


# The store names fields; here they are flags.
FLAGS = {"database_url": "--database-url", "month": "--month", "rpm": "--rpm", "tpm": "--tpm",
         "budget_usd": "--budget-usd", "budget_period": "--budget-period", "alert_at_fraction": "--alert-at",
         "allowed_models": "--model", "name": "--name", "usd_per_mtok_prompt": "--prompt-usd-per-mtok",
         "usd_per_mtok_completion": "--completion-usd-per-mtok"}


@contextlib.contextmanager
def cli_errors() -> Iterator[None]:
    """``user_errors`` with the store's field names swapped for this CLI's flags."""
    from computemoat.store.errors import FieldError

    with user_errors():
        try:
            yield
        except FieldError as e:
            raise e.renamed(FLAGS) from None


def _db(url: str | None) -> Database:
    from computemoat.store import open_database

    return open_database(url)


def _limits_text(lim: Limits) -> str:
    budget = "-" if lim.budget_usd is None else f"{lim.budget_usd:,.2f} {lim.budget_period.value}"
    alert = "" if lim.alert_at_fraction is None else f" alert_at={lim.alert_at_fraction:g}"
    return f"rpm={lim.rpm} tpm={lim.tpm} budget_usd={budget}{alert}"


@tenants_app.command("create", epilog=examples("computemoat tenants create acme",
                      "computemoat tenants create acme --database-url postgresql://app@db/computemoat"))
def tenants_create(tenant_id: Annotated[str, typer.Argument(help="new tenant id")], database_url: DbUrl = None) -> None:
    """Create a tenant."""
    from computemoat.store import repo

    with cli_errors():
        repo.create_tenant(_db(database_url), tenant_id)
    console.print(f"created tenant {tenant_id}", highlight=False)


@tenants_app.command("list", epilog=examples("computemoat tenants list"))
def tenants_list(database_url: DbUrl = None) -> None:
    """List tenants with their limits and live keys."""
    from rich.table import Table

    from computemoat.store import repo

    with cli_errors():
        rows = repo.list_tenants(_db(database_url))
    table = Table("tenant", "status", "rpm", "tpm", "budget USD", "keys")
    for t in rows:
        lim = t.limits
        budget = f"{lim.budget_usd:,.2f} {lim.budget_period.value}" if lim.budget_usd is not None else "-"
        table.add_row(t.id, "disabled" if t.disabled else "active", str(lim.rpm or "-"), str(lim.tpm or "-"),
                      budget, str(t.active_keys))
    console.print(table)


@tenants_app.command("disable", epilog=examples("computemoat tenants disable acme"))
def tenants_disable(tenant_id: Annotated[str, typer.Argument()], database_url: DbUrl = None) -> None:
    """Disable a tenant: its keys stop working within a second; its usage is kept."""
    from computemoat.store import repo

    with cli_errors():
        repo.disable_tenant(_db(database_url), tenant_id)
    console.print(f"disabled tenant {tenant_id}", highlight=False)


@keys_app.command("create", epilog=examples("computemoat keys create --tenant acme --name demo",
                   "KEY=$(computemoat keys create --tenant acme --name ci | tail -n 1)"))
def keys_create(
    tenant: Tenant, name: Annotated[str, typer.Option(help="label")] = "",
    model: Annotated[list[str] | None, typer.Option(help="a model this key may call (repeat; default: all)")] = None,
    database_url: DbUrl = None,
) -> None:
    """Create an API key; it is printed once and only its SHA-256 is stored."""
    from computemoat.store import repo

    with cli_errors():
        key = repo.create_key(_db(database_url), tenant, name, model or None)
    console.print(f"key {key.key_id} for tenant {tenant} (shown once, store it now):", highlight=False)
    print(key.api_key)


@keys_app.command("list", epilog=examples("computemoat keys list --tenant acme"))
def keys_list(tenant: Tenant, database_url: DbUrl = None) -> None:
    """List a tenant's keys (prefixes only)."""
    from computemoat.store import repo

    with cli_errors():
        keys = repo.list_keys(_db(database_url), tenant)
    for k in keys:
        models = "all models" if k.allowed_models is None else "models: " + ",".join(k.allowed_models)
        limits = "" if k.limits.empty else "  " + _limits_text(k.limits)
        console.print(f"{k.key_id}  {k.prefix}…  {'revoked' if k.revoked else 'active'}  {k.name}  {models}{limits}",
                      highlight=False)


@keys_app.command("models", epilog=examples("computemoat keys models KEY_ID --model llama-3.1-8b --model bge-large",
                                             "computemoat keys models KEY_ID --all"))
def keys_models(
    key_id: Annotated[str, typer.Argument()],
    model: Annotated[list[str] | None, typer.Option(help="a model this key may call (repeat)")] = None,
    all_models: Annotated[bool, typer.Option("--all", help="allow every model again")] = False,
    database_url: DbUrl = None,
) -> None:
    """Restrict a key to some models (or allow it all again with --all)."""
    from computemoat.model.errors import UserError
    from computemoat.store import repo

    with cli_errors():
        if all_models == bool(model):
            raise UserError("give either --model (repeat for several) or --all")
        info = repo.set_allowed_models(_db(database_url), key_id, None if all_models else model)
    shown = "all models" if info.allowed_models is None else ", ".join(info.allowed_models)
    console.print(f"{key_id} may use {shown}", highlight=False)


@keys_app.command("revoke", epilog=examples("computemoat keys revoke KEY_ID"))
def keys_revoke(key_id: Annotated[str, typer.Argument()], database_url: DbUrl = None) -> None:
    """Revoke a key (effective within a second in every gateway process)."""
    from computemoat.store import repo

    with cli_errors():
        repo.revoke_key(_db(database_url), key_id)
    console.print(f"revoked {key_id}", highlight=False)


@limits_app.command("set", epilog=examples("computemoat limits set --tenant acme --rpm 600 --tpm 200000",
                     "computemoat limits set --tenant acme --budget-usd 500 --clear rpm"))
def limits_set(
    tenant: Tenant,
    key: Annotated[str | None, typer.Option(help="limit this key of the tenant instead of the whole tenant")] = None,
    rpm: Annotated[int | None, typer.Option(help="requests per minute")] = None,
    tpm: Annotated[int | None, typer.Option(help="tokens per minute (prompt estimate + max_tokens)")] = None,
    budget_usd: Annotated[float | None, typer.Option(help="budget in USD per period")] = None,
    budget_period: Annotated[str | None, typer.Option(help="daily, weekly or monthly (UTC; default monthly)")] = None,
    alert_at: Annotated[float | None, typer.Option(help="soft alert at this share of the budget, e.g. 0.8")] = None,
    clear: Annotated[list[str] | None, typer.Option(help="remove a limit: rpm, tpm, budget or alert (repeat)")] = None,
    database_url: DbUrl = None,
) -> None:
    """Set the given limits of a tenant (or of one of its keys); others stay as they are."""
    from computemoat.model.errors import UserError
    from computemoat.store.limits import Scope, set_limits

    with cli_errors():
        changes: dict[str, object] = {}
        for name, value in (("rpm", rpm), ("tpm", tpm), ("budget_usd", budget_usd),
                            ("budget_period", budget_period), ("alert_at_fraction", alert_at)):
            if value is not None:
                changes[name] = value
        cleared = {"rpm": "rpm", "tpm": "tpm", "budget": "budget_usd", "alert": "alert_at_fraction"}
        for name in clear or []:
            if name not in cleared:
                raise UserError(f"--clear {name!r}: use rpm, tpm, budget or alert")
            changes[cleared[name]] = None
        lim = set_limits(_db(database_url), Scope(tenant, key or ""), **changes)
    console.print(f"{tenant}{' key ' + key if key else ''}: {_limits_text(lim)}", highlight=False)


@prices_app.command("set", epilog=examples(
    "computemoat prices set llama-3.1-70b '*' --prompt-usd-per-mtok 0.6 --completion-usd-per-mtok 2.4",
    "computemoat prices set llama-3.1-8b lambda --prompt-usd-per-mtok 0.1 --completion-usd-per-mtok 0.2"))
def prices_set(
    model: Annotated[str, typer.Argument()],
    provider: Annotated[str, typer.Argument(help="provider, or '*' for any")],
    prompt_usd_per_mtok: Annotated[float, typer.Option(help="USD per million prompt tokens")],
    completion_usd_per_mtok: Annotated[float, typer.Option(help="USD per million completion tokens")],
    database_url: DbUrl = None,
) -> None:
    """Price a model; applies to requests recorded from now on."""
    from computemoat.store import repo

    with cli_errors():
        repo.set_price(_db(database_url), model, provider, prompt_usd_per_mtok, completion_usd_per_mtok)
    console.print(f"price set for {model} on {provider}", highlight=False)


def usage(tenant: Tenant, month: Month, fmt: Annotated[UsageFormat, typer.Option("--format")] = UsageFormat.TABLE,
          by: Annotated[str, typer.Option(help="model (and provider), key, day (UTC) or tag (the request's "
                                                "OpenAI 'user' field)")] = "model",
          database_url: DbUrl = None) -> None:
    """Usage and cost of a tenant in a month, by model and provider, key, day or request tag."""
    from computemoat.model.errors import UserError
    from computemoat.store.usage import ReportBy, spend_report, usage_by_model

    with cli_errors():
        try:
            grouping = ReportBy(by)
        except ValueError:
            raise UserError(f"--by {by!r}: use one of {', '.join(b.value for b in ReportBy)}") from None
        db = _db(database_url)
        lines: list[object] = list(usage_by_model(db, tenant, month) if grouping is ReportBy.MODEL
                                   else spend_report(db, tenant, month, grouping))
    rows = [asdict(x) for x in lines]  # type: ignore[call-overload]
    if grouping is not ReportBy.MODEL:
        for r in rows:
            r[grouping.value] = r.pop("group")
    columns = (["model", "provider"] if grouping is ReportBy.MODEL else [grouping.value]) + [
        "requests", "prompt_tokens", "completion_tokens", "cost_usd"]
    total = sum(r["cost_usd"] for r in rows)
    if fmt is UsageFormat.JSON:
        print(json.dumps({"tenant": tenant, "month": month, "by": grouping.value,
                          "lines": [{c: r[c] for c in columns} for r in rows], "total_cost_usd": total}, indent=2))
    elif fmt is UsageFormat.CSV:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({c: r[c] for c in columns} for r in rows)
        print(buf.getvalue(), end="")
    else:
        from rich.table import Table

        table = Table(*(c.replace("_", " ").replace("cost usd", "cost USD") for c in columns),
                      title=f"{tenant} {month}")
        for r in rows:
            table.add_row(*(str(r[c]) or "(none)" for c in columns[:-4]), f"{r['requests']:,}",
                          f"{r['prompt_tokens']:,}", f"{r['completion_tokens']:,}", f"{r['cost_usd']:,.4f}")
        table.add_row("total", *([""] * (len(columns) - 2)), f"{total:,.4f}")
        console.print(table)


def invoice(tenant: Tenant, month: Month,
            out: Annotated[Path, typer.Option(help="HTML file to write")] = Path("invoice.html"),
            database_url: DbUrl = None) -> None:
    """Render a tenant's monthly invoice as HTML."""
    from computemoat.store.invoice import render_invoice_html

    with cli_errors():
        html = render_invoice_html(_db(database_url), tenant, month)
    out.write_text(html, encoding="utf-8")
    console.print(f"wrote {out}", highlight=False)


def register(app: typer.Typer) -> None:
    for group in (tenants_app, keys_app, limits_app, prices_app):
        for info in group.registered_commands:
            assert info.callback is not None
            info.callback = needs_extra("gateway", "tenancy and metering")(info.callback)
    usage_cmd = needs_extra("gateway", "usage")(usage)
    invoice_cmd = needs_extra("gateway", "invoice")(invoice)
    app.add_typer(tenants_app, name="tenants")
    app.add_typer(keys_app, name="keys")
    app.add_typer(limits_app, name="limits")
    app.add_typer(prices_app, name="prices")
    app.command("usage", epilog=examples(
        "computemoat usage --tenant acme --month 2026-12",
        "computemoat usage --tenant acme --month 2026-12 --format json | jq .total_cost_usd",
        "computemoat usage --tenant acme --month 2026-12 --format csv > usage.csv"))(usage_cmd)
    app.command("invoice", epilog=examples(
        "computemoat invoice --tenant acme --month 2026-12 --out invoice.html"))(invoice_cmd)
