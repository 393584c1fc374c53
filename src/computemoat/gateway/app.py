"""The ASGI app: OpenAI-compatible endpoints, health, readiness and metrics, on plain Starlette.

Starlette rather than FastAPI on the hot path: the proxy endpoints need no schema generation or
dependency injection, and each layer FastAPI adds costs time per request (bench/gateway_bench.py).
FastAPI is loaded only when an admin router is mounted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Receive, Scope, Send

from computemoat.gateway.checks import ActiveChecker
from computemoat.gateway.config import GatewayConfig, load_config
from computemoat.gateway.errors import RequestError, error_response
from computemoat.gateway.hooks import AdmissionUnavailable, Authenticator, NoMetering, OpenAccess, UsageSink
from computemoat.gateway.metrics import UNKNOWN_MODEL, build_metrics
from computemoat.gateway.proxy import Gateway
from computemoat.gateway.requests import (
    AUTHORIZATION,
    CONTENT_LENGTH,
    IDEMPOTENCY_KEY,
    bearer_key,
    parse_body,
    read_body,
    user_location,
    wanted_headers,
)
from computemoat.model.errors import UserError

# The proxied endpoints: /v1/NAME
PROXIED = ("chat/completions", "completions", "embeddings")
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
ProxyHandler = Callable[[str, Scope, Receive], Awaitable["ASGIApp | None"]]
log = logging.getLogger("computemoat.gateway")
GAUGE_REFRESH_S = 1.0  # multiprocess mode: how often a worker writes its per-backend gauges


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
    config_path: str | Path | None = None,
    admin_token: str | None = None,
    tracer_provider: Any | None = None,
) -> Starlette:
    """Build the gateway. ``authenticator``/``usage_sink`` default to open, unmetered access;
    ``admin_router`` (a FastAPI ``APIRouter``) is mounted at ``/admin``. With ``config_path`` the
    config can be reloaded from that file (SIGHUP, or ``POST /admin/reload`` with ``admin_token``);
    ``tracer_provider`` (OpenTelemetry) turns tracing on."""
    authn: Authenticator = authenticator or OpenAccess()
    sink: UsageSink = usage_sink or NoMetering()
    metrics = build_metrics()
    tracing = None
    if tracer_provider is not None:
        from computemoat.gateway.tracing import Tracing

        tracing = Tracing(tracer_provider)
    gw = Gateway(config, sink, metrics, tracing=tracing)
    open_access = isinstance(authn, OpenAccess)
    created_s = int(time.time())

    async def proxy(name: str, scope: Scope, receive: Receive) -> ASGIApp | None:
        """One proxied request, from the raw ASGI scope (None: the client left before its body)."""
        model: str | None = None
        try:
            headers = wanted_headers(scope["headers"])
            ctx = await authn.authenticate(bearer_key(headers.get(AUTHORIZATION)))
            if ctx is None:
                return gw.refuse(None, 401, "missing or invalid API key; send 'Authorization: Bearer <key>'",
                                 code="invalid_api_key")
            body = await read_body(receive, headers.get(CONTENT_LENGTH), gw.cfg.max_body_bytes)
            if body is None:
                return None
            req = parse_body(body, name)
            model = req.model
            fleet = gw.fleet  # one fleet for the whole request, even across a reload
            if req.model not in fleet.by_model:
                return gw.refuse(None, 404, f"model {req.model!r} is not served here; GET /v1/models lists the models",
                                 param="model", code="model_not_found")
            rtt_ms = fleet.rtt.resolve(*user_location(headers))
            admission = await authn.admit(ctx, req.model, req.est_prompt_tokens + req.max_tokens)
        except RequestError as e:
            return gw.refuse(model, e.status, e.message, param=e.param, code=e.code)
        except AdmissionUnavailable as e:
            return gw.refuse(model, 503, f"admission is unavailable right now ({e}); retry later",
                             code="admission_unavailable", retry_after_s=e.retry_after_s)
        if not admission.ok:
            return gw.refuse(
                req.model, admission.status, admission.message or "request refused by rate limit or budget",
                retry_after_s=admission.retry_after_s,
                code="admission_unavailable" if admission.status == 503 else None,
            )
        return await gw.forward(fleet, name, req, ctx, rtt_ms, headers.get(IDEMPOTENCY_KEY))

    async def authorized(request: Request) -> Response | None:
        """``/v1/models`` needs a key as soon as tenancy is on."""
        if open_access:
            return None
        try:
            ctx = await authn.authenticate(bearer_key(request.headers.get("authorization")))
        except AdmissionUnavailable as e:
            return gw.refuse(None, 503, f"authentication is unavailable right now ({e}); retry later",
                             code="admission_unavailable", retry_after_s=e.retry_after_s)
        if ctx is None:
            return gw.refuse(None, 401, "missing or invalid API key; send 'Authorization: Bearer <key>'",
                             code="invalid_api_key")
        return None

    def model_card(m: str) -> dict[str, Any]:
        return {"id": m, "object": "model", "created": created_s, "owned_by": "computemoat"}

    async def models(request: Request) -> Response:
        refused = await authorized(request)
        if refused is not None:
            return refused
        return _json({"object": "list", "data": [model_card(m) for m in gw.cfg.served_models]})

    async def model(request: Request) -> Response:
        refused = await authorized(request)
        if refused is not None:
            return refused
        m = request.path_params["model"]
        if m not in gw.fleet.by_model:
            return gw.refuse(None, 404, f"model {m!r} is not served here; GET /v1/models lists the models",
                             param="model", code="model_not_found")
        return _json(model_card(m))

    async def healthz(request: Request) -> Response:
        return _json({"status": "ok"})

    async def readyz(request: Request) -> Response:
        """Ready when every served model has at least one routable backend."""
        now_s = time.monotonic()
        fleet = gw.fleet
        per_model = {m: fleet.available(m, now_s) for m in fleet.cfg.served_models}
        down = sorted(m for m, n in per_model.items() if n == 0)
        body = {"status": "ready" if not down else "degraded", "available_backends": per_model, "down": down}
        return _json(body, 200 if not down else 503)

    async def metrics_endpoint(request: Request) -> Response:
        gw.refresh_gauges()
        text, content_type = metrics.exposition()
        return Response(text, media_type=content_type)

    def reload_config() -> tuple[int, dict[str, Any]]:
        """Read and validate the config file, then swap it in; on any mistake keep the old one."""
        if config_path is None:
            return 409, {"status": "not_reloaded", "errors": ["the gateway was not started from a config file"]}
        try:
            fleet = gw.reload(load_config(config_path))
        except UserError as e:
            metrics.reloads.labels("rejected").inc()
            for line in e.lines:
                log.error("config reload refused, old config kept: %s", line)
            return 422, {"status": "not_reloaded", "errors": list(e.lines)}
        metrics.reloads.labels("applied").inc()
        names = [s.cfg.name for s in fleet.states]
        log.warning("config reloaded from %s: %d backends", config_path, len(names))
        return 200, {"status": "reloaded", "backends": names, "models": list(fleet.cfg.served_models)}

    async def reload_endpoint(request: Request) -> Response:
        if admin_token is None:
            return error_response(403, "the reload endpoint is disabled: start the gateway with an admin token "
                                       "(or send it SIGHUP)", code="forbidden")
        token = bearer_key(request.headers.get("authorization")) or ""
        if not hmac.compare_digest(token.encode("utf-8", "surrogatepass"), admin_token.encode()):
            return error_response(401, "send 'Authorization: Bearer <admin token>'", code="invalid_api_key")
        status, body = reload_config()
        return _json(body, status)

    async def not_found(request: Request, exc: Exception) -> Response:
        return gw.refuse(None, 404, f"no route for {request.method} {request.url.path}", code="not_found")

    async def method_not_allowed(request: Request, exc: Exception) -> Response:
        return gw.refuse(None, 405, f"{request.method} is not allowed on {request.url.path}")

    def internal_error(exc: BaseException) -> Response:
        gw.count(UNKNOWN_MODEL, 500)
        return error_response(500, f"internal error ({type(exc).__name__}); see the gateway log")

    async def server_error(request: Request, exc: Exception) -> Response:
        return internal_error(exc)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        checker = ActiveChecker(lambda: (gw.fleet.cfg.health, gw.fleet.states, gw.fleet.origins), gw.refresh_gauges)
        checker.start()
        app.state.gateway = gw
        loop = asyncio.get_running_loop()
        hup = _on_sighup(loop, reload_config) if config_path is not None else False
        refresher = loop.create_task(_refresh_gauges(gw)) if metrics.multiprocess_dir is not None else None
        try:
            yield
        finally:
            if hup:
                loop.remove_signal_handler(signal.SIGHUP)
            if refresher is not None:
                refresher.cancel()
            await checker.stop()
            await gw.aclose()
            await sink.aclose()

    async def method_only_post(request: Request) -> Response:  # never reached for POST: see GatewayApp
        raise AssertionError("proxied routes are served by GatewayApp.__call__")

    routes: list[BaseRoute] = [
        # listed so that Starlette answers 405 to other methods on them; POSTs never get this far
        *(Route(f"/v1/{name}", method_only_post, methods=["POST"]) for name in PROXIED),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/models/{model:path}", model, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/admin/reload", reload_endpoint, methods=["POST"]),
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
    app.state.reload_config = reload_config
    return app


def _on_sighup(loop: asyncio.AbstractEventLoop, reload_config: Callable[[], tuple[int, dict[str, Any]]]) -> bool:
    """Reload on SIGHUP; only possible in the main thread (not when a test serves from a thread)."""
    try:
        loop.add_signal_handler(signal.SIGHUP, reload_config)
    except (ValueError, RuntimeError, NotImplementedError):
        return False
    return True


async def _refresh_gauges(gw: Gateway) -> None:
    while True:
        gw.refresh_gauges()
        await asyncio.sleep(GAUGE_REFRESH_S)
