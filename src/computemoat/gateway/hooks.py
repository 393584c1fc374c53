"""The seam between the request path and tenancy/metering.

The gateway calls an ``Authenticator`` before routing and a ``UsageSink`` after the upstream answered,
*before* the last byte goes to the client: a response the client received always has its record.
``store``-backed implementations live in ``gateway/tenancy.py``; without them the gateway is open and
unmetered (``OpenAccess``/``NoMetering``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from computemoat.model.usage import UsageRecord


@dataclass(frozen=True, slots=True)
class TenantContext:
    tenant_id: str
    key_id: str


@dataclass(frozen=True, slots=True)
class Admission:
    """Outcome of a rate-limit/budget check. ``status`` 200 = go; 429 or 402 = refuse with ``message``."""

    status: int = 200
    message: str = ""
    retry_after_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


class AdmissionUnavailable(Exception):
    """Authentication or admission could not be decided (its database is down or locked): the client
    gets 503 with Retry-After, never a 500, and nothing is routed."""

    def __init__(self, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Authenticator(Protocol):
    async def authenticate(self, api_key: str | None) -> TenantContext | None:
        """Map a bearer key to its tenant; None means 401. ``AdmissionUnavailable`` means 503."""
        ...

    async def admit(self, ctx: TenantContext, model: str, est_tokens: int) -> Admission:
        """Check rate limits (rpm/tpm) and budget before the request is routed (``AdmissionUnavailable``
        when that cannot be decided right now)."""
        ...


class UsageSink(Protocol):
    async def record(self, rec: UsageRecord) -> None:
        """Return only once ``rec`` is durable (committed); group commits keep this cheap."""
        ...

    async def aclose(self) -> None: ...


class OpenAccess:
    """No tenancy: every caller is the anonymous tenant."""

    async def authenticate(self, api_key: str | None) -> TenantContext | None:
        return TenantContext(tenant_id="anonymous", key_id="")

    async def admit(self, ctx: TenantContext, model: str, est_tokens: int) -> Admission:
        return Admission()


class NoMetering:
    async def record(self, rec: UsageRecord) -> None:
        return None

    async def aclose(self) -> None:
        return None
