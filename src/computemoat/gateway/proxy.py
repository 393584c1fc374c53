"""The request path: pick a backend, try it, fail over, meter, answer.

One ``Gateway`` per app holds the pooled upstream client and the current ``Fleet`` (every backend's
live state; replaced whole by a reload). Non-streamed requests are retried (within the retry budget)
on connect errors, timeouts, 5xx and 429, preferring another provider, and optionally hedged; a stream
fails over until its first byte and is then relayed by ``stream.StreamRelay``. Each attempt is bounded
by ``timeouts.attempt_s`` and is cancelled (then retried elsewhere) when its backend is ejected.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from computemoat.gateway.config import GatewayConfig
from computemoat.gateway.errors import error_response, new_request_id
from computemoat.gateway.fleet import Fleet, build_fleet
from computemoat.gateway.health import BackendState, RetryBudget
from computemoat.gateway.hooks import TenantContext, UsageRecord, UsageSink
from computemoat.gateway.metrics import UNKNOWN_MODEL, GatewayMetrics
from computemoat.gateway.requests import ParsedRequest
from computemoat.gateway.routing import Candidate, rank
from computemoat.gateway.stream import StreamRelay
from computemoat.gateway.tracing import Tracing
from computemoat.gateway.upstream import Origin, Pool, UpstreamError, UpstreamResponse, UpstreamTimeout
from computemoat.gateway.usage import usage_from_json

# What makes an attempt worth repeating elsewhere: the request never reached a model, or the
# backend said it is overloaded/broken. 4xx other than 429 is the client's problem: passed through.
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
_UPSTREAM_FAILURES = (UpstreamError, TimeoutError, OSError)
FALLBACK_HEADER = "x-computemoat-fallback-from"


class ProxiedResponse:
    """A backend's complete non-streamed answer, sent as two raw ASGI messages with headers built
    once (a Starlette ``Response`` would build a header list and a dict per request). The headers
    are those ``Response(content, status_code=, media_type=, headers=)`` would send."""

    __slots__ = ("body", "raw_headers", "status_code")

    def __init__(
        self, body: bytes, status_code: int, content_type: str, request_id: str, backend: str,
        fallback_from: str | None = None,
    ) -> None:
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
        if fallback_from is not None:
            self.raw_headers.append((FALLBACK_HEADER.encode(), fallback_from.encode("latin-1")))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body})


class AttemptFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class _Answer:
    """A non-streamed attempt's result, metered only once it won (hedging may run two)."""

    content: bytes
    status: int
    content_type: str
    state: BackendState


@dataclass(slots=True)
class Call:
    """One client request on its way through: what every attempt shares."""

    endpoint: str
    req: ParsedRequest
    ctx: TenantContext
    request_id: str
    t0: float
    deadline_s: float
    idempotency_key: str | None
    fallback_from: str | None = None
    span: Any = None


