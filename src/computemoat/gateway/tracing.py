"""OpenTelemetry traces, optional (``pip install computemoat[otel]``): one span per request
(``gateway.request``) with a child per upstream attempt (``gateway.attempt``), and the W3C
``traceparent`` sent upstream so a backend's own spans join the trace.

Off unless ``create_app(tracer_provider=...)`` is given one (any exporter: OTLP, console, in-memory),
so the request path pays one ``is None`` test when tracing is off.
"""

from __future__ import annotations

from typing import Any


class Tracing:
    def __init__(self, tracer_provider: Any) -> None:
        from opentelemetry import trace
        from opentelemetry.trace import Status, StatusCode
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self._trace = trace
        self._status, self._codes = Status, StatusCode
        self._propagator = TraceContextTextMapPropagator()
        self.tracer = tracer_provider.get_tracer("computemoat.gateway")

    def request(self, endpoint: str, model: str, request_id: str) -> Any:
        return self.tracer.start_span(
            "gateway.request", kind=self._trace.SpanKind.SERVER,
            attributes={"http.route": f"/v1/{endpoint}", "gen_ai.request.model": model,
                        "computemoat.request_id": request_id},
        )

    def attempt(self, parent: Any, backend: str, provider: str, attempt: int) -> Any:
        ctx = self._trace.set_span_in_context(parent)
        return self.tracer.start_span(
            "gateway.attempt", context=ctx, kind=self._trace.SpanKind.CLIENT,
            attributes={"computemoat.backend": backend, "computemoat.provider": provider,
                        "computemoat.attempt": attempt},
        )

    def traceparent(self, span: Any) -> list[tuple[str, str]]:
        carrier: dict[str, str] = {}
        self._propagator.inject(carrier, context=self._trace.set_span_in_context(span))
        return list(carrier.items())

    def end(self, span: Any, status: int, error: str | None = None, **attributes: Any) -> None:
        span.set_attribute("http.response.status_code", status)
        for k, v in attributes.items():
            if v is not None:
                span.set_attribute(k, v)
        if error is not None or status >= 500:
            span.set_status(self._status(self._codes.ERROR, error or f"HTTP {status}"))
        span.end()
