"""Every answer counted, a health gauge per backend, model fallbacks, OpenTelemetry traces."""

from __future__ import annotations

import httpx
from gateway_helpers import CHAT, ListSink, backend, free_port, gateway_config, metric, serve_app
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from computemoat.gateway.app import create_app
from computemoat.gateway.hooks import Admission, TenantContext


class KeyAndLimit:
    async def authenticate(self, api_key: str | None) -> TenantContext | None:
        return TenantContext("t", "k") if api_key == "good" else None

    async def admit(self, ctx: TenantContext, model: str, est_tokens: int) -> Admission:
        return Admission(429, "limit", retry_after_s=1.0) if est_tokens > 1000 else Admission()


def test_every_answer_is_counted_by_status_and_each_backend_has_a_health_gauge(mock_server) -> None:
    up = mock_server(name="up")
    dead = free_port()
    cfg = gateway_config(
        [backend("up", up, "pa"), {**backend("dead", dead, "pb"), "models": ["gone"]}],
        health={"consecutive_errors": 1}, timeouts={"connect_s": 0.5, "attempt_s": 1, "total_s": 5},
    )
    key = {"Authorization": "Bearer good"}
    with serve_app(create_app(cfg, authenticator=KeyAndLimit())) as gw, \
            httpx.Client(base_url=f"http://127.0.0.1:{gw}") as c:
        sent = [
            c.post("/v1/chat/completions", json=CHAT),  # 401
            c.post("/v1/chat/completions", json={**CHAT, "model": "x"}, headers=key),  # 404
            c.post("/v1/chat/completions", json={**CHAT, "max_tokens": 5000}, headers=key),  # 429
            c.post("/v1/chat/completions", json=CHAT, headers=key),  # 200
            # its only backend refuses connections: out at the first active check, so 503
            c.post("/v1/chat/completions", json={**CHAT, "model": "gone"}, headers=key),
        ]
        text = c.get("/metrics").text
    assert [r.status_code for r in sent] == [401, 404, 429, 200, 503]
    assert sent[-1].json()["error"]["code"] == "no_healthy_backend"
    # oracle: each answer above appears once, under its status
    expected = {("unknown", "401"): 1, ("unknown", "404"): 1, ("m", "429"): 1, ("m", "200"): 1,
                ("gone", "503"): 1}
    for (model, status), n in expected.items():
        assert metric(text, f'gateway_requests_total{{model="{model}",status="{status}"}}') == n, (model, status)
    assert metric(text, "gateway_requests_total{") == len(sent)
    assert 'gateway_backend_healthy{backend="up"} 1.0' in text
    assert 'gateway_backend_healthy{backend="dead"} 0.0' in text


def test_a_model_whose_backends_are_all_down_falls_back_and_says_so(mock_server) -> None:
    live = mock_server(name="small")
    dead = free_port()
    cfg = gateway_config(
        [{**backend("big", dead, "pa"), "models": ["big-model"]},
         {**backend("small", live, "pb"), "models": ["small-model"]}],
        models={"big-model": {"fallbacks": ["small-model"]}},
        health={"consecutive_errors": 1}, timeouts={"connect_s": 0.5, "attempt_s": 1, "total_s": 5},
    )
    sink = ListSink()
    big = {**CHAT, "model": "big-model"}
    with serve_app(create_app(cfg, usage_sink=sink)) as gw, httpx.Client(base_url=f"http://127.0.0.1:{gw}") as c:
        # the dead backend refuses connections: it is out after the first active check or the first try
        first = c.post("/v1/chat/completions", json=big)
        r = c.post("/v1/chat/completions", json=big)
        with c.stream("POST", "/v1/chat/completions", json={**big, "stream": True}) as s:
            streamed = s.read()
            stream_headers = s.headers
        text = c.get("/metrics").text
    assert first.status_code in (200, 502)
    assert r.status_code == 200 and r.headers["x-computemoat-fallback-from"] == "big-model"
    assert r.json()["model"] == "small-model"  # the body the backend got names the fallback
    assert stream_headers["x-computemoat-fallback-from"] == "big-model" and streamed.endswith(b"data: [DONE]\n\n")
    n = 3 if first.status_code == 200 else 2
    assert [(rec.model, rec.backend) for rec in sink.records] == [("small-model", "small")] * n
    assert metric(text, 'gateway_fallbacks_total{fallback="small-model",model="big-model"}') == n


def test_traces_have_a_request_span_and_one_child_per_attempt(mock_server) -> None:
    bad, good = mock_server(name="bad", fail_rate=1.0), mock_server(name="good")
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    cfg = gateway_config([backend("bad", bad, "pa", usd_per_hour=1.0), backend("good", good, "pb", usd_per_hour=2.0)],
                         default_policy="cheapest")
    with serve_app(create_app(cfg, tracer_provider=provider)) as gw, \
            httpx.Client(base_url=f"http://127.0.0.1:{gw}") as c:
        r = c.post("/v1/chat/completions", json=CHAT)
    assert r.status_code == 200
    spans = exporter.get_finished_spans()
    (root,) = [s for s in spans if s.name == "gateway.request"]
    attempts = sorted((s for s in spans if s.name == "gateway.attempt"), key=lambda s: s.start_time or 0)
    assert [s.attributes["computemoat.backend"] for s in attempts] == ["bad", "good"]
    assert all(s.parent is not None and s.parent.span_id == root.context.span_id for s in attempts)
    assert [s.attributes["http.response.status_code"] for s in attempts] == [502, 200]
    assert root.attributes["computemoat.request_id"] == r.headers["x-request-id"]
    assert root.attributes["http.response.status_code"] == 200
