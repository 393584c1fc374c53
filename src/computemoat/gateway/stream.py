"""Relaying one upstream SSE stream to the client, as a raw ASGI callable.

Metering rules: the usage record is written before ``data: [DONE]`` (or the stream's end) goes out;
a broken upstream is recorded (502) and ends with an error event; a client that disconnects mid-stream
is recorded with what it was sent (status 499, nginx's "client closed request"), because those tokens
were generated and served. A watcher task waits for the client's ``http.disconnect`` and cancels the
relay at once, so a client that left is never kept waiting on (or billed past) a slow upstream.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from starlette.types import Receive, Scope, Send

from computemoat.gateway.errors import sse_error_event
from computemoat.gateway.health import BackendState
from computemoat.gateway.upstream import UpstreamError, UpstreamResponse
from computemoat.gateway.usage import StreamMeter

if TYPE_CHECKING:
    from computemoat.gateway.proxy import Call, Gateway

log = logging.getLogger("computemoat.gateway")
CLIENT_CLOSED = 499  # the status a usage row gets when the client left mid-stream
_FAILURES = (UpstreamError, TimeoutError, OSError)


class StreamRelay:
    __slots__ = (
        "_client_gone", "_finished", "_recorded", "_recording", "attempt_span", "call", "first", "gw", "resp", "s",
    )

    def __init__(
        self, gw: Gateway, call: Call, s: BackendState, resp: UpstreamResponse, first: bytes, attempt_span: Any
    ) -> None:
        self.gw = gw
        self.call = call
        self.s = s
        self.resp = resp
        self.first = first
        self.attempt_span = attempt_span
        self._client_gone = False
        self._finished = False
        self._recording = False
        self._recorded = False

    @property
    def status_code(self) -> int:
        return 200

    def _headers(self) -> list[tuple[bytes, bytes]]:
        h = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            (b"x-request-id", self.call.request_id.encode()),
            (b"x-computemoat-backend", self.s.cfg.name.encode("latin-1")),
        ]
        if self.call.fallback_from is not None:
            h.append((b"x-computemoat-fallback-from", self.call.fallback_from.encode("latin-1")))
        return h

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        assert task is not None
        watcher = asyncio.get_running_loop().create_task(self._watch(receive, task))
        meter = StreamMeter(strip_usage=not self.call.req.client_wants_usage)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self._headers()})
            await self._relay(send, meter)
        except asyncio.CancelledError:
            if not self._client_gone:
                raise
            task.uncancel()
            await self._record_left(meter)
        finally:
            self._finished = True
            watcher.cancel()
            self.s.finish()
            await self.resp.aclose()
            self.gw._end_attempt(self.attempt_span, 200)

    async def _watch(self, receive: Receive, task: asyncio.Task[Any]) -> None:
        """The request body was read already, so the next message is the client leaving."""
        while (await receive())["type"] != "http.disconnect":
            pass
        if not self._finished:
            self._client_gone = True
            if not self._recording:
                task.cancel("client disconnected")

    async def _relay(self, send: Send, meter: StreamMeter) -> None:
        call, s = self.call, self.s
        chunk = self.first
        try:
            while chunk:
                out, done_at = meter.feed(chunk)
                if done_at >= 0 and not self._recorded:
                    if done_at:
                        await send({"type": "http.response.body", "body": out[:done_at], "more_body": True})
                    if not await self._record(meter, 200, send):
                        return
                    out = out[done_at:]
                if out:
                    await send({"type": "http.response.body", "body": out, "more_body": True})
                if self._client_gone:
                    return
                if time.monotonic() > call.deadline_s:
                    raise TimeoutError("total timeout")
                chunk = await self.resp.next_chunk()
            rest = meter.flush()
            if not self._recorded and not await self._record(meter, 200, send):
                return
        except _FAILURES as e:
            self.gw._failed(s, "stream_broken")
            if not self._recorded:
                self._recorded = True
                prompt, completion = meter.tokens(call.req.est_prompt_tokens)
                try:  # a failed record must not hide the break: the error event below still goes out
                    await self.gw.record(call, s, prompt, completion, 502, True)
                except Exception:
                    log.exception("usage record of a broken stream failed (request %s)", call.request_id)
            self.gw.end_stream_span(call, 502, s, "upstream broke off the stream")
            self._finished = True
            event = sse_error_event(f"upstream {s.cfg.name} broke off the stream ({type(e).__name__})")
            await send({"type": "http.response.body", "body": event, "more_body": False})
            return
        self._finished = True
        await send({"type": "http.response.body", "body": rest, "more_body": False})

    async def _record(self, meter: StreamMeter, status: int, send: Send) -> bool:
        """Write the record before the last byte; on failure end with an error event instead."""
        call = self.call
        prompt, completion = meter.tokens(call.req.est_prompt_tokens)
        self._recording = True
        self._recorded = True
        try:
            await self.gw.record(call, self.s, prompt, completion, status, True)
        except Exception as e:
            self.gw.count(call.req.model, 503)
            self.gw.end_stream_span(call, 503, self.s, "metering failed")
            self._finished = True
            event = sse_error_event(
                f"usage could not be recorded ({type(e).__name__}); the request was not billed, retry",
                code="metering_unavailable",
            )
            await send({"type": "http.response.body", "body": event, "more_body": False})
            return False
        finally:
            self._recording = False
        self.gw.end_stream_span(call, status, self.s)
        return True

    async def _record_left(self, meter: StreamMeter) -> None:
        if self._recorded:
            return
        self._recorded = True
        call = self.call
        prompt, completion = meter.tokens(call.req.est_prompt_tokens)
        try:
            await self.gw.record(call, self.s, prompt, completion, CLIENT_CLOSED, True)
        except Exception:
            log.exception("usage record of a stream the client left failed (request %s)", call.request_id)
        self.gw.end_stream_span(call, CLIENT_CLOSED, self.s, "client disconnected")
