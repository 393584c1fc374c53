"""The ASGI app: OpenAI-compatible endpoints, health, readiness and metrics, on plain Starlette.

Starlette rather than FastAPI on the hot path: the proxy endpoints need no schema generation or
dependency injection, and each layer FastAPI adds costs time per request (bench/gateway_bench.py).
FastAPI is loaded only when an admin router is mounted.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Receive, Scope, Send

from computemoat.gateway.checks import ActiveChecker, RttModel
from computemoat.gateway.config import GatewayConfig
from computemoat.gateway.errors import RequestError, error_response
from computemoat.gateway.hooks import Authenticator, NoMetering, OpenAccess, UsageSink
from computemoat.gateway.metrics import build_metrics
from computemoat.gateway.proxy import Gateway, ProxiedResponse
from computemoat.gateway.requests import (
    AUTHORIZATION,
    CONTENT_LENGTH,
    bearer_key,
    parse_body,
    read_body,
    user_location,
    wanted_headers,
)

# The proxied endpoints: /v1/NAME
PROXIED = ("chat/completions", "completions", "embeddings")
ProxyHandler = Callable[[str, Scope, Receive], Awaitable["Response | ProxiedResponse | None"]]


class GatewayApp(Starlette):
    """Starlette for every route but the hot one: a ``POST`` to a proxied endpoint goes straight from
    the ASGI scope to the proxy, past Starlette's middleware, router, ``Request`` and exception layers
    (together about a fifth of the gateway's CPU per request, py-spy). What those layers did for it is
    done here: an exception before the response started becomes the same 500 error body, and is
    re-raised so the server logs it."""

    def __init__(
        self, proxy: ProxyHandler, internal_error: Callable[[BaseException], Response], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._proxy = proxy
        self._internal_error = internal_error
        self._fast_paths = {f"/v1/{name}": name for name in PROXIED}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            name = self._fast_paths.get(scope["path"])
            if name is not None:
                try:
                    response = await self._proxy(name, scope, receive)
                except Exception as e:
                    await self._internal_error(e)(scope, receive, send)
                    raise
                if response is not None:
                    await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def create_app(
    config: GatewayConfig,
    *,
    authenticator: Authenticator | None = None,
    usage_sink: UsageSink | None = None,
    admin_router: Any | None = None,
) -> Starlette:
    """Build the gateway. ``authenticator``/``usage_sink`` default to open, unmetered access;
    ``admin_router`` (a FastAPI ``APIRouter``) is mounted at ``/admin``."""
    authn: Authenticator = authenticator or OpenAccess()
    sink: UsageSink = usage_sink or NoMetering()
    metrics = build_metrics()
    gw = Gateway(config, sink, metrics)
    rtt = RttModel(config)
    created_s = int(time.time())

    async def proxy(name: str, scope: Scope, receive: Receive) -> Response | ProxiedResponse | None:
        """One proxied request, from the raw ASGI scope (None: the client left before its body)."""
        try:
            headers = wanted_headers(scope["headers"])
            ctx = await authn.authenticate(bearer_key(headers.get(AUTHORIZATION)))
            if ctx is None:
                return error_response(
                    401, "missing or invalid API key; send 'Authorization: Bearer <key>'",
                    code="invalid_api_key",
                )
            body = await read_body(receive, headers.get(CONTENT_LENGTH), config.max_body_bytes)
            if body is None:
                return None
            req = parse_body(body, name)
            if req.model not in gw.by_model:
                return error_response(
                    404, f"model {req.model!r} is not served here; GET /v1/models lists the models",
                    param="model", code="model_not_found",
                )
            rtt_ms = rtt.resolve(*user_location(headers))
        except RequestError as e:
            return e.response()
        admission = await authn.admit(ctx, req.model, req.est_prompt_tokens + req.max_tokens)
        if not admission.ok:
            return error_response(
                admission.status, admission.message or "request refused by rate limit or budget",
                retry_after_s=admission.retry_after_s,
            )
        return await gw.forward(name, req, ctx, rtt_ms)

    async def models(request: Request) -> Response:
        data = [{"id": m, "object": "model", "created": created_s, "owned_by": "computemoat"}
                for m in config.served_models]
        return _json({"object": "list", "data": data})

    async def healthz(request: Request) -> Response:
        return _json({"status": "ok"})

    async def readyz(request: Request) -> Response:
        """Ready when every served model has at least one routable backend."""
        now_s = time.monotonic()
        per_model = {m: sum(s.available(now_s) for _, s in gw.by_model[m]) for m in config.served_models}
        down = sorted(m for m, n in per_model.items() if n == 0)
        body = {"status": "ready" if not down else "degraded", "available_backends": per_model, "down": down}
        return _json(body, 200 if not down else 503)

    async def metrics_endpoint(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def not_found(request: Request, exc: Exception) -> Response:
        return error_response(404, f"no route for {request.method} {request.url.path}", code="not_found")

    async def method_not_allowed(request: Request, exc: Exception) -> Response:
        return error_response(405, f"{request.method} is not allowed on {request.url.path}")

    def internal_error(exc: BaseException) -> Response:
        return error_response(500, f"internal error ({type(exc).__name__}); see the gateway log")

    async def server_error(request: Request, exc: Exception) -> Response:
        return internal_error(exc)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        checker = ActiveChecker(config, gw.states, gw.origins)
        checker.start()
        app.state.gateway = gw
        try:
            yield
        finally:
            await checker.stop()
            await gw.aclose()
            await sink.aclose()

    async def method_only_post(request: Request) -> Response:  # never reached for POST: see GatewayApp
        raise AssertionError("proxied routes are served by GatewayApp.__call__")

    routes: list[BaseRoute] = [
        # listed so that Starlette answers 405 to other methods on them; POSTs never get this far
        *(Route(f"/v1/{name}", method_only_post, methods=["POST"]) for name in PROXIED),
        Route("/v1/models", models, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]
    if admin_router is not None:
        from fastapi import FastAPI

        admin = FastAPI(title="computemoat admin", openapi_url="/openapi.json")
        admin.include_router(admin_router)
        routes.append(Mount("/admin", app=admin))
    app = GatewayApp(
        proxy, internal_error,
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: not_found, 405: method_not_allowed, 500: server_error},
    )
    app.state.gateway = gw
    return app
