"""Hot reload: a new config applied without a restart and without failing a request; a bad one refused
with the old one kept."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx
import yaml
from gateway_helpers import CHAT, backend, serve_app

from computemoat.gateway.app import create_app
from computemoat.gateway.config import load_config

TOKEN = "reload-admin-token"


def _write(path: Path, backends: list[dict[str, object]]) -> None:
    path.write_text(yaml.safe_dump({"backends": backends, "health": {"interval_s": 0.5}}))


async def _load(port: int, stop: threading.Event, log: list[tuple[float, int, str]]) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:

        async def worker() -> None:
            while not stop.is_set():
                sent = time.monotonic()
                r = await c.post("/v1/chat/completions", json=CHAT)
                log.append((sent, r.status_code, r.headers.get("x-computemoat-backend", "")))

        await asyncio.gather(*(worker() for _ in range(8)))


def test_reload_under_load_removes_a_provider_and_adds_one_with_no_failed_request(mock_server, tmp_path) -> None:
    old_a, kept_b, new_c = (mock_server(name=n, latency_ms=5) for n in ("a", "b", "c"))
    path = tmp_path / "gw.yaml"
    _write(path, [backend("a", old_a, "pa"), backend("b", kept_b, "pb")])
    app = create_app(load_config(path), config_path=path, admin_token=TOKEN)
    log: list[tuple[float, int, str]] = []
    stop = threading.Event()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with serve_app(app) as gw, httpx.Client(base_url=f"http://127.0.0.1:{gw}") as c:
        loader = threading.Thread(target=lambda: asyncio.run(_load(gw, stop, log)))
        loader.start()
        try:
            time.sleep(1.0)
            assert c.post("/admin/reload").status_code == 401  # the admin token is required
            _write(path, [backend("b", kept_b, "pb"), backend("c", new_c, "pc")])  # provider pa withdrawn
            r = c.post("/admin/reload", headers=auth)
            t_reload = time.monotonic()
            time.sleep(1.0)
            path.write_text("backends:\n  - {name: b, url: 'ftp://nowhere'}\n")  # a bad config
            bad = c.post("/admin/reload", headers=auth)
            time.sleep(0.5)
        finally:
            stop.set()
            loader.join(timeout=60)
        models = c.get("/readyz").json()
        metrics = c.get("/metrics").text
    assert r.status_code == 200 and r.json()["backends"] == ["b", "c"]
    assert {s for _, s, _ in log} == {200}, [s for _, s, _ in log if s != 200][:5]  # 0 failed requests
    before = {b for t, _, b in log if t < t_reload - 0.2}
    after = {b for t, _, b in log if t > t_reload}
    assert before == {"a", "b"} and after == {"b", "c"}
    assert bad.status_code == 422 and any("backends.0.url" in e for e in bad.json()["errors"])
    assert models["available_backends"] == {"m": 2}  # the old (good) config still runs
    assert 'gateway_config_reloads_total{result="applied"} 1.0' in metrics
    assert 'gateway_config_reloads_total{result="rejected"} 1.0' in metrics
    assert 'gateway_backend_healthy{backend="a"}' not in metrics  # removed backends stop being reported


def test_a_reloaded_unchanged_backend_keeps_its_state(mock_server, tmp_path) -> None:
    a, c = mock_server(name="a"), mock_server(name="c")
    path = tmp_path / "gw.yaml"
    _write(path, [backend("a", a, "pa")])
    app = create_app(load_config(path), config_path=path, admin_token=TOKEN)
    with serve_app(app) as gw, httpx.Client(base_url=f"http://127.0.0.1:{gw}") as client:
        client.post("/v1/chat/completions", json=CHAT)
        before = app.state.gateway.fleet.states[0]
        _write(path, [backend("a", a, "pa"), backend("c", c, "pc")])
        assert client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        after = app.state.gateway.fleet.states
    assert after[0] is before and before.requests == 1 and after[1].requests == 0
