"""``tenants``, ``keys``, ``limits``, ``prices``, ``usage`` and ``invoice``: managing the gateway's
tenants and reading their bills straight from the store (no gateway needs to run)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from computemoat.cli.common import console, examples, user_errors

if TYPE_CHECKING:
    from computemoat.store import Database

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


def _db(url: str | None) -> Database:
    from computemoat.store import open_database

    return open_database(url)


@tenants_app.command("create", epilog=examples("computemoat tenants create acme",
                      "computemoat tenants create acme --database-url postgresql://app@db/computemoat"))
def tenants_create(tenant_id: Annotated[str, typer.Argument(help="new tenant id")], database_url: DbUrl = None) -> None:
    """Create a tenant."""
    from computemoat.store import repo

    with user_errors():
        repo.create_tenant(_db(database_url), tenant_id)
    console.print(f"created tenant {tenant_id}", highlight=False)


@tenants_app.command("list", epilog=examples("computemoat tenants list"))
def tenants_list(database_url: DbUrl = None) -> None:
    """List tenants with their limits and live keys."""
    from rich.table import Table

    from computemoat.store import repo

    with user_errors():
        rows = repo.list_tenants(_db(database_url))
    table = Table("tenant", "status", "rpm", "tpm", "budget USD/month", "keys")
    for t in rows:
        table.add_row(t.id, "disabled" if t.disabled else "active", str(t.rpm or "-"), str(t.tpm or "-"),
                      f"{t.monthly_budget_usd:,.2f}" if t.monthly_budget_usd else "-", str(t.active_keys))
    console.print(table)


@tenants_app.command("disable", epilog=examples("computemoat tenants disable acme"))
def tenants_disable(tenant_id: Annotated[str, typer.Argument()], database_url: DbUrl = None) -> None:
    """Disable a tenant: its keys stop working within a second; its usage is kept."""
    from computemoat.store import repo

    with user_errors():
        repo.disable_tenant(_db(database_url), tenant_id)
    console.print(f"disabled tenant {tenant_id}", highlight=False)


@keys_app.command("create", epilog=examples("computemoat keys create --tenant acme --name demo",
                   "KEY=$(computemoat keys create --tenant acme --name ci | tail -n 1)"))
def keys_create(
    tenant: Tenant, name: Annotated[str, typer.Option(help="label")] = "", database_url: DbUrl = None
) -> None:
    """Create an API key; it is printed once and only its SHA-256 is stored."""
    from computemoat.store import repo

    with user_errors():
        key = repo.create_key(_db(database_url), tenant, name)
    console.print(f"key {key.key_id} for tenant {tenant} (shown once, store it now):", highlight=False)
    print(key.api_key)


@keys_app.command("list", epilog=examples("computemoat keys list --tenant acme"))
def keys_list(tenant: Tenant, database_url: DbUrl = None) -> None:
    """List a tenant's keys (prefixes only)."""
    from computemoat.store import repo

    with user_errors():
        keys = repo.list_keys(_db(database_url), tenant)
    for k in keys:
        console.print(f"{k.key_id}  {k.prefix}…  {'revoked' if k.revoked else 'active'}  {k.name}", highlight=False)


@keys_app.command("revoke", epilog=examples("computemoat keys revoke KEY_ID"))
def keys_revoke(key_id: Annotated[str, typer.Argument()], database_url: DbUrl = None) -> None:
    """Revoke a key (effective within a second in every gateway process)."""
    from computemoat.store import repo

    with user_errors():
        repo.revoke_key(_db(database_url), key_id)
    console.print(f"revoked {key_id}", highlight=False)


@limits_app.command("set", epilog=examples("computemoat limits set --tenant acme --rpm 600 --tpm 200000",
                     "computemoat limits set --tenant acme --budget-usd 500 --clear rpm"))
