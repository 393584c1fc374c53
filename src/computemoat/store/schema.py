"""SQLAlchemy 2 models. Times are float UNIX seconds (``*_unix_s``): portable across SQLite and
PostgreSQL and directly comparable with the gateway's clocks. Money is USD as float; per-request costs
are tiny and invoices round to cents."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String
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
    """Only ``key_sha256`` is stored; the key itself is shown once at creation."""

    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64), default="")
    created_unix_s: Mapped[float] = mapped_column(Float)
    revoked_unix_s: Mapped[float | None] = mapped_column(Float, nullable=True)


class RateLimit(Base):
    __tablename__ = "rate_limits"
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    rpm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tpm: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Budget(Base):
    __tablename__ = "budgets"
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    monthly_usd: Mapped[float] = mapped_column(Float)


class Price(Base):
    """USD per million tokens; ``provider`` '*' is the fallback for a model on any provider."""

    __tablename__ = "prices"
    model: Mapped[str] = mapped_column(String(128), primary_key=True)
    provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    usd_per_mtok_prompt: Mapped[float] = mapped_column(Float)
    usd_per_mtok_completion: Mapped[float] = mapped_column(Float)


class UsageRecordRow(Base):
    """One row per request; ``request_id`` is unique so a retried write is idempotent."""

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
    __table_args__ = (Index("ix_usage_records_tenant_time", "tenant_id", "time_unix_s"),)


class MonthlySpend(Base):
    """Running spend per tenant and UTC month, updated in the same commit as the usage rows, so the
    budget check reads one row instead of summing the month."""

    __tablename__ = "monthly_spend"
    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    usd: Mapped[float] = mapped_column(Float)
    requests: Mapped[int] = mapped_column(BigInteger)


class RateBucket(Base):
    """Requests and tokens admitted per tenant per whole second; the limiter sums the last 61."""

    __tablename__ = "rate_buckets"
    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket_unix_s: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    requests: Mapped[int] = mapped_column(Integer)
    tokens: Mapped[int] = mapped_column(BigInteger)
