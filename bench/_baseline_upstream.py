"""BASELINE ONLY, not part of the package: the hand-written HTTP/1.1 upstream client the gateway used
before it moved to aiohttp (src/computemoat/gateway/upstream.py). Kept so bench/gateway_bench.py can
measure what aiohttp costs against it in the same run; cleartext http:// only, no TLS.

Pooled keep-alive HTTP/1.1 over asyncio protocols, parsed by httptools: one ``write`` per request, the
same C parser uvicorn uses, body chunks in a deque. ``install()`` swaps it into the gateway modules of
the current process (the bench runs it in a separate gateway process).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httptools

READ_PAUSE_BYTES = 256 * 1024  # stop reading a socket whose body the client has not taken yet


class UpstreamError(Exception):
    """The backend could not be reached or broke the HTTP exchange."""


class UpstreamConnectError(UpstreamError):
    pass


class UpstreamTimeout(UpstreamError):
    pass


@dataclass(frozen=True, slots=True)
class Origin:
    host: str
    port: int
    host_header: bytes
    base_path: str

    @classmethod
    def parse(cls, url: str) -> Origin:
        u = urlsplit(url)
        if u.scheme != "http":
            raise ValueError(f"{url}: only http:// upstreams are supported by the fast transport")
        port = u.port or 80
        return cls(u.hostname or "127.0.0.1", port, f"{u.hostname}:{port}".encode(), u.path.rstrip("/"))


def _expire(fut: asyncio.Future[None], what: str) -> None:
    if not fut.done():
        fut.set_exception(UpstreamTimeout(what))


class _Connection(asyncio.Protocol):
    """One keep-alive connection; carries one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.error: UpstreamError | None = None
        self.status_code = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.paused = False
        self.complete = False
        self.received_any = False
        self.waiter: asyncio.Future[None] | None = None
        self.headers_done: asyncio.Future[None] | None = None

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received_any = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as e:
            self._fail(UpstreamError(f"malformed HTTP from upstream ({e})"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.complete:
            self._fail(UpstreamError("upstream closed the connection mid-response"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self.status_code = self.parser.get_status_code()
        if self.headers_done is not None and not self.headers_done.done():
            self.headers_done.set_result(None)

    def on_body(self, body: bytes) -> None:
        self.body.append(body)
        self.buffered += len(body)
        if self.buffered > READ_PAUSE_BYTES and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        self.complete = True
        self._wake()

    # helpers
    def _wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    def _fail(self, err: UpstreamError) -> None:
        self.error = err
        for fut in (self.headers_done, self.waiter):
            if fut is not None and not fut.done():
                fut.set_exception(err)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def reset_for_request(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.status_code = 0
        self.headers = []
        self.body.clear()
        self.buffered = 0
        self.complete = False
        self.received_any = False
        self.error = None
        self.headers_done = self.loop.create_future()

    async def wait(self, fut: asyncio.Future[None], timeout_s: float, what: str) -> None:
        timer = self.loop.call_later(timeout_s, _expire, fut, what)
        try:
            await fut
        finally:
            timer.cancel()


@dataclass(slots=True)
class UpstreamResponse:
    """A response whose headers arrived; the body is read with ``chunks()`` or ``aread()``."""

    status_code: int
    headers: list[tuple[bytes, bytes]]
    _conn: _Connection
    _pool: Pool
    _origin: Origin
    _read_timeout_s: float
    _released: bool = field(default=False)

    def header(self, name: bytes, default: str = "") -> str:
        for k, v in self.headers:
            if k == name:
                return v.decode("latin-1")
        return default

    async def next_chunk(self) -> bytes:
        """Next piece of the body as received (b"" at the end)."""
        c = self._conn
        while True:
            if c.body:
                chunk = c.body.popleft()
                c.buffered -= len(chunk)
                if c.paused and c.buffered < READ_PAUSE_BYTES // 2 and c.transport is not None:
                    c.paused = False
                    c.transport.resume_reading()
                return chunk
            if c.complete:
                await self.aclose()
                return b""
            if c.error is not None:
                raise c.error
            c.waiter = c.loop.create_future()
            await c.wait(c.waiter, self._read_timeout_s, "upstream went idle mid-response")

    async def chunks(self) -> AsyncIterator[bytes]:
        while chunk := await self.next_chunk():
            yield chunk

    async def aread(self) -> bytes:
        parts = [chunk async for chunk in self.chunks()]
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def aclose(self) -> None:
        """Give a fully read keep-alive connection back to the pool; close anything else."""
        if self._released:
            return
        self._released = True
        c = self._conn
        if c.complete and not c.closed and not c.body and c.parser.should_keep_alive():
            self._pool.release(self._origin, c)
        else:
            c.close()


class Pool:
    """Idle keep-alive connections per origin. Concurrency is bounded by the backends' circuit
    breakers (max_concurrency), so the pool itself only reuses or opens."""

    def __init__(self, connect_timeout_s: float, read_timeout_s: float, max_idle_per_origin: int = 512) -> None:
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.max_idle = max_idle_per_origin
        self.idle: dict[Origin, collections.deque[_Connection]] = {}

    async def _connect(self, origin: Origin) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                _, conn = await loop.create_connection(lambda: _Connection(loop), origin.host, origin.port)
        except TimeoutError:
            raise UpstreamConnectError(f"connect to {origin.host}:{origin.port} timed out") from None
        except OSError as e:
            raise UpstreamConnectError(f"connect to {origin.host}:{origin.port} failed ({e.strerror})") from None
        return conn

    def release(self, origin: Origin, conn: _Connection) -> None:
        q = self.idle.setdefault(origin, collections.deque())
        if len(q) < self.max_idle:
            q.append(conn)
        else:
            conn.close()

    async def request(
        self,
        origin: Origin,
        method: str,
        path: str,
        body: bytes = b"",
        headers: tuple[tuple[str, str], ...] = (),
        read_timeout_s: float | None = None,
    ) -> UpstreamResponse:
        """Send one request and wait for its headers (the first-byte timeout). A reused connection
        that the server had closed is retried once on a fresh one: nothing reached the backend."""
        read_timeout = self.read_timeout_s if read_timeout_s is None else read_timeout_s
        head = [f"{method} {origin.base_path}{path} HTTP/1.1\r\nhost: ".encode(), origin.host_header]
        head.extend(f"\r\n{k}: {v}".encode() for k, v in headers)
        head.append(f"\r\ncontent-length: {len(body)}\r\n\r\n".encode())
        payload = b"".join(head) + body
        q = self.idle.get(origin)
        while True:
            conn: _Connection | None = None
            while q:
                c = q.pop()
                if not c.closed:
                    conn = c
                    break
            reused = conn is not None
            if conn is None:
                conn = await self._connect(origin)
            conn.reset_for_request()
            assert conn.transport is not None and conn.headers_done is not None
            conn.transport.write(payload)
            try:
                await conn.wait(conn.headers_done, read_timeout, "no response headers before the first-byte timeout")
            except UpstreamTimeout:
                conn.close()
                raise
            except UpstreamError:
                conn.close()
                if reused and not conn.received_any:
                    continue
                raise
            except BaseException:  # cancelled: the connection is mid-exchange, not reusable
                conn.close()
                raise
            return UpstreamResponse(conn.status_code, conn.headers, conn, self, origin, read_timeout)

    def close(self) -> None:
        for q in self.idle.values():
            while q:
                q.pop().close()


# --- bench adapter: the gateway's current interface on top of the old client ---------------------


def _from_backend(cls: type[Origin], cfg: object) -> Origin:
    return cls.parse(cfg.url)  # type: ignore[attr-defined]


class _AdaptedPool(Pool):
    """The old pool under the new constructor and async close (it has no connection limits)."""

    def __init__(self, connect_timeout_s: float, read_timeout_s: float, **_limits: object) -> None:
        super().__init__(connect_timeout_s, read_timeout_s)

    async def aclose(self) -> None:
        self.close()


def install() -> None:
    """Make ``computemoat.gateway`` use this client (call before ``create_app``)."""
    from computemoat.gateway import checks, proxy

    Origin.from_backend = classmethod(_from_backend)  # type: ignore[attr-defined]
    for mod in (proxy, checks):
        mod.Origin = Origin  # type: ignore[attr-defined]
        mod.Pool = _AdaptedPool  # type: ignore[attr-defined]
    proxy.UpstreamError = UpstreamError  # type: ignore[attr-defined]
    proxy.UpstreamTimeout = UpstreamTimeout  # type: ignore[attr-defined]
    proxy._UPSTREAM_FAILURES = (UpstreamError, TimeoutError, OSError)  # type: ignore[attr-defined]
    checks.UpstreamError = UpstreamError  # type: ignore[attr-defined]
