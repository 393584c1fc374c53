"""A POST is sent twice only when that is safe: a keep-alive connection that breaks after the backend
read the request is not silently retried, unless the client sent ``Idempotency-Key``."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

import httpx
import orjson
from gateway_helpers import CHAT, backend, gateway_config, serve_app

from computemoat.gateway.app import create_app

ANSWER = orjson.dumps({"id": "x", "object": "chat.completion", "choices": [],
                       "usage": {"prompt_tokens": 1, "completion_tokens": 1}})


class DropsSecondPost:
    """An HTTP/1.1 server that answers the first POST of each connection (keep-alive) and, on the
    second, reads it whole (the backend *received* it) and closes without an answer."""

    def __init__(self) -> None:
        self.posts_received = 0
        self.port = 0

    async def _conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        posts = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                length = next((int(v) for k, _, v in (ln.partition(":") for ln in lines[1:])
                               if k.strip().lower() == "content-length"), 0)
                await reader.readexactly(length)
                if lines[0].startswith("POST"):
                    self.posts_received += 1
                    posts += 1
                    if posts == 2:
                        return
                body = ANSWER if lines[0].startswith("POST") else b'{"data":[]}'
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                             % (len(body), body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    @contextlib.contextmanager
    def running(self) -> Iterator[int]:
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def main() -> None:
            server = await asyncio.start_server(self._conn, "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            async with server:
                await server.serve_forever()

        task = loop.create_task(main())
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        ready.wait(5)
        try:
            yield self.port
        finally:
            loop.call_soon_threadsafe(task.cancel)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)


def test_a_post_the_backend_received_is_not_resent_unless_idempotent() -> None:
    server = DropsSecondPost()
    with server.running() as port:
        cfg = gateway_config([backend("a", port, "pa")], health={"interval_s": 60})
        with serve_app(create_app(cfg)) as gw, httpx.Client(base_url=f"http://127.0.0.1:{gw}") as c:
            assert c.post("/v1/chat/completions", json=CHAT).status_code == 200
            dropped = c.post("/v1/chat/completions", json=CHAT)
            assert server.posts_received == 2  # received once, and not sent again
            assert c.post("/v1/chat/completions", json=CHAT).status_code == 200  # a fresh connection
            marked = c.post("/v1/chat/completions", json=CHAT, headers={"Idempotency-Key": "order-42"})
    assert dropped.status_code == 502 and dropped.json()["error"]["code"] == "upstream_failed"
    assert marked.status_code == 200  # marked safe: resent once on a fresh connection
    assert server.posts_received == 5
