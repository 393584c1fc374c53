"""End to end through real HTTP: client → gateway (uvicorn) → mock backends (uvicorn), all on 127.0.0.1."""

from __future__ import annotations

import httpx
import orjson
from fastapi import APIRouter
from gateway_helpers import CHAT, ListSink, backend, gateway_config, serve_app

from computemoat.gateway.app import create_app
from computemoat.gateway.hooks import Admission, TenantContext


def test_chat_is_proxied_and_metered_with_upstream_usage(mock_server) -> None:
    port = mock_server(name="a", completion_tokens=5)
    sink = ListSink()
    app = create_app(gateway_config([backend("a", port, "pa")]), usage_sink=sink)
    with serve_app(app) as gw, httpx.Client(base_url=f"http://127.0.0.1:{gw}") as c:
        r = c.post("/v1/chat/completions", json=CHAT)
        assert r.status_code == 200
        assert r.json()["choices"][0]["message"]["content"] == "tok " * 5
        assert r.headers["x-computemoat-backend"] == "a"
        assert c.post("/v1/completions", json={"model": "m", "prompt": "hi"}).json()["object"] == "text_completion"
        assert len(c.post("/v1/embeddings", json={"model": "m", "input": ["a", "b"]}).json()["data"]) == 2
        assert [m["id"] for m in c.get("/v1/models").json()["data"]] == ["m"]
    rec = sink.records[0]
    assert (rec.tenant_id, rec.backend, rec.provider, rec.status, rec.streamed) == ("anonymous", "a", "pa", 200, False)
    assert rec.completion_tokens == 5 and rec.prompt_tokens == r.json()["usage"]["prompt_tokens"]
    assert rec.request_id == r.headers["x-request-id"]
    assert len(sink.records) == 3


def test_stream_passes_every_chunk_and_records_before_done(mock_server) -> None:
    port = mock_server(name="a", completion_tokens=6)
    sink = ListSink()
    app = create_app(gateway_config([backend("a", port, "pa")]), usage_sink=sink)
    with serve_app(app) as gw, httpx.Client(base_url=f"http://127.0.0.1:{gw}") as c:
        with c.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            events = [line for line in r.iter_lines() if line.startswith("data: ")]
        body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
        with c.stream("POST", "/v1/chat/completions", json=body) as r:
            assert r.read().endswith(b"data: [DONE]\n\n")
    assert len(events) == 7 and events[-1] == "data: [DONE]"
    assert [(r.streamed, r.completion_tokens) for r in sink.records] == [(True, 6), (True, 6)]


def test_failing_meter_means_no_answer(mock_server) -> None:
    """A response the client received always has a durable record: no record, no response."""
    port = mock_server(name="a")
    app = create_app(gateway_config([backend("a", port, "pa")]), usage_sink=ListSink(fail=True))
    with serve_app(app) as gw, httpx.Client(base_url=f"http://127.0.0.1:{gw}") as c:
        r = c.post("/v1/chat/completions", json=CHAT)
        assert r.status_code == 503 and r.json()["error"]["code"] == "metering_unavailable"
        with c.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as r:
            text = r.read()
    assert b"[DONE]" not in text and b'"error"' in text


def test_bad_input_gets_openai_errors_never_500(mock_server) -> None:
    port = mock_server(name="a")
    app = create_app(gateway_config([backend("a", port, "pa")], max_body_bytes=2048))
    cases = [
        (b"{not json", 400, "invalid_json"),
        (b"[1, 2]", 400, "invalid_json"),
        (orjson.dumps({"messages": []}), 400, None),
        (orjson.dumps({"model": 7, "messages": [{}]}), 400, None),
        (orjson.dumps({"model": "m", "messages": "hi"}), 400, None),
        (orjson.dumps({"model": "m", "messages": [{}], "stream": "yes"}), 400, None),
        (orjson.dumps({"model": "m", "messages": [{}], "max_tokens": -1}), 400, None),
        (orjson.dumps({"model": "gpt-9", "messages": [{}]}), 404, "model_not_found"),
        (orjson.dumps({"model": "m", "messages": [{"content": "x" * 4096}]}), 413, None),
    ]
    with serve_app(app) as gw, httpx.Client(base_url=f"http://127.0.0.1:{gw}") as c:
        for body, status, code in cases:
            r = c.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
            assert r.status_code == status, (body, r.text)
            err = r.json()["error"]
            assert err["message"] and err["type"]
            if code:
                assert err["code"] == code
        assert c.get("/v1/nothing").status_code == 404
        assert c.get("/v1/chat/completions").status_code == 405
        r = c.post("/v1/chat/completions", json=CHAT, headers={"X-User-Region": "Atlantis"})
        assert r.status_code == 400 and "Atlantis" in r.json()["error"]["message"]
        r = c.post("/v1/chat/completions", json=CHAT, headers={"X-User-Lat": "north", "X-User-Lon": "0"})
        assert r.status_code == 400


class KeyAuth:
    """A real Authenticator: one key, and a tenant whose budget is spent."""

    async def authenticate(self, api_key: str | None) -> TenantContext | None:
        return {"k1": TenantContext("t1", "k1"), "broke": TenantContext("t2", "k2")}.get(api_key or "")

    async def admit(self, ctx: TenantContext, model: str, est_tokens: int) -> Admission:
        if ctx.tenant_id == "t2":
            return Admission(402, "budget exhausted for tenant t2")
        return Admission(429, "slow down", retry_after_s=7.0) if est_tokens > 1000 else Admission()


