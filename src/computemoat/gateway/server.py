"""Running the gateway and the mock backend under uvicorn with uvloop and httptools.

With ``workers > 1`` uvicorn's supervisor starts that many processes. Each builds its app from a
``WorkerSettings`` value handed to it explicitly (pickled with the factory into the spawned process),
not through environment variables. Each worker keeps its own routing/health state; metrics are merged
across workers (prometheus_client's multiprocess mode, ``gateway/metrics.py``); rate limits and
metering are shared through the database. SIGHUP to the parent checks the config file first and, if
it is good, has every worker reload it; a bad one is logged and the running config kept.
"""

from __future__ import annotations

import functools
import gc
import logging
import os
import shutil
import signal
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from computemoat.gateway.config import GatewayConfig, load_config
from computemoat.gateway.metrics import MULTIPROC_DIR_ENV
from computemoat.gateway.mock_backend import MockBackend, MockSettings
from computemoat.model.errors import UserError

log = logging.getLogger("computemoat.gateway")
_UVICORN = {"loop": "uvloop", "http": "httptools", "access_log": False, "lifespan": "on",
            "timeout_keep_alive": 75, "backlog": 4096}


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """Everything a worker process needs to build its app."""

    config_path: str
    database_url: str | None = None
    admin_token: str | None = field(default=None, repr=False)


def _uvicorn_run(app: Any, host: str, port: int, log_level: str) -> None:
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level=log_level, **_UVICORN)  # type: ignore[arg-type]


def build_app(
    cfg: GatewayConfig, database_url: str | None = None, admin_token: str | None = None,
    config_path: str | Path | None = None,
) -> Any:
    """``create_app`` with tenancy (``gateway.tenancy.build_tenancy``) wired when a database or admin
    token is named; with ``config_path`` the config can be reloaded (SIGHUP, ``POST /admin/reload``)."""
    from computemoat.gateway.app import create_app

    kwargs: dict[str, Any] = {}
    if database_url is not None or admin_token is not None:
        from computemoat.gateway.tenancy import build_tenancy

        authenticator, usage_sink, admin_router = build_tenancy(database_url, admin_token)
        kwargs = {"authenticator": authenticator, "usage_sink": usage_sink, "admin_router": admin_router}
    app = create_app(cfg, config_path=config_path, admin_token=admin_token, **kwargs)
    # Everything built so far (SQLAlchemy, pydantic, Starlette...) lives as long as the process; full
    # collections walking it cost ~20% of a worker's CPU under load (py-spy), so take it out of the
    # collector's sight. Done here, for metered and unmetered gateways alike, so benches compare fairly.
    gc.collect()
    gc.freeze()
    return app


def worker_app(settings: WorkerSettings) -> Any:
    """The app factory each worker process calls (``functools.partial(worker_app, settings)``)."""
    return build_app(load_config(settings.config_path), settings.database_url, settings.admin_token,
                     settings.config_path)


def check_config(config_path: str | Path) -> GatewayConfig:
    """Load the config and resolve every backend's key and CA (``UserError`` on any mistake)."""
    from computemoat.gateway.upstream import Origin

    cfg = load_config(config_path)
    for b in cfg.backends:
        Origin.from_backend(b)  # provider key variables set, CA files readable
    return cfg


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
    path = str(Path(config_path).resolve())
    cfg = check_config(path)
    if workers <= 1:
        app = build_app(cfg, database_url, admin_token, path)
        # a SIGHUP before the app's handler is installed (at startup) is ignored, not fatal
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        if on_ready is not None:
            on_ready()
        _uvicorn_run(app, host, port, log_level)
        return
    settings = WorkerSettings(path, database_url, admin_token)
    metrics_dir = tempfile.mkdtemp(prefix="computemoat-metrics-")
    # prometheus_client's own switch, read when a worker imports it: every worker writes its samples here
    os.environ[MULTIPROC_DIR_ENV] = metrics_dir
    try:
        if on_ready is not None:
            on_ready()
        _run_workers(settings, host, port, log_level, workers, metrics_dir)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _run_workers(
    settings: WorkerSettings, host: str, port: int, log_level: str, workers: int, metrics_dir: str
) -> None:
    """What ``uvicorn.run(..., workers=N)`` does, with a factory object instead of an import string."""
    import uvicorn
    from prometheus_client import multiprocess
    from uvicorn.supervisors import Multiprocess

    class Supervisor(Multiprocess):
        def keep_subprocess_alive(self) -> None:
            """As uvicorn's, and a replaced worker's gauges stop counting (prometheus' live modes)."""
            before = {p.pid for p in self.processes}
            super().keep_subprocess_alive()
            for pid in before - {p.pid for p in self.processes}:
                if pid is not None:
                    multiprocess.mark_process_dead(pid, metrics_dir)

        def handle_hup(self) -> None:
            """Check the new config here; only a good one is passed on (each worker reloads it)."""
            try:
                check_config(settings.config_path)
            except UserError as e:
                for line in e.lines:
                    log.error("SIGHUP: config not reloaded, old config kept: %s", line)
                return
            for p in self.processes:
                if p.pid is not None:
                    os.kill(p.pid, signal.SIGHUP)

    config = uvicorn.Config(
        functools.partial(worker_app, settings), factory=True, host=host, port=port, log_level=log_level,
        workers=workers, **_UVICORN,  # type: ignore[arg-type]
    )
    Supervisor(config, sockets=[config.bind_socket()]).run()


def run_mock_backend(settings: MockSettings, *, host: str = "127.0.0.1", port: int = 9001) -> None:
    _uvicorn_run(MockBackend(settings), host, port, "warning")
