"""The gateway's YAML schema: the contract between the planner's export and ``computemoat serve``.

A hand-written file works too; every mistake becomes one ``UserError`` line naming the file and field.
Tuning sections (timeouts, health, retries, limits) are optional so the planner's export stays small.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator

from computemoat.catalog.yamlsource import read_yaml
from computemoat.model.base import Frozen
from computemoat.model.errors import UserError


class RoutingPolicy(StrEnum):
    LATENCY = "latency"
    LEAST_OUTSTANDING = "least_outstanding"
    WEIGHTED = "weighted"
    CHEAPEST = "cheapest"


class ModelSettings(Frozen):
    policy: RoutingPolicy | None = Field(default=None, description="routing policy (default_policy if unset)")
    fallbacks: tuple[str, ...] = Field(
        default=(), description="models to serve instead, in order, while every backend of this one is down",
    )


class BackendConfig(Frozen):
    name: str = Field(min_length=1, description="unique backend name")
    url: str = Field(description="OpenAI-compatible base URL; requests go to {url}/v1/...")
    provider: str = Field(min_length=1)
    site: str = Field(min_length=1)
    lat_deg: float = Field(ge=-90, le=90)
    lon_deg: float = Field(ge=-180, le=180)
    models: tuple[str, ...] = Field(min_length=1)
    weight: float = Field(default=1.0, gt=0, description="share for the weighted policy, e.g. replicas")
    max_concurrency: int = Field(default=256, ge=1, description="circuit breaker: requests in flight")
    usd_per_hour: float | None = Field(default=None, ge=0, description="for the cheapest policy")
    api_key_env: str | None = Field(
        default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="environment variable holding the provider's API key, sent as 'Authorization: Bearer'",
    )
    ca_file: str | None = Field(
        default=None, min_length=1,
        description="PEM CA bundle that signs an https:// backend's certificate (relative to the config file)",
    )
    verify: bool = Field(default=True, description="verify an https:// backend's certificate")

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https:// (e.g. http://127.0.0.1:9001)")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _tls_options(self) -> BackendConfig:
        if self.url.startswith("http://") and (self.ca_file is not None or not self.verify):
            raise ValueError("ca_file and verify apply to https:// urls only")
        if self.ca_file is not None and not self.verify:
            raise ValueError("give ca_file (verify against it) or verify: false (no verification), not both")
        return self


class UserRegionConfig(Frozen):
    name: str = Field(min_length=1)
    lat_deg: float = Field(ge=-90, le=90)
    lon_deg: float = Field(ge=-180, le=180)


class TimeoutsConfig(Frozen):
    """``attempt_s`` bounds one try (a non-streamed answer complete, or a stream's first chunk) and is
    then retried elsewhere; ``stream_idle_s`` bounds the gap between chunks of a stream that began.
    ``first_byte_s`` (older configs) sets both."""

    connect_s: float = Field(default=2.0, gt=0)
    attempt_s: float = Field(default=30.0, gt=0, description="one attempt: full answer or a stream's first chunk")
    stream_idle_s: float = Field(default=30.0, gt=0, description="longest gap between chunks of a stream")
    total_s: float = Field(default=300.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _first_byte_alias(cls, data: Any) -> Any:
        if isinstance(data, dict) and "first_byte_s" in data:
            data = dict(data)
            v = data.pop("first_byte_s")
            data.setdefault("attempt_s", v)
            data.setdefault("stream_idle_s", v)
        return data


class HealthConfig(Frozen):
    """Active checks plus Envoy-style passive outlier ejection."""

    interval_s: float = Field(default=5.0, gt=0)
    timeout_s: float = Field(default=2.0, gt=0)
    path: str = Field(default="/v1/models", description="cheap GET on the backend")
    consecutive_errors: int = Field(default=3, ge=1, description="errors in a row that eject a backend")
    base_ejection_s: float = Field(default=5.0, gt=0, description="doubles on each repeated ejection")
    max_ejection_s: float = Field(default=300.0, gt=0)
    provider_consecutive_errors: int = Field(
        default=20, ge=1, description="errors in a row across a provider that open its circuit"
    )


class RetryConfig(Frozen):
    max_attempts: int = Field(default=3, ge=1, description="first try included")
    budget_percent: float = Field(default=20.0, ge=0, le=100, description="retries vs active requests")
    min_retry_concurrency: int = Field(default=10, ge=0, description="retries always allowed in flight")
    hedge_after_s: float | None = Field(
        default=None, gt=0,
        description="non-streamed only: send a second attempt elsewhere if none answered by then (off by default;"
        " counted in the retry budget)",
    )


class GatewayConfig(Frozen):
    models: dict[str, ModelSettings] = Field(default_factory=dict)
    default_policy: RoutingPolicy = RoutingPolicy.LATENCY
    backends: tuple[BackendConfig, ...] = Field(min_length=1)
    user_regions: tuple[UserRegionConfig, ...] = ()
    provider_max_concurrency: dict[str, int] = Field(
        default_factory=dict, description="circuit breaker per provider: requests in flight"
    )
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    timeouts: TimeoutsConfig = TimeoutsConfig()
    health: HealthConfig = HealthConfig()
    retries: RetryConfig = RetryConfig()

    @model_validator(mode="after")
    def _cross_checks(self) -> GatewayConfig:
        problems: list[str] = []
        seen: set[str] = set()
        for i, b in enumerate(self.backends):
            if b.name in seen:
                problems.append(f"backends.{i}.name: duplicate backend name {b.name!r} (names must be unique)")
            seen.add(b.name)
        served = {m for b in self.backends for m in b.models}
        for m, ms in self.models.items():
            if m not in served:
                problems.append(f"models.{m}: no backend serves this model (add it to a backend's models)")
            for j, fb in enumerate(ms.fallbacks):
                if fb not in served or fb == m:
                    problems.append(f"models.{m}.fallbacks.{j}: {fb!r} is not another model a backend serves")
        regions = [r.name for r in self.user_regions]
        for name in {n for n in regions if regions.count(n) > 1}:
            problems.append(f"user_regions: duplicate region name {name!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def policy_for(self, model: str) -> RoutingPolicy:
        s = self.models.get(model)
        return s.policy if s is not None and s.policy is not None else self.default_policy

    def fallbacks_for(self, model: str) -> tuple[str, ...]:
        s = self.models.get(model)
        return s.fallbacks if s is not None else ()

    @property
    def served_models(self) -> tuple[str, ...]:
        return tuple(sorted({m for b in self.backends for m in b.models}))


def parse_config(data: Any, source: str = "<config>") -> GatewayConfig:
    """Validate a parsed YAML/JSON mapping; each problem becomes one ``source: field: message`` line."""
    if not isinstance(data, dict):
        raise UserError(f"{source}: the gateway config must be a mapping with a 'backends' list")
    try:
        return GatewayConfig.model_validate(data)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            loc = ".".join(str(p) for p in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            for part in msg.split("; "):
                lines.append(f"{source}: {loc}: {part}" if loc else f"{source}: {part}")
        raise UserError(*lines) from None


def load_config(path: str | Path) -> GatewayConfig:
    p = Path(path)
    data = read_yaml(p).data  # shared reader: UTF-8, duplicate keys refused, one-line errors with the line
    cfg = parse_config(data, str(p))
    # a relative ca_file is read next to the config, not from wherever the server was started
    backends = tuple(
        b.model_copy(update={"ca_file": str(p.parent / b.ca_file)})
        if b.ca_file is not None and not Path(b.ca_file).is_absolute() else b
        for b in cfg.backends
    )
    return cfg.model_copy(update={"backends": backends})
