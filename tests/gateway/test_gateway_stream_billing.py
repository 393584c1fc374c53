"""Every streamed token billed: on the backend's own counts, and when the client leaves mid-stream."""

from __future__ import annotations

import socket
import time
from typing import Any

import httpx
import orjson
from gateway_helpers import CHAT, ListSink, backend, gateway_config, serve_app

from computemoat.gateway.app import create_app
from computemoat.gateway.mock_backend import MockBackend, MockSettings
from computemoat.gateway.stream import CLIENT_CLOSED


class BodyRecorder:
    """Wraps a backend and keeps the body of every POST it received."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.bodies: list[bytes] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.inner(scope, receive, send)
            return
        msg = await receive()
        self.bodies.append(msg.get("body", b""))

        async def replay() -> dict[str, Any]:
            return msg

        await self.inner(scope, replay, send)


def test_streams_are_billed_on_the_backends_counts_and_the_client_sees_what_it_asked_for() -> None:
    """The mock reports usage only when asked (as OpenAI does). Its prompt count is len(body) // 4 of the
    body it received: the oracle the record must carry, instead of the gateway's estimate."""
    rec = BodyRecorder(MockBackend(MockSettings(name="a", completion_tokens=6)))
    sink = ListSink()
    with serve_app(rec) as port:
        app = create_app(gateway_config([backend("a", port, "pa")]), usage_sink=sink)
        body = orjson.dumps({**CHAT, "stream": True})
        with serve_app(app) as gw, httpx.Client(base_url=f"http://127.0.0.1:{gw}") as c:
            plain = c.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
            asked = c.post("/v1/chat/completions", json={**CHAT, "stream": True,
                                                         "stream_options": {"include_usage": True}})
    upstream = orjson.loads(rec.bodies[0])
    assert upstream["stream_options"] == {"include_usage": True}
    assert {k: v for k, v in upstream.items() if k != "stream_options"} == orjson.loads(body)
    assert b'"usage"' not in plain.content and plain.content.endswith(b"data: [DONE]\n\n")
    assert plain.content.count(b"data: {") == 6
    assert b'"usage"' in asked.content  # asked for: passed through
    first = sink.records[0]
    assert first.prompt_tokens == len(rec.bodies[0]) // 4 != len(body) // 4
    assert (first.completion_tokens, first.status) == (6, 200)
    assert rec.bodies[1] == orjson.dumps({**CHAT, "stream": True, "stream_options": {"include_usage": True}})


def test_a_client_that_leaves_mid_stream_is_billed_for_what_it_was_sent(mock_server) -> None:
    port = mock_server(name="a", completion_tokens=20, chunk_interval_ms=150)
    sink = ListSink()
    app = create_app(gateway_config([backend("a", port, "pa")]), usage_sink=sink)
    body = orjson.dumps({**CHAT, "stream": True})
    with serve_app(app) as gw:
        with socket.create_connection(("127.0.0.1", gw)) as s:  # a raw client that can hang up at will
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                      b"content-length: %d\r\n\r\n%s" % (len(body), body))
            got = b""
            while got.count(b"data: {") < 3:
                got += s.recv(65536)
        deadline = time.monotonic() + 10
        while not sink.records and time.monotonic() < deadline:
            time.sleep(0.05)
        metrics = httpx.get(f"http://127.0.0.1:{gw}/metrics").text
    assert len(sink.records) == 1
    rec = sink.records[0]
    received = got.count(b"data: {")
    # billed for the events sent: at least those the client read, at most one more already on the wire
    assert rec.status == CLIENT_CLOSED and rec.streamed
    assert received <= rec.completion_tokens <= received + 1 < 20
    assert f'gateway_requests_total{{model="m",status="{CLIENT_CLOSED}"}} 1.0' in metrics
