"""A hung backend: it is starved of nothing once it recovers, and requests waiting on it move on.

Real processes and sockets: mock backends as OS processes (SIGSTOP/SIGCONT is what a hung server
looks like from outside), the gateway under uvicorn, clients over 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from typing import Any

import httpx
from gateway_helpers import (
    CHAT,
    ListSink,
    backend,
    free_port,
    gateway_config,
    metric,
    serve_app,
    spawn_mock,
    wait_listening,
)

from computemoat.gateway.app import create_app

# Health checks twice a second, each allowed 0.5 s: a stopped backend is out within ~1 s, and back
# within one interval + one check after it resumes.
HEALTH = {"interval_s": 0.5, "timeout_s": 0.5, "consecutive_errors": 3, "base_ejection_s": 0.5}
STOP_S = 3.0  # the 15 s SIGSTOP, shortened: the mechanism (a hang absorbed, then recovery) is the same
# Stated bound: serving again within one health interval + one check timeout of SIGCONT, plus 4 s of
# scheduling slack for this shared 2-core machine. Today's gateway never serves it again.
RECOVERY_BOUND_S = HEALTH["interval_s"] + HEALTH["timeout_s"] + 4.0


async def _load(port: int, stop: threading.Event, served: list[tuple[float, int, str]], concurrency: int) -> None:
    """Closed-loop load; ``served`` gets (time sent, status, backend) per request."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:

        async def worker() -> None:
            while not stop.is_set():
                sent = time.monotonic()  # when it was sent: a request that hung on the victim and ends
                r = await c.post("/v1/chat/completions", json=CHAT)  # after SIGCONT proves nothing
                served.append((sent, r.status_code, r.headers.get("x-computemoat-backend", "")))

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def test_a_backend_that_hung_serves_again_after_it_resumes() -> None:
    ports = [free_port() for _ in range(3)]
    procs = [spawn_mock(p, n, "--latency-ms", "2") for p, n in zip(ports, ("a", "b", "victim"), strict=True)]
    try:
        for p in ports:
            wait_listening(p)
        cfg = gateway_config(
            [backend("a", ports[0], "pa"), backend("b", ports[1], "pb"), backend("victim", ports[2], "pc")],
            health=HEALTH,
        )  # default timeouts: attempt_s 30 s, longer than the hang, as in the issue
        served: list[tuple[float, int, str]] = []
        stop = threading.Event()
        with serve_app(create_app(cfg)) as gw:
            loader = threading.Thread(target=lambda: asyncio.run(_load(gw, stop, served, 8)))
            loader.start()
            try:
                time.sleep(1.5)
                procs[2].send_signal(signal.SIGSTOP)
                time.sleep(STOP_S)
                procs[2].send_signal(signal.SIGCONT)
                t_cont = time.monotonic()
                deadline = t_cont + RECOVERY_BOUND_S + 2
                while time.monotonic() < deadline and not any(t > t_cont and b == "victim" for t, _, b in served):
                    time.sleep(0.05)
                time.sleep(0.5)
            finally:
                stop.set()
                loader.join(timeout=60)
    finally:
        for p in procs:
            p.send_signal(signal.SIGCONT)
            p.kill()
            p.wait()
    assert {s for _, s, _ in served} == {200}, [s for _, s, _ in served if s != 200][:5]
    assert any(b == "victim" for t, _, b in served if t < t_cont - STOP_S)  # it carried load before the stop
    back = [t - t_cont for t, _, b in served if b == "victim" and t > t_cont]
    assert back, "the victim never served a request sent after SIGCONT"
    assert min(back) <= RECOVERY_BOUND_S, min(back)


class HangsOnPost:
    """A backend whose health checks pass until ``sick`` is set, and whose POSTs never answer."""

    def __init__(self) -> None:
        self.sick = False
        self.posts = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["method"] == "POST":
            self.posts += 1
            await asyncio.Event().wait()
        if self.sick:
            await asyncio.Event().wait()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"object":"list","data":[]}'})