def limits_set(
    tenant: Tenant,
    rpm: Annotated[int | None, typer.Option(help="requests per minute")] = None,
    tpm: Annotated[int | None, typer.Option(help="tokens per minute (prompt estimate + max_tokens)")] = None,
    budget_usd: Annotated[float | None, typer.Option(help="monthly budget in USD")] = None,
    clear: Annotated[list[str] | None, typer.Option(help="remove a limit: rpm, tpm or budget (repeat)")] = None,
    database_url: DbUrl = None,
) -> None:
    """Set the given limits; others stay as they are."""
    from computemoat.model.errors import UserError
    from computemoat.store import repo

    with user_errors():
        changes: dict[str, object] = {}
        for name, value in (("rpm", rpm), ("tpm", tpm), ("monthly_budget_usd", budget_usd)):
            if value is not None:
                changes[name] = value
        for name in clear or []:
            if name not in ("rpm", "tpm", "budget"):
                raise UserError(f"--clear {name!r}: use rpm, tpm or budget")
            changes["monthly_budget_usd" if name == "budget" else name] = None
        lim = repo.set_limits(_db(database_url), tenant, **changes)
    console.print(f"{tenant}: rpm={lim.rpm} tpm={lim.tpm} monthly_budget_usd={lim.monthly_budget_usd}",
                  highlight=False)


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

    with user_errors():
        repo.set_price(_db(database_url), model, provider, prompt_usd_per_mtok, completion_usd_per_mtok)
    console.print(f"price set for {model} on {provider}", highlight=False)


def usage(tenant: Tenant, month: Month, fmt: Annotated[UsageFormat, typer.Option("--format")] = UsageFormat.TABLE,
          database_url: DbUrl = None) -> None:
    """Usage and cost of a tenant in a month, by model and provider."""
    from computemoat.store.usage import usage_by_model

    with user_errors():
        lines = usage_by_model(_db(database_url), tenant, month)
    rows = [asdict(x) for x in lines]
    if fmt is UsageFormat.JSON:
        print(json.dumps({"tenant": tenant, "month": month, "lines": rows,
                          "total_cost_usd": sum(x.cost_usd for x in lines)}, indent=2))
    elif fmt is UsageFormat.CSV:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=["model", "provider", "requests", "prompt_tokens",
                                                 "completion_tokens", "cost_usd"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        print(buf.getvalue(), end="")
    else:
        from rich.table import Table

        table = Table("model", "provider", "requests", "prompt tokens", "completion tokens", "cost USD",
                      title=f"{tenant} {month}")
        for x in lines:
            table.add_row(x.model, x.provider, f"{x.requests:,}", f"{x.prompt_tokens:,}",
                          f"{x.completion_tokens:,}", f"{x.cost_usd:,.4f}")
        table.add_row("total", "", "", "", "", f"{sum(x.cost_usd for x in lines):,.4f}")
        console.print(table)


def invoice(tenant: Tenant, month: Month,
            out: Annotated[Path, typer.Option(help="HTML file to write")] = Path("invoice.html"),
            database_url: DbUrl = None) -> None:
    """Render a tenant's monthly invoice as HTML."""
    from computemoat.store.invoice import render_invoice_html

    with user_errors():
        html = render_invoice_html(_db(database_url), tenant, month)
    out.write_text(html, encoding="utf-8")
    console.print(f"wrote {out}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(tenants_app, name="tenants")
    app.add_typer(keys_app, name="keys")
    app.add_typer(limits_app, name="limits")
    app.add_typer(prices_app, name="prices")
    app.command("usage", epilog=examples(
        "computemoat usage --tenant acme --month 2026-12",
        "computemoat usage --tenant acme --month 2026-12 --format json | jq .total_cost_usd",
        "computemoat usage --tenant acme --month 2026-12 --format csv > usage.csv"))(usage)
    app.command("invoice", epilog=examples(
        "computemoat invoice --tenant acme --month 2026-12 --out invoice.html"))(invoice)
