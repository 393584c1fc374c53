"""Scopes (tenant or key) for limits, rate buckets and spend; budget periods and soft alerts; per-key
model allow-lists; a request tag on usage rows.

- ``rate_limits`` + ``budgets`` -> ``limits`` (one row per scope; tenant rows keep their values, the
  budget as ``monthly``).
- ``monthly_spend`` -> ``daily_spend`` (per scope and UTC day), rebuilt from ``usage_records`` so key
  scopes start with their real history.
- ``rate_buckets`` gains ``key_id`` (its rows live 61 s: recreated empty, at most one minute of
  counts is forgotten by an upgrade).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _day_sql(dialect: str) -> str:
    if dialect == "sqlite":
        return "strftime('%Y-%m-%d', time_unix_s, 'unixepoch')"
    return "to_char(to_timestamp(time_unix_s) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "limits",
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), primary_key=True),
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("rpm", sa.BigInteger(), nullable=True),
        sa.Column("tpm", sa.BigInteger(), nullable=True),
        sa.Column("budget_usd", sa.Float(), nullable=True),
        sa.Column("budget_period", sa.String(8), nullable=False),
        sa.Column("alert_at_fraction", sa.Float(), nullable=True),
    )
    op.execute(
        "INSERT INTO limits (tenant_id, key_id, rpm, tpm, budget_usd, budget_period) "
        "SELECT t.id, '', r.rpm, r.tpm, b.monthly_usd, 'monthly' FROM tenants t "
        "LEFT JOIN rate_limits r ON r.tenant_id = t.id LEFT JOIN budgets b ON b.tenant_id = t.id "
        "WHERE r.tenant_id IS NOT NULL OR b.tenant_id IS NOT NULL"
    )
    op.drop_table("rate_limits")
    op.drop_table("budgets")

    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(sa.Column("tag", sa.String(64), nullable=False, server_default=""))
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("allowed_models", sa.Text(), nullable=True))

    op.create_table(
        "daily_spend",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("usd", sa.Float(), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
    )
    day = _day_sql(dialect)
    for key_expr, group in (("''", ""), ("key_id", "key_id, ")):
        op.execute(
            f"INSERT INTO daily_spend (tenant_id, key_id, day, usd, requests) "
            f"SELECT tenant_id, {key_expr}, {day}, SUM(cost_usd), COUNT(*) FROM usage_records "
            f"GROUP BY tenant_id, {group}{day}"
        )
    op.drop_table("monthly_spend")
    op.create_table(
        "budget_alerts",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("period_start", sa.String(10), primary_key=True),
        sa.Column("sent_unix_s", sa.Float(), nullable=False),
    )
    op.drop_table("rate_buckets")
    op.create_table(
        "rate_buckets",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("bucket_unix_s", sa.BigInteger(), primary_key=True),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), primary_key=True),
        sa.Column("rpm", sa.Integer(), nullable=True),
        sa.Column("tpm", sa.Integer(), nullable=True),
    )
    op.create_table(
        "budgets",
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), primary_key=True),
        sa.Column("monthly_usd", sa.Float(), nullable=False),
    )
    op.execute("INSERT INTO rate_limits (tenant_id, rpm, tpm) SELECT tenant_id, rpm, tpm FROM limits "
               "WHERE key_id = '' AND (rpm IS NOT NULL OR tpm IS NOT NULL)")
    op.execute("INSERT INTO budgets (tenant_id, monthly_usd) SELECT tenant_id, budget_usd FROM limits "
               "WHERE key_id = '' AND budget_usd IS NOT NULL")
    op.drop_table("limits")
    op.create_table(
        "monthly_spend",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("usd", sa.Float(), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
    )
    op.execute("INSERT INTO monthly_spend (tenant_id, month, usd, requests) "
               "SELECT tenant_id, substr(day, 1, 7), SUM(usd), SUM(requests) FROM daily_spend "
               "WHERE key_id = '' GROUP BY tenant_id, substr(day, 1, 7)")
    op.drop_table("daily_spend")
    op.drop_table("budget_alerts")
    op.drop_table("rate_buckets")
    op.create_table(
        "rate_buckets",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("bucket_unix_s", sa.BigInteger(), primary_key=True),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
    )
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("allowed_models")
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_column("tag")
