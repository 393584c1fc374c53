"""Real servers and a real browser for the dashboard tests: uvicorn on 127.0.0.1 in a thread, Debian's
headless chromium driven by playwright (never a downloaded browser build).

Chromium missing: the browser tests skip on a developer's machine and fail in CI (``CI=true``),
where .ci/run installs it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

sys.path.insert(0, str(Path(__file__).parent))  # browsing.py, shared by the browser tests

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
SCREENSHOTS = Path(__file__).parents[2] / "out" / "screenshots"


def chromium_path() -> str | None:
    for candidate in (os.environ.get("COMPUTEMOAT_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@contextlib.contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Run an ASGI app under uvicorn on a port the OS picks; yield its base URL; stop it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", access_log=False, lifespan="on", loop="asyncio"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("server thread died during start-up")
        threading.Event().wait(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    path = chromium_path()
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium); browser tests must run in CI")
        pytest.skip("chromium is not installed (apt-get install -y chromium); browser tests skipped outside CI")
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _write_sweep(out: Path, scenario_path: Path, runs: int, months: float) -> None:
    """`sweep --frontier --out` without Ray (its start-up times out on a loaded 2-core machine): the same
    grid (sim.sweep.redundancy_grid, planned with HiGHS), the same per-run rows (run_metrics of
    simulate), the same summary (summarize) and the same two files the CLI writes."""
    from computemoat.catalog import load_scenario
    from computemoat.latency import rtt_matrix
    from computemoat.sim.engine import simulate
    from computemoat.sim.faults import FaultModel
    from computemoat.sim.sweep import redundancy_grid, run_metrics, summarize

    scenario = load_scenario(scenario_path)
    rtt_ms = rtt_matrix(scenario).rtt_ms
    points, _ = redundancy_grid(scenario, rtt_ms, caps=(None, 0.9, 0.85))
    rows = [
        {**p.labels, **run_metrics(simulate(p.scenario, p.plan, FaultModel(), months=months, seed=seed, rtt_ms=rtt_ms))}
        for p in points
        for seed in range(1, runs + 1)
    ]
    import pandas as pd

    df = pd.DataFrame(rows)
    out.mkdir(parents=True)
    df.to_parquet(out / "runs.parquet", index=False)
    summarize(df, list(points[0].labels)).to_json(out / "summary.json", orient="records", indent=1)


@pytest.fixture(scope="session")
def result_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """What `computemoat simulate --out` writes (from the real CLI: a 1-month run of the bundled
    scenario) and what `sweep --frontier --out` writes (8 runs per grid point of examples/minimal.yaml)."""
    from typer.testing import CliRunner

    from computemoat.cli import app

    root = tmp_path_factory.mktemp("results")
    sim = CliRunner().invoke(app, ["simulate", "--months", "1", "--out", str(root / "sim-out")])
    assert sim.exit_code == 0, sim.output
    _write_sweep(root / "sweep-out", Path(__file__).parents[2] / "examples" / "minimal.yaml", runs=8, months=1.0)
    return {"simulation": root / "sim-out", "sweep": root / "sweep-out"}


DEAL_CASE = Path(__file__).parent / "deal_case"


@pytest.fixture(scope="session")
def deal_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `computemoat deal OFFER.yaml --out deal.json --fault-draws 40 --no-ray` writes, from the real CLI
    (real HiGHS, the real simulator in-process: Ray's start-up is slow on a loaded 2-core machine) on the
    small case in tests/web/deal_case (about a second), for the deal page."""
    from typer.testing import CliRunner

    from computemoat.cli import app

    out = tmp_path_factory.mktemp("deal") / "deal.json"
    args = ["deal", str(DEAL_CASE / "offer.yaml"), "--scenario", str(DEAL_CASE / "scenario.yaml"), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--fault-draws", "40", "--no-ray"])
    assert result.exit_code == 0, result.output
    return out
