"""SQLAlchemy 2 models. Times are float UNIX seconds (``*_unix_s``): portable across SQLite and
PostgreSQL and directly comparable with the gateway's clocks. Money is USD as float; per-request costs
are tiny and invoices round to cents.

A *scope* is ``(tenant_id, key_id)``: ``key_id`` ``''`` is the whole tenant, otherwise one of its
keys. Limits, rate buckets and spend are kept per scope, so a key can have its own limits and budget
inside its tenant's."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL wants 64 bits for usage rows.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_unix_s: Mapped[float] = mapped_column(Float)
    disabled_unix_s: Mapped[float | None] = mapped_column(Float, nullable=True)


class ApiKey(Base):
    """Only ``key_sha256`` is stored; the key itself is shown once at creation. ``allowed_models`` is
    a JSON array of model names the key may call (NULL: every model)."""

    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64), default="")
    created_unix_s: Mapped[float] = mapped_column(Float)
    revoked_unix_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    allowed_models: Mapped[str | None] = mapped_column(Text, nullable=True)


class LimitRow(Base):
    """rpm/tpm and a budget per scope. The row is also the scope's lock (``SELECT ... FOR UPDATE``)."""

    __tablename__ = "limits"
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    rpm: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    tpm: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    budget_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    budget_period: Mapped[str] = mapped_column(String(8))
    alert_at_fraction: Mapped[float | None] = mapped_column(Float, nullable=True)


class Price(Base):
    """USD per million tokens; ``provider`` '*' is the fallback for a model on any provider."""

    __tablename__ = "prices"
    model: Mapped[str] = mapped_column(String(128), primary_key=True)
    provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    usd_per_mtok_prompt: Mapped[float] = mapped_column(Float)
    usd_per_mtok_completion: Mapped[float] = mapped_column(Float)


class UsageRecordRow(Base):
    """One row per request; ``request_id`` is unique so a retried write is idempotent. ``tag`` is the
    client's label of the request (OpenAI's ``user`` field), '' when none."""

    __tablename__ = "usage_records"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(128))
    provider: Mapped[str] = mapped_column(String(64))
    site: Mapped[str] = mapped_column(String(64))
    backend: Mapped[str] = mapped_column(String(128))
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    status: Mapped[int] = mapped_column(Integer)
    streamed: Mapped[bool] = mapped_column(Boolean)
    time_unix_s: Mapped[float] = mapped_column(Float)
    cost_usd: Mapped[float] = mapped_column(Float)
    tag: Mapped[str] = mapped_column(String(64), server_default="")
    __table_args__ = (Index("ix_usage_records_tenant_time", "tenant_id", "time_unix_s"),)


class DailySpend(Base):
    """Running spend per scope and UTC day (``YYYY-MM-DD``), updated in the same commit as the usage
    rows, so a budget check reads at most 31 rows instead of summing the period's records."""

    __tablename__ = "daily_spend"
    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    usd: Mapped[float] = mapped_column(Float)
    requests: Mapped[int] = mapped_column(BigInteger)


class BudgetAlert(Base):
    """One row per scope and budget period whose soft alert fired: the alert goes out once, from
    whichever process inserted the row."""

    __tablename__ = "budget_alerts"
    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    period_start: Mapped[str] = mapped_column(String(10), primary_key=True)
    sent_unix_s: Mapped[float] = mapped_column(Float)


class RateBucket(Base):
    """Requests and tokens admitted per scope per whole second; the limiter sums the last 61."""

    __tablename__ = "rate_buckets"
    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    bucket_unix_s: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger)
    tokens: Mapped[int] = mapped_column(BigInteger)
