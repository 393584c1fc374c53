"""Running the gateway and the mock backend under uvicorn with uvloop and httptools."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from computemoat.gateway.config import load_config
from computemoat.gateway.mock_backend import MockBackend, MockSettings


def _uvicorn_run(app: Any, host: str, port: int, log_level: str) -> None:
    import uvicorn

    uvicorn.run(
        app, host=host, port=port, loop="uvloop", http="httptools", log_level=log_level,
        access_log=False, lifespan="on", timeout_keep_alive=75, backlog=4096,
    )


def serve(
    config_path: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    database_url: str | None = None,
    admin_token: str | None = None,
    log_level: str = "warning",
) -> None:
    """Load the config (UserError on mistakes), wire tenancy when a database is named, and serve.

    ``gateway.tenancy.build_tenancy(database_url, admin_token)`` returns the ``create_app`` keyword
    arguments: a mapping with ``authenticator``/``usage_sink``/``admin_router``, or that triple."""
    from computemoat.gateway.app import create_app

    cfg = load_config(config_path)
    kwargs: dict[str, Any] = {}
    if database_url is not None or admin_token is not None:
        from computemoat.gateway.tenancy import build_tenancy  # type: ignore[import-not-found]

        built = build_tenancy(database_url, admin_token)
        if isinstance(built, Mapping):
            kwargs = dict(built)
        else:
            kwargs = dict(zip(("authenticator", "usage_sink", "admin_router"), built, strict=True))
    _uvicorn_run(create_app(cfg, **kwargs), host, port, log_level)


def run_mock_backend(settings: MockSettings, *, host: str = "127.0.0.1", port: int = 9001) -> None:
    _uvicorn_run(MockBackend(settings), host, port, "warning")