class Gateway:
    def __init__(
        self, cfg: GatewayConfig, sink: UsageSink, metrics: GatewayMetrics, rng: random.Random | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.sink = sink
        self.metrics = metrics
        self.rng = rng or random.Random()
        self.tracing = tracing
        self.fleet = build_fleet(cfg)  # UserError if a provider key variable is unset
        self.budget = RetryBudget(cfg.retries)
        # no total connection limit: the per-backend breakers (max_concurrency) bound the load, and a
        # reload may add backends
        self.pool = Pool(connect_timeout_s=cfg.timeouts.connect_s, read_timeout_s=cfg.timeouts.attempt_s)
        self.refresh_gauges()
        # label children looked up once, on first use (``.labels()`` validates and locks every call)
        self._ttfb: dict[str, Any] = {}
        self._latency: dict[str, Any] = {}
        self._requests: dict[tuple[str, int], Any] = {}

    @property
    def cfg(self) -> GatewayConfig:
        return self.fleet.cfg

    def reload(self, cfg: GatewayConfig) -> Fleet:
        """Swap in a new config; raises (old config kept) if it cannot be applied. Requests in flight
        finish on the fleet they started with; unchanged backends keep their live state."""
        old = self.fleet
        new = build_fleet(cfg, old)
        self.fleet = new
        self.budget.cfg = cfg.retries
        self.pool.configure(cfg.timeouts.connect_s, cfg.timeouts.attempt_s)
        for name in {s.cfg.name for s in old.states} - {s.cfg.name for s in new.states}:
            self.metrics.forget_backend(name)
        self.refresh_gauges()
        return new

    def refresh_gauges(self) -> None:
        now_s = time.monotonic()
        self.metrics.refresh_backends((s.cfg.name, s.outstanding, s.available(now_s)) for s in self.fleet.states)

    def _observe_ttfb(self, s: BackendState, ttfb_ms: float, epoch: int) -> None:
        s.observe_success(ttfb_ms, epoch, time.monotonic())
        child = self._ttfb.get(s.cfg.name)
        if child is None:
            child = self._ttfb[s.cfg.name] = self.metrics.ttfb.labels(s.cfg.name)
        child.observe(ttfb_ms / 1000.0)

    def count(self, model: str, status: int) -> None:
        """Count one answer (every one: refusals before routing too)."""
        child = self._requests.get((model, status))
        if child is None:
            child = self._requests[model, status] = self.metrics.requests.labels(model, str(status))
        child.inc()

    def refuse(self, model: str | None, status: int, message: str, **kwargs: Any) -> Response:
        """An error answer, counted (under ``unknown`` unless the model is served)."""
        label = model if model is not None and model in self.fleet.by_model else UNKNOWN_MODEL
        self.count(label, status)
        return error_response(status, message, **kwargs)

    async def aclose(self) -> None:
        await self.pool.aclose()

    # --- routing -------------------------------------------------------------------------------

    def candidates(self, fleet: Fleet, model: str, rtt_ms: list[float] | None, now_s: float) -> list[Candidate]:
        out = []
        for i, s in fleet.by_model.get(model, ()):
            if s.available(now_s):
                b = s.cfg
                out.append(
                    Candidate(
                        index=i,
                        provider=b.provider,
                        outstanding=s.outstanding,
                        max_concurrency=b.max_concurrency,
                        ewma_ttfb_ms=s.estimate_ms(now_s),
                        rtt_ms=rtt_ms[i] if rtt_ms is not None else 0.0,
                        weight=b.weight,
                        usd_per_hour=b.usd_per_hour,
                    )
                )
        return out

    def _unavailable(self, fleet: Fleet, model: str, now_s: float) -> Response:
        wait_s = min(s.readmit_after_s(now_s) for _, s in fleet.by_model[model])
        return self.refuse(
            model, 503, f"no healthy backend for model {model!r} right now; retry later",
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
            s.cancel_inflight()
        if provider_opened:
            m.ejections.labels("provider", s.cfg.provider).inc()
            for other in self.fleet.states:
                if other.provider is s.provider:
                    other.cancel_inflight()

    # --- the request ---------------------------------------------------------------------------

    async def forward(
        self, fleet: Fleet, endpoint: str, req: ParsedRequest, ctx: TenantContext, rtt_ms: list[float] | None,
        idempotency_key: str | None = None,
    ) -> Response | ProxiedResponse | StreamRelay:
        t0 = time.perf_counter()
        now_s = time.monotonic()
        cands = self.candidates(fleet, req.model, rtt_ms, now_s)
        fallback_from = None
        if not cands:
            for fb in fleet.cfg.fallbacks_for(req.model):
                cands = self.candidates(fleet, fb, rtt_ms, now_s)
                if cands:  # a degraded answer beats an outage
                    self.metrics.fallbacks.labels(req.model, fb).inc()
                    fallback_from, req = req.model, req.for_model(fb)
                    break
            else:
                return self._unavailable(fleet, req.model, now_s)
        order = rank(fleet.cfg.policy_for(req.model), cands, self.rng)
        call = Call(endpoint, req, ctx, new_request_id(), t0, now_s + fleet.cfg.timeouts.total_s,
                    idempotency_key, fallback_from)
        if self.tracing is not None:
            call.span = self.tracing.request(endpoint, req.model, call.request_id)
        budget = self.budget
        budget.active += 1
        try:
            hedge_s = fleet.cfg.retries.hedge_after_s
            if hedge_s is not None and not req.stream:
                result, reasons = await self._hedged(fleet, call, order, hedge_s)
            else:
                result, reasons = await self._in_turn(fleet, call, order)
        finally:
            budget.active -= 1
        if isinstance(result, _Answer):
            return await self._answer(call, result)
        if result is not None:
            return result
        if not reasons:
            response = self._unavailable(fleet, req.model, time.monotonic())
        else:
            response = self.refuse(
                req.model, 502, f"every attempt failed ({'; '.join(reasons)})", code="upstream_failed",
                retry_after_s=1.0, request_id=call.request_id,
            )
        self._end_span(call, response.status_code, "no attempt succeeded")
        return response

    async def _in_turn(
        self, fleet: Fleet, call: Call, order: list[Candidate]
    ) -> tuple[_Answer | StreamRelay | None, list[str]]:
        """Attempts one after another, in failover order."""
        reasons: list[str] = []
        budget = self.budget
        for attempt, cand in enumerate(order[: fleet.cfg.retries.max_attempts]):
            s = fleet.states[cand.index]
            if attempt:
                if not budget.can_retry() or not s.available(time.monotonic()):
                    continue
                self.metrics.retries.labels(call.req.model).inc()
                budget.retries_in_flight += 1
            try:
                return await self._attempt(fleet, call, s, fleet.origins[cand.index], attempt), reasons
            except AttemptFailed as e:
                reasons.append(e.reason)
            finally:
                if attempt:
                    budget.retries_in_flight -= 1
        return None, reasons

    async def _hedged(
        self, fleet: Fleet, call: Call, order: list[Candidate], hedge_s: float
    ) -> tuple[_Answer | StreamRelay | None, list[str]]:
        """Non-streamed, with hedging: if no attempt has answered after ``hedge_s``, start the next one
        beside it (a retry, so within the budget); the first answer wins and the others are cancelled.
        A failed attempt starts the next one at once."""
        reasons: list[str] = []
        budget = self.budget
        queue = list(order[: fleet.cfg.retries.max_attempts])
        running: dict[asyncio.Task[Any], bool] = {}  # task -> counted as a retry

        def launch() -> bool:
            while queue:
                cand = queue.pop(0)
                s = fleet.states[cand.index]
                retry = bool(running) or bool(reasons)
                if retry:
                    if not budget.can_retry() or not s.available(time.monotonic()):
                        continue
                    self.metrics.retries.labels(call.req.model).inc()
                    budget.retries_in_flight += 1
                n = len(reasons) + len(running)
                running[asyncio.ensure_future(self._attempt(fleet, call, s, fleet.origins[cand.index], n))] = retry
                return True
            return False

        launch()
        try:
            while running:
                done, _ = await asyncio.wait(
                    running, timeout=hedge_s if queue else None, return_when=asyncio.FIRST_COMPLETED
                )
                if not done:
                    launch()  # the hedge
                    continue
                for task in done:
                    if running.pop(task):
                        budget.retries_in_flight -= 1
                    exc = task.exception()
                    if exc is None:
                        return task.result(), reasons
                    if not isinstance(exc, AttemptFailed):
                        raise exc
                    reasons.append(exc.reason)
                if not running:
                    launch()
            return None, reasons
        finally:
            for task, retry in running.items():
                task.cancel()
                if retry:
                    budget.retries_in_flight -= 1
            if running:
                await asyncio.gather(*running, return_exceptions=True)

    async def _attempt(
        self, fleet: Fleet, call: Call, s: BackendState, origin: Origin, attempt: int
    ) -> _Answer | StreamRelay:
        req = call.req
        timeouts = fleet.cfg.timeouts
        task = asyncio.current_task()
        assert task is not None
        t_send = time.perf_counter()
        epoch = s.start(time.monotonic())
        s.inflight[task] = False
        span = None
        headers = [("content-type", "application/json"), ("x-request-id", call.request_id)]
        if call.idempotency_key is not None:
            headers.append(("idempotency-key", call.idempotency_key))
        if self.tracing is not None and call.span is not None:
            span = self.tracing.attempt(call.span, s.cfg.name, s.cfg.provider, attempt)
            headers.extend(self.tracing.traceparent(span))
        resp: UpstreamResponse | None = None
        handed_over = False
        try:
            limit_s = min(timeouts.attempt_s, call.deadline_s - time.monotonic())
            async with asyncio.timeout(max(0.0, limit_s)):
                resp = await self.pool.request(
                    origin, "POST", f"/v1/{call.endpoint}", req.body, headers,
                    read_timeout_s=timeouts.stream_idle_s if req.stream else timeouts.attempt_s,
                    idempotent=call.idempotency_key is not None,
                )
                if resp.status_code in RETRYABLE_STATUS:
                    self._failed(s, f"http_{resp.status_code}")
                    raise AttemptFailed(f"{s.cfg.name}: HTTP {resp.status_code}")
                if req.stream and resp.status_code == 200:
                    first = await resp.next_chunk()
                    s.inflight.pop(task, None)
                    self._observe_ttfb(s, (time.perf_counter() - t_send) * 1000.0, epoch)
                    handed_over = True
                    return StreamRelay(self, call, s, resp, first, span)
                content = await resp.aread()
        except AttemptFailed as e:
            self._end_attempt(span, 502, e.reason)
            raise
        except asyncio.CancelledError:
            if not s.inflight.get(task):
                self._end_attempt(span, 499, "cancelled")
                raise
            task.uncancel()  # cancelled by an ejection of this backend: try the next one
            self._end_attempt(span, 503, "backend ejected")
            raise AttemptFailed(f"{s.cfg.name}: ejected while waiting") from None
        except _UPSTREAM_FAILURES as e:
            kind = "timeout" if isinstance(e, TimeoutError | UpstreamTimeout) else "connect"
            self._failed(s, kind)
            reason = f"{s.cfg.name}: {kind} ({type(e).__name__})"
            self._end_attempt(span, 504 if kind == "timeout" else 502, reason)
            raise AttemptFailed(reason) from None
        finally:
            s.inflight.pop(task, None)
            if not handed_over:
                s.finish()
                if resp is not None:
                    await resp.aclose()
        self._observe_ttfb(s, (time.perf_counter() - t_send) * 1000.0, epoch)
        self._end_attempt(span, resp.status_code)
        return _Answer(content, resp.status_code, resp.header("content-type", "application/json"), s)

    async def _answer(self, call: Call, a: _Answer) -> Response | ProxiedResponse:
        prompt, completion = usage_from_json(a.content) or (call.req.est_prompt_tokens, 0)
        try:
            await self.record(call, a.state, prompt, completion, a.status, False)
        except Exception as e:  # no durable record, no answer: the client may retry
            self._end_span(call, 503, "metering failed")
            return self.metering_failed(call, e)
        self._end_span(call, a.status, None, a.state)
        return ProxiedResponse(a.content, a.status, a.content_type, call.request_id, a.state.cfg.name,
                               call.fallback_from)

    # --- metering and tracing ------------------------------------------------------------------

    async def record(
        self, call: Call, s: BackendState, prompt: int, completion: int, status: int, streamed: bool
    ) -> None:
        req = call.req
        latency_s = time.perf_counter() - call.t0
        self.count(req.model, status)
        child = self._latency.get(req.model)
        if child is None:
            child = self._latency[req.model] = self.metrics.latency.labels(req.model)
        child.observe(latency_s)
        await self.sink.record(
            UsageRecord(
                tenant_id=call.ctx.tenant_id, key_id=call.ctx.key_id, model=req.model, provider=s.cfg.provider,
                site=s.cfg.site, backend=s.cfg.name, prompt_tokens=prompt, completion_tokens=completion,
                latency_ms=latency_s * 1000.0, status=status, streamed=streamed,
                time_unix_s=time.time(), request_id=call.request_id, tag=req.tag,
            )
        )

    def metering_failed(self, call: Call, e: Exception) -> Response:
        return self.refuse(
            call.req.model, 503,
            f"usage could not be recorded ({type(e).__name__}); the request was not billed, retry",
            code="metering_unavailable", retry_after_s=1.0, request_id=call.request_id,
        )

    def _end_attempt(self, span: Any, status: int, error: str | None = None) -> None:
        if span is not None and self.tracing is not None:
            self.tracing.end(span, status, error)

    def _end_span(self, call: Call, status: int, error: str | None, s: BackendState | None = None) -> None:
        if call.span is not None and self.tracing is not None:
            self.tracing.end(
                call.span, status, error, **{
                    "computemoat.backend": s.cfg.name if s else None,
                    "computemoat.fallback_from": call.fallback_from,
                },
            )
            call.span = None

    def end_stream_span(self, call: Call, status: int, s: BackendState, error: str | None = None) -> None:
        self._end_span(call, status, error, s)