def test_authenticate_and_admit_are_called(mock_server) -> None:
    port = mock_server(name="a")
    sink = ListSink()
    app = create_app(gateway_config([backend("a", port, "pa")]), authenticator=KeyAuth(), usage_sink=sink)
    with serve_app(app) as gw, httpx.Client(base_url=f"http://127.0.0.1:{gw}") as c:
        assert c.post("/v1/chat/completions", json=CHAT).status_code == 401
        bad = c.post("/v1/chat/completions", json=CHAT, headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401 and bad.json()["error"]["type"] == "authentication_error"
        r = c.post("/v1/chat/completions", json=CHAT, headers={"Authorization": "Bearer broke"})
        assert r.status_code == 402 and "budget" in r.json()["error"]["message"]
        r = c.post("/v1/chat/completions", json={**CHAT, "max_tokens": 5000}, headers={"Authorization": "Bearer k1"})
        assert r.status_code == 429 and r.headers["retry-after"] == "7"
        assert c.post("/v1/chat/completions", json=CHAT, headers={"Authorization": "Bearer k1"}).status_code == 200
    assert [(r.tenant_id, r.key_id) for r in sink.records] == [("t1", "k1")]


def test_user_region_routes_to_the_nearest_site(mock_server) -> None:
    us, eu = mock_server(name="us"), mock_server(name="eu")
    cfg = gateway_config(
        [backend("us", us, "pa", 39.04, -77.49), backend("eu", eu, "pb", 52.37, 4.90)],
        user_regions=[{"name": "London", "lat_deg": 51.51, "lon_deg": -0.13},
                      {"name": "Boston", "lat_deg": 42.36, "lon_deg": -71.06}],
    )
    with serve_app(create_app(cfg)) as gw, httpx.Client(base_url=f"http://127.0.0.1:{gw}") as c:
        for region, want in (("London", "eu"), ("Boston", "us")):
            got = {c.post("/v1/chat/completions", json=CHAT, headers={"X-User-Region": region})
                   .headers["x-computemoat-backend"] for _ in range(10)}
            assert got == {want}
        r = c.post("/v1/chat/completions", json=CHAT, headers={"X-User-Lat": "48.85", "X-User-Lon": "2.35"})
        assert r.headers["x-computemoat-backend"] == "eu"


def test_health_metrics_and_admin_router(mock_server) -> None:
    port = mock_server(name="a")
    admin = APIRouter()

    @admin.get("/ping")
    async def ping() -> dict[str, str]:
        return {"admin": "pong"}

    app = create_app(gateway_config([backend("a", port, "pa")]), admin_router=admin)
    with serve_app(app) as gw, httpx.Client(base_url=f"http://127.0.0.1:{gw}") as c:
        c.post("/v1/chat/completions", json=CHAT)
        assert c.get("/healthz").json() == {"status": "ok"}
        assert c.get("/readyz").json()["available_backends"] == {"m": 1}
        text = c.get("/metrics").text
        assert 'gateway_requests_total{model="m",status="200"} 1.0' in text
        assert "gateway_upstream_ttfb_seconds_bucket" in text
        assert c.get("/admin/ping").json() == {"admin": "pong"}


class BrokenAuth:
    """An Authenticator with a bug: the gateway must answer 500 in the OpenAI shape, not drop the line."""

    async def authenticate(self, api_key: str | None) -> TenantContext | None:
        raise KeyError("bug")

    async def admit(self, ctx: TenantContext, model: str, est_tokens: int) -> Admission:
        return Admission()


def test_raw_asgi_path_reads_chunked_bodies_and_maps_crashes(mock_server) -> None:
    """The proxied POSTs bypass Starlette's request layer: bodies sent in pieces (no Content-Length)
    are read whole and checked against the size limit, and a crash inside still becomes a 500 body."""
    port = mock_server(name="a")
    sink = ListSink()
    app = create_app(gateway_config([backend("a", port, "pa")], max_body_bytes=2048), usage_sink=sink)
    body = orjson.dumps(CHAT)
    with serve_app(app) as gw, httpx.Client(base_url=f"http://127.0.0.1:{gw}") as c:
        pieces = [body[:5], body[5:20], body[20:]]
        r = c.post("/v1/chat/completions", content=iter(pieces), headers={"content-type": "application/json"})
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        assert int(r.headers["content-length"]) == len(r.content)
        big = iter([b'{"model": "m", "messages": [', b'"x",' * 600, b'"x"]}'])
        r = c.post("/v1/chat/completions", content=big)
        assert r.status_code == 413 and r.json()["error"]["type"] == "invalid_request_error"
    assert len(sink.records) == 1  # the 413 never reached a backend
    broken = create_app(gateway_config([backend("a", port, "pa")]), authenticator=BrokenAuth())
    with serve_app(broken) as gw, httpx.Client(base_url=f"http://127.0.0.1:{gw}") as c:
        r = c.post("/v1/chat/completions", json=CHAT)
        assert r.status_code == 500 and r.json()["error"]["message"].startswith("internal error (KeyError)")
