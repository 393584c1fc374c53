"""The request path: pick a backend, try it, fail over, meter, answer.

One ``Gateway`` per app holds the pooled upstream client and every backend's live state. Non-streamed
requests are retried (within the retry budget) on connect errors, timeouts, 5xx and 429, preferring
another provider; a stream fails over until its first byte and, after it, ends with an error event.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from computemoat.gateway.config import GatewayConfig
from computemoat.gateway.errors import error_response, sse_error_event
from computemoat.gateway.health import BackendState, RetryBudget, build_states
from computemoat.gateway.hooks import TenantContext, UsageRecord, UsageSink
from computemoat.gateway.metrics import GatewayMetrics
from computemoat.gateway.requests import ParsedRequest
from computemoat.gateway.routing import Candidate, rank
from computemoat.gateway.upstream import Origin, Pool, UpstreamError, UpstreamResponse, UpstreamTimeout
from computemoat.gateway.usage import StreamMeter, usage_from_json

# What makes an attempt worth repeating elsewhere: the request never reached a model, or the
# backend said it is overloaded/broken. 4xx other than 429 is the client's problem: passed through.
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
_UPSTREAM_FAILURES = (UpstreamError, TimeoutError, OSError)


class ProxiedResponse:
    """A backend's complete non-streamed answer, sent as two raw ASGI messages with headers built
    once (a Starlette ``Response`` would build a header list and a dict per request). The headers
    are those ``Response(content, status_code=, media_type=, headers=)`` would send."""

    __slots__ = ("body", "raw_headers", "status_code")

    def __init__(self, body: bytes, status_code: int, content_type: str, request_id: str, backend: str) -> None:
        if content_type.startswith("text/") and "charset=" not in content_type.lower():
            content_type += "; charset=utf-8"
        self.body = body
        self.status_code = status_code
        self.raw_headers = [
            (b"x-request-id", request_id.encode()),
            (b"x-computemoat-backend", backend.encode("latin-1")),
            (b"content-length", str(len(body)).encode()),
            (b"content-type", content_type.encode("latin-1")),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body})


class AttemptFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Gateway:
    def __init__(
        self, cfg: GatewayConfig, sink: UsageSink, metrics: GatewayMetrics, rng: random.Random | None = None
    ) -> None:
        self.cfg = cfg
        self.sink = sink
        self.metrics = metrics
        self.rng = rng or random.Random()
        self.states = build_states(cfg.backends, cfg.health, cfg.provider_max_concurrency)
        self.by_model: dict[str, list[tuple[int, BackendState]]] = {}
        for i, s in enumerate(self.states):
            for m in s.cfg.models:
                self.by_model.setdefault(m, []).append((i, s))
        self.budget = RetryBudget(cfg.retries)
        # TLS settings and provider keys resolved once (UserError if a key variable is unset)
        self.origins = [Origin.from_backend(s.cfg) for s in self.states]
        t = cfg.timeouts
        # read timeout = first-byte limit, and the idle limit between stream chunks; the breakers
        # (max_concurrency) bound each backend, the pool's total limit only backs them up (no per-host
        # limit: several backends may share a provider's host)
        self.pool = Pool(
            connect_timeout_s=t.connect_s, read_timeout_s=t.first_byte_s,
            max_connections=sum(b.max_concurrency for b in cfg.backends),
        )
        for s in self.states:
            metrics.outstanding.labels(s.cfg.name).set_function(lambda s=s: s.outstanding)
        # label children looked up once, on first use (``.labels()`` validates and locks every call)
        self._ttfb: dict[str, Any] = {}
        self._latency: dict[str, Any] = {}
        self._requests: dict[tuple[str, int], Any] = {}

    def _observe_ttfb(self, s: BackendState, ttfb_ms: float) -> None:
        s.observe_success(ttfb_ms)
        child = self._ttfb.get(s.cfg.name)
        if child is None:
            child = self._ttfb[s.cfg.name] = self.metrics.ttfb.labels(s.cfg.name)
        child.observe(ttfb_ms / 1000.0)

    def _count(self, model: str, status: int) -> None:
        child = self._requests.get((model, status))
        if child is None:
            child = self._requests[model, status] = self.metrics.requests.labels(model, str(status))
        child.inc()

    async def aclose(self) -> None:
        await self.pool.aclose()

    # --- routing -------------------------------------------------------------------------------

    def candidates(self, model: str, rtt_ms: list[float] | None, now_s: float) -> list[Candidate]:
        out = []
        for i, s in self.by_model.get(model, ()):
            if s.available(now_s):
                b = s.cfg
                out.append(
                    Candidate(
                        index=i,
                        provider=b.provider,
                        outstanding=s.outstanding,
                        max_concurrency=b.max_concurrency,
                        ewma_ttfb_ms=s.ewma_ttfb_ms,
                        rtt_ms=rtt_ms[i] if rtt_ms is not None else 0.0,
                        weight=b.weight,
                        usd_per_hour=b.usd_per_hour,
                    )
                )
        return out

    def _unavailable(self, model: str, now_s: float) -> Response:
        states = [s for _, s in self.by_model[model]]
        wait_s = min(s.readmit_after_s(now_s) for s in states)
        return error_response(
            503, f"no healthy backend for model {model!r} right now; retry later",
            code="no_healthy_backend", retry_after_s=wait_s,
        )

    def _failed(self, s: BackendState, kind: str) -> None:
        m = self.metrics
        m.upstream_errors.labels(s.cfg.name, s.cfg.provider, kind).inc()
        if kind == "http_429":
            return  # overload, not a fault: retry elsewhere but do not eject
        ejected, provider_opened = s.observe_failure(time.monotonic())
        if ejected:
            m.ejections.labels("backend", s.cfg.name).inc()
        if provider_opened:
            m.ejections.labels("provider", s.cfg.provider).inc()

    # --- the request ---------------------------------------------------------------------------

    async def forward(
        self, endpoint: str, req: ParsedRequest, ctx: TenantContext, rtt_ms: list[float] | None
    ) -> Response | ProxiedResponse:
        t0 = time.perf_counter()
        now_s = time.monotonic()
        order = rank(self.cfg.policy_for(req.model), self.candidates(req.model, rtt_ms, now_s), self.rng)
        if not order:
            return self._unavailable(req.model, now_s)
        request_id = uuid.uuid4().hex
        deadline_s = now_s + self.cfg.timeouts.total_s
        budget = self.budget
        reasons: list[str] = []
        budget.active += 1
        try:
            for attempt, cand in enumerate(order[: self.cfg.retries.max_attempts]):
                s = self.states[cand.index]
                if attempt:
                    if not budget.can_retry() or not s.available(time.monotonic()):
                        continue
                    self.metrics.retries.labels(req.model).inc()
                    budget.retries_in_flight += 1
                try:
                    return await self._attempt(
                        endpoint, req, ctx, s, self.origins[cand.index], request_id, t0, deadline_s
                    )
                except AttemptFailed as e:
                    reasons.append(e.reason)
                finally:
                    if attempt:
                        budget.retries_in_flight -= 1
        finally:
            budget.active -= 1
        if not reasons:
            return self._unavailable(req.model, time.monotonic())
        self._count(req.model, 502)
        return error_response(
            502, f"every attempt failed ({'; '.join(reasons)})", code="upstream_failed", retry_after_s=1.0
        )

    async def _attempt(
        self,
        endpoint: str,
        req: ParsedRequest,
        ctx: TenantContext,
        s: BackendState,
        origin: Origin,
        request_id: str,
        t0: float,
        deadline_s: float,
    ) -> Response | ProxiedResponse:
        s.start()
        resp: UpstreamResponse | None = None
        handed_over = False
        t_send = time.perf_counter()
        try:
            async with asyncio.timeout(max(0.0, deadline_s - time.monotonic())):
                resp = await self.pool.request(
                    origin, "POST", f"/v1/{endpoint}", req.body,
                    (("content-type", "application/json"), ("x-request-id", request_id)),
                )
                if resp.status_code in RETRYABLE_STATUS:
                    self._failed(s, f"http_{resp.status_code}")
                    raise AttemptFailed(f"{s.cfg.name}: HTTP {resp.status_code}")
                if req.stream and resp.status_code == 200:
                    first = await resp.next_chunk()
                    self._observe_ttfb(s, (time.perf_counter() - t_send) * 1000.0)
                    handed_over = True
                    relay = self._relay(req, ctx, s, resp, first, request_id, t0, deadline_s)
                    return StreamingResponse(
                        relay, media_type="text/event-stream",
                        headers={"cache-control": "no-cache", "x-request-id": request_id},
                    )
                content = await resp.aread()
        except AttemptFailed:
            raise
        except _UPSTREAM_FAILURES as e:
            kind = "timeout" if isinstance(e, TimeoutError | UpstreamTimeout) else "connect"
            self._failed(s, kind)
            raise AttemptFailed(f"{s.cfg.name}: {kind} ({type(e).__name__})") from None
        finally:
            if not handed_over:
                s.finish()
                if resp is not None:
                    await resp.aclose()
        self._observe_ttfb(s, (time.perf_counter() - t_send) * 1000.0)
        prompt, completion = usage_from_json(content) or (req.est_prompt_tokens, 0)
        status = resp.status_code
        try:
            await self._record(req, ctx, s, prompt, completion, status, False, request_id, t0)
        except Exception as e:  # no durable record, no answer: the client may retry
            return self._metering_failed(req, e)
        return ProxiedResponse(
            content, status, resp.header("content-type", "application/json"), request_id, s.cfg.name
        )

    async def _relay(
        self,
        req: ParsedRequest,
        ctx: TenantContext,
        s: BackendState,
        resp: UpstreamResponse,
        first: bytes,
        request_id: str,
        t0: float,
        deadline_s: float,
    ) -> AsyncIterator[bytes]:
        """Pass chunks through as they arrive; write the usage record before ``data: [DONE]`` (or
        the stream's end) goes out; on a broken upstream, record it and end with an error event."""
        meter = StreamMeter()
        recorded = False
        chunk = first
        try:
            while chunk:
                done_at = meter.feed(chunk)
                if done_at >= 0 and not recorded:
                    if done_at:
                        yield chunk[:done_at]
                    prompt, completion = meter.tokens(req.est_prompt_tokens)
                    await self._record(req, ctx, s, prompt, completion, 200, True, request_id, t0)
                    recorded = True
                    yield chunk[done_at:]
                else:
                    yield chunk
                if time.monotonic() > deadline_s:
                    raise TimeoutError("total timeout")
                chunk = await resp.next_chunk()
            if not recorded:
                prompt, completion = meter.tokens(req.est_prompt_tokens)
                await self._record(req, ctx, s, prompt, completion, 200, True, request_id, t0)
                recorded = True
        except _UPSTREAM_FAILURES as e:
            self._failed(s, "stream_broken")
            if not recorded:
                prompt, completion = meter.tokens(req.est_prompt_tokens)
                # a failed record must not hide the break: the error event below still goes out
                with contextlib.suppress(Exception):
                    await self._record(req, ctx, s, prompt, completion, 502, True, request_id, t0)
            yield sse_error_event(f"upstream {s.cfg.name} broke off the stream ({type(e).__name__})")
        finally:
            s.finish()
            await resp.aclose()

    async def _record(
        self, req: ParsedRequest, ctx: TenantContext, s: BackendState, prompt: int, completion: int,
        status: int, streamed: bool, request_id: str, t0: float,
    ) -> None:
        latency_s = time.perf_counter() - t0
        self._count(req.model, status)
        child = self._latency.get(req.model)
        if child is None:
            child = self._latency[req.model] = self.metrics.latency.labels(req.model)
        child.observe(latency_s)
        await self.sink.record(
            UsageRecord(
                tenant_id=ctx.tenant_id, key_id=ctx.key_id, model=req.model, provider=s.cfg.provider,
                site=s.cfg.site, backend=s.cfg.name, prompt_tokens=prompt, completion_tokens=completion,
                latency_ms=latency_s * 1000.0, status=status, streamed=streamed,
                time_unix_s=time.time(), request_id=request_id,
            )
        )

    def _metering_failed(self, req: ParsedRequest, e: Exception) -> Response:
        self._count(req.model, 503)
        return error_response(
            503, f"usage could not be recorded ({type(e).__name__}); the request was not billed, retry",
            code="metering_unavailable", retry_after_s=1.0,
        )
