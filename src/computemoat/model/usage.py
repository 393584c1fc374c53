"""One metered request: what the gateway reports and the store commits (one type for both floors)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UsageRecord:
    tenant_id: str
    key_id: str
    model: str
    provider: str
    site: str
    backend: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    status: int
    streamed: bool
    time_unix_s: float
    request_id: str
    tag: str = ""  # the client's label for spend reports (OpenAI's ``user`` field); '' when none