def test_requests_waiting_on_a_backend_move_on_when_it_is_ejected(mock_server) -> None:
    """Attempt limit 60 s, client limit 10 s: only the ejection (the active check failing) can free the
    waiting request in time; it is retried on the other backend."""
    hung = HangsOnPost()
    good = mock_server(name="good")
    with serve_app(hung) as hung_port:
        cfg = gateway_config(
            [backend("hung", hung_port, "pa", usd_per_hour=1.0), backend("good", good, "pb", usd_per_hour=9.0)],
            default_policy="cheapest", health={"interval_s": 0.2, "timeout_s": 0.2},
            timeouts={"attempt_s": 60, "total_s": 120},
        )
        with serve_app(create_app(cfg)) as gw, httpx.Client(base_url=f"http://127.0.0.1:{gw}", timeout=10) as c:
            timer = threading.Timer(0.5, lambda: setattr(hung, "sick", True))
            timer.start()
            r = c.post("/v1/chat/completions", json=CHAT)
            timer.join()
            metrics = c.get("/metrics").text
    assert r.status_code == 200 and r.headers["x-computemoat-backend"] == "good"
    assert hung.posts == 1
    assert metric(metrics, "gateway_retries_total") == 1


def test_the_attempt_limit_is_apart_from_the_stream_idle_limit(mock_server) -> None:
    slow = mock_server(name="slow", latency_ms=1500)
    fast = mock_server(name="fast")
    trickle = mock_server(name="trickle", chunk_interval_ms=300, completion_tokens=4)
    cfg = gateway_config(
        [backend("slow", slow, "pa", usd_per_hour=1.0), backend("fast", fast, "pb", usd_per_hour=9.0)],
        default_policy="cheapest", timeouts={"attempt_s": 0.5, "stream_idle_s": 1.0, "total_s": 10},
    )
    with serve_app(create_app(cfg)) as gw, httpx.Client(base_url=f"http://127.0.0.1:{gw}", timeout=10) as c:
        r = c.post("/v1/chat/completions", json=CHAT)
        metrics = c.get("/metrics").text
    assert r.status_code == 200 and r.headers["x-computemoat-backend"] == "fast"
    assert metric(metrics, 'gateway_upstream_errors_total{backend="slow",kind="timeout"') == 1
    # a stream lasting 1.2 s (4 chunks 0.3 s apart) outlives attempt_s = 0.5 s: once its first chunk
    # came, only the idle limit (1 s between chunks) applies
    cfg = gateway_config([backend("trickle", trickle, "pa")],
                         timeouts={"attempt_s": 0.5, "stream_idle_s": 1.0, "total_s": 10})
    with (
        serve_app(create_app(cfg)) as gw,
        httpx.Client(base_url=f"http://127.0.0.1:{gw}", timeout=10) as c,
        c.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as s,
    ):
        events = [line for line in s.iter_lines() if line.startswith("data: ")]
    assert len(events) == 5 and events[-1] == "data: [DONE]"


def test_hedging_answers_from_the_second_backend_and_bills_once(mock_server) -> None:
    slow = mock_server(name="slow", latency_ms=3000)
    fast = mock_server(name="fast")
    sink = ListSink()
    cfg = gateway_config(
        [backend("slow", slow, "pa", usd_per_hour=1.0), backend("fast", fast, "pb", usd_per_hour=9.0)],
        default_policy="cheapest", retries={"hedge_after_s": 0.2},
    )
    with serve_app(create_app(cfg, usage_sink=sink)) as gw, httpx.Client(base_url=f"http://127.0.0.1:{gw}") as c:
        r = c.post("/v1/chat/completions", json=CHAT)
        metrics = c.get("/metrics").text
    assert r.status_code == 200 and r.headers["x-computemoat-backend"] == "fast"
    assert metric(metrics, "gateway_retries_total") == 1  # the hedge is a retry, within the budget
    assert [rec.backend for rec in sink.records] == ["fast"]


def test_hedging_is_off_by_default(mock_server) -> None:
    slow = mock_server(name="slow", latency_ms=300)
    fast = mock_server(name="fast")
    cfg = gateway_config(
        [backend("slow", slow, "pa", usd_per_hour=1.0), backend("fast", fast, "pb", usd_per_hour=9.0)],
        default_policy="cheapest",
    )
    assert cfg.retries.hedge_after_s is None
    with serve_app(create_app(cfg)) as gw, httpx.Client(base_url=f"http://127.0.0.1:{gw}") as c:
        assert c.post("/v1/chat/completions", json=CHAT).headers["x-computemoat-backend"] == "slow"


