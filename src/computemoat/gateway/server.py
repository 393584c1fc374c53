"""Running the gateway and the mock backend under uvicorn with uvloop and httptools.

With ``workers > 1`` uvicorn starts that many processes, each building its own app through the
import-string factory ``computemoat.gateway.server:app_from_env`` from the ``COMPUTEMOAT_GATEWAY_*``
environment variables that ``serve`` sets. Each worker has its own routing/health state and its own
``/metrics``; anything that must be shared across workers (rate limits, metering) lives in the database.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from computemoat.gateway.config import GatewayConfig, load_config
from computemoat.gateway.mock_backend import MockBackend, MockSettings
from computemoat.model.errors import UserError

ENV_CONFIG = "COMPUTEMOAT_GATEWAY_CONFIG"
ENV_DATABASE_URL = "COMPUTEMOAT_GATEWAY_DATABASE_URL"
ENV_ADMIN_TOKEN = "COMPUTEMOAT_GATEWAY_ADMIN_TOKEN"
APP_FACTORY = "computemoat.gateway.server:app_from_env"


def _uvicorn_run(app: Any, host: str, port: int, log_level: str, workers: int = 1) -> None:
    import uvicorn

    uvicorn.run(
        app, host=host, port=port, loop="uvloop", http="httptools", log_level=log_level,
        access_log=False, lifespan="on", timeout_keep_alive=75, backlog=4096,
        workers=workers if workers > 1 else None, factory=isinstance(app, str),
    )


def build_app(cfg: GatewayConfig, database_url: str | None = None, admin_token: str | None = None) -> Any:
    """``create_app`` with tenancy (``gateway.tenancy.build_tenancy``) wired when a database or admin
    token is named."""
    from computemoat.gateway.app import create_app

    kwargs: dict[str, Any] = {}
    if database_url is not None or admin_token is not None:
        from computemoat.gateway.tenancy import build_tenancy

        authenticator, usage_sink, admin_router = build_tenancy(database_url, admin_token)
        kwargs = {"authenticator": authenticator, "usage_sink": usage_sink, "admin_router": admin_router}
    app = create_app(cfg, **kwargs)
    # Everything built so far (SQLAlchemy, pydantic, Starlette...) lives as long as the process; full
    # collections walking it cost ~20% of a worker's CPU under load (py-spy), so take it out of the
    # collector's sight. Done here, for metered and unmetered gateways alike, so benches compare fairly.
    gc.collect()
    gc.freeze()
    return app


def app_from_env() -> Any:
    """The app factory each uvicorn worker calls (``--factory``): config path, database URL and admin
    token come from ``$COMPUTEMOAT_GATEWAY_CONFIG``/``_DATABASE_URL``/``_ADMIN_TOKEN``."""
    path = os.environ.get(ENV_CONFIG)
    if not path:
        raise UserError(f"${ENV_CONFIG} is not set; it names the gateway YAML (computemoat serve sets it)")
    return build_app(load_config(path), os.environ.get(ENV_DATABASE_URL), os.environ.get(ENV_ADMIN_TOKEN))


def serve(
    config_path: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    database_url: str | None = None,
    admin_token: str | None = None,
    log_level: str = "warning",
    workers: int = 1,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Load the config (UserError on mistakes), wire tenancy when a database is named, and serve in
    ``workers`` processes. Mistakes surface here, in the parent, before any worker starts;
    ``on_ready`` runs once they are all checked (the CLI announces the address there)."""
    from computemoat.gateway.upstream import Origin

    cfg = load_config(config_path)
    for b in cfg.backends:
        Origin.from_backend(b)  # provider key variables set, CA files readable
    if workers <= 1:
        app = build_app(cfg, database_url, admin_token)
        if on_ready is not None:
            on_ready()
        _uvicorn_run(app, host, port, log_level)
        return
    os.environ[ENV_CONFIG] = str(Path(config_path).resolve())
    for name, value in ((ENV_DATABASE_URL, database_url), (ENV_ADMIN_TOKEN, admin_token)):
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    if on_ready is not None:
        on_ready()
    _uvicorn_run(APP_FACTORY, host, port, log_level, workers)


def run_mock_backend(settings: MockSettings, *, host: str = "127.0.0.1", port: int = 9001) -> None:
    _uvicorn_run(MockBackend(settings), host, port, "warning")
