"""``computemoat serve`` (the inference gateway) and ``computemoat mock-backend`` (a fake model server)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from computemoat.cli.common import check_port_free, console, examples, require_extra, user_errors


def serve(
    config: Annotated[Path, typer.Argument(help="gateway YAML (written by `export gateway` or by hand)")],
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "warning",
    workers: Annotated[
        int, typer.Option(min=1, help="worker processes (each with its own routing state; metrics merged)")
    ] = 1,
    database_url: Annotated[
        str | None, typer.Option(help="tenancy/metering database (sqlite:///... or postgresql://...)")
    ] = None,
    admin_token: Annotated[str | None, typer.Option(help="bearer token for /admin")] = None,
) -> None:
    """Serve the OpenAI-compatible gateway: latency-aware routing, health checks, failover, streaming,
    and (with --database-url) API keys, rate limits and durable metering. SIGHUP (or POST /admin/reload
    with --admin-token) re-reads CONFIG; a bad file is refused and the running config kept."""
    with user_errors():
        require_extra("gateway", "serve")
        check_port_free(host, port)
    from computemoat.gateway.server import serve as run

    def announce() -> None:
        console.print(f"computemoat gateway on http://{host}:{port} (config {config})", highlight=False)

    with user_errors():
        run(config, host=host, port=port, log_level=log_level, database_url=database_url,
            admin_token=admin_token, workers=workers, on_ready=announce)


def mock_backend(
    port: Annotated[int, typer.Option(min=1, max=65535, help="port on 127.0.0.1")] = 9001,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    latency_ms: Annotated[float, typer.Option(min=0, help="delay before answering")] = 0.0,
    fail_rate: Annotated[float, typer.Option(min=0, max=1, help="share of requests answered 500")] = 0.0,
    hang: Annotated[bool, typer.Option(help="never answer (to test timeouts and ejection)")] = False,
    stream: Annotated[bool, typer.Option(help="allow SSE streaming (stream: true)")] = True,
    tokens: Annotated[int, typer.Option(min=1, help="completion tokens per answer (stream chunks)")] = 8,
    chunk_interval_ms: Annotated[float, typer.Option(min=0, help="delay between stream chunks")] = 0.0,
    break_after_chunks: Annotated[
        int | None, typer.Option(min=0, help="drop the connection after N stream chunks")
    ] = None,
    name: Annotated[str, typer.Option(help="reported as system_fingerprint")] = "mock",
    model: Annotated[list[str] | None, typer.Option(help="model served (repeat); default: any")] = None,
) -> None:
    """Run a fast fake OpenAI-compatible model server (chat, completions, embeddings, models, SSE)."""
    with user_errors():
        require_extra("gateway", "mock-backend")
        check_port_free(host, port)
    from computemoat.gateway.mock_backend import MockSettings
    from computemoat.gateway.server import run_mock_backend

    settings = MockSettings(
        name=name, latency_ms=latency_ms, fail_rate=fail_rate, hang=hang, stream=stream,
        completion_tokens=tokens, chunk_interval_ms=chunk_interval_ms,
        break_after_chunks=break_after_chunks, models=tuple(model or ()),
    )
    console.print(f"mock backend {name!r} on http://{host}:{port}", highlight=False)
    run_mock_backend(settings, host=host, port=port)


def register(app: typer.Typer) -> None:
    # --database-url/--admin-token exist only once gateway/tenancy.py (tenancy and metering) does.
    app.command("serve", epilog=examples(
        "computemoat serve gateway.yaml --port 8080",
        "computemoat serve gateway.yaml --database-url sqlite:///computemoat.db --admin-token s3cret",
        "computemoat serve gateway.yaml --workers 4 --database-url postgresql://app@db/computemoat"))(serve)
    app.command("mock-backend", epilog=examples(
        "computemoat mock-backend --port 9001 &",
        "computemoat mock-backend --port 9002 --fail-rate 0.2 --latency-ms 30",
        "computemoat mock-backend --port 9003 --hang"))(mock_backend)
