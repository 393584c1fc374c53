"""The upstream transport: aiohttp's client, pooled keep-alive HTTP/1.1 over http:// or https://.

One ``Pool`` (an ``aiohttp.ClientSession`` on a tuned ``TCPConnector``) per purpose: request traffic,
and a separate one for active health checks. aiohttp errors are mapped here to ``UpstreamConnectError``
(the request never reached a backend), ``UpstreamTimeout`` (no headers, or no next chunk, within the
read limit) and ``UpstreamError`` (anything else that broke the exchange), so the proxy never sees
aiohttp, socket or TLS types. Bodies are passed on chunk by chunk as they arrive (``readany``), never
buffered whole except by ``aread``. What this costs against the hand-written client it replaced is
measured by bench/gateway_bench.py (the old client lives on in bench/_baseline_upstream.py).
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from computemoat.gateway.config import BackendConfig
from computemoat.model.errors import UserError

KEEPALIVE_S = 15.0  # idle keep-alive connections are closed after this (aiohttp's default)
DNS_CACHE_S = 300  # resolved provider hostnames are reused this long
# Headers aiohttp would add on its own. Accept-Encoding above all: bodies are relayed byte for byte
# (auto_decompress=False) without the upstream's content-encoding, so they must come back uncompressed.
SKIP_AUTO_HEADERS = ("User-Agent", "Accept-Encoding", "Accept")


class UpstreamError(Exception):
    """The backend could not be reached or broke the HTTP exchange."""


class UpstreamConnectError(UpstreamError):
    pass


class UpstreamTimeout(UpstreamError):
    pass


@dataclass(frozen=True, slots=True)
class Origin:
    """Where one backend lives and how to talk to it: base URL, TLS settings, and the provider's key
    (sent as ``Authorization: Bearer``; kept out of ``repr`` so it is never logged)."""

    base_url: str
    ssl: ssl.SSLContext | bool = True
    auth_headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @classmethod
    def parse(cls, url: str) -> Origin:
        u = urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"{url}: upstream URLs must be http:// or https:// with a host")
        return cls(url.rstrip("/"))

    @classmethod
    def from_backend(cls, b: BackendConfig, environ: os._Environ[str] | dict[str, str] | None = None) -> Origin:
        """Resolve a backend's TLS settings and provider key; a missing key variable or unreadable CA
        file is a ``UserError`` naming the backend."""
        env = os.environ if environ is None else environ
        auth: tuple[tuple[str, str], ...] = ()
        if b.api_key_env is not None:
            key = env.get(b.api_key_env)
            if not key:
                raise UserError(
                    f"backend {b.name!r}: api_key_env names ${b.api_key_env}, which is not set "
                    "(export it with the provider's API key)"
                )
            auth = (("Authorization", f"Bearer {key}"),)
        tls: ssl.SSLContext | bool = True
        if b.url.startswith("https://"):
            if not b.verify:
                tls = False
            elif b.ca_file is not None:
                try:
                    tls = ssl.create_default_context(cafile=b.ca_file)
                except (OSError, ssl.SSLError) as e:
                    raise UserError(f"backend {b.name!r}: cannot load ca_file {b.ca_file} ({e})") from None
        return cls(cls.parse(b.url).base_url, tls, auth)


def _upstream_error(e: BaseException, origin: Origin, stage: str) -> UpstreamError:
    """One place where aiohttp/asyncio/socket errors become ours."""
    where = origin.base_url
    if isinstance(e, aiohttp.ConnectionTimeoutError):
        return UpstreamConnectError(f"connect to {where} timed out")
    if isinstance(e, aiohttp.ClientConnectorCertificateError):
        return UpstreamConnectError(f"TLS certificate of {where} not trusted ({e.certificate_error})")
    if isinstance(e, aiohttp.ClientConnectorError):
        return UpstreamConnectError(f"connect to {where} failed ({e.strerror or type(e).__name__})")
    if isinstance(e, TimeoutError):  # aiohttp.SocketTimeoutError: sock_read elapsed
        return UpstreamTimeout(f"{where}: {stage}: no data before the read timeout")
    return UpstreamError(f"{where}: {stage}: {type(e).__name__} {e}".rstrip())


_FAILURES = (aiohttp.ClientError, asyncio.TimeoutError, OSError)
# worth one immediate retry on a fresh connection: a keep-alive connection the server had closed
_STALE = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)
_NOT_STALE = (aiohttp.ClientConnectorError,)


class UpstreamResponse:
    """A response whose headers arrived; the body is read with ``chunks()``/``next_chunk()`` or
    ``aread()``. ``aclose()`` gives a fully read connection back to the pool, closes anything else."""

    __slots__ = ("_origin", "_released", "_resp", "status_code")

    def __init__(self, resp: aiohttp.ClientResponse, origin: Origin) -> None:
        self.status_code = resp.status
        self._resp = resp
        self._origin = origin
        self._released = False

    def header(self, name: str | bytes, default: str = "") -> str:
        key = name.decode("latin-1") if isinstance(name, bytes) else name
        return self._resp.headers.get(key, default)

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        return [(k.lower(), v) for k, v in self._resp.raw_headers]

    async def next_chunk(self) -> bytes:
        """Next piece of the body as received (b"" at the end)."""
        try:
            chunk = await self._resp.content.readany()
        except _FAILURES as e:
            await self.aclose()
            raise _upstream_error(e, self._origin, "reading the body") from None
        if not chunk:
            await self.aclose()
        return chunk

    async def chunks(self) -> AsyncIterator[bytes]:
        while chunk := await self.next_chunk():
            yield chunk

    async def aread(self) -> bytes:
        # a plain loop, not ``chunks()``: an async generator per request costs a hook call and a
        # weakref registration on the event loop
        parts = []
        while chunk := await self.next_chunk():
            parts.append(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def aclose(self) -> None:
        if self._released:
            return
        self._released = True
        r = self._resp
        if r.content.at_eof():
            r.release()  # keep-alive: the connection goes back to the pool
        else:
            r.close()  # abandoned mid-body: the connection cannot be reused


class Pool:
    """A keep-alive client for every backend. Concurrency is bounded by the backends' circuit breakers
    (``max_concurrency``); ``max_connections``/``max_per_origin`` are a backstop above them. The session
    is created on first use, inside the running event loop."""

    def __init__(
        self,
        connect_timeout_s: float,
        read_timeout_s: float,
        *,
        max_connections: int = 0,
        max_per_origin: int = 0,
        keepalive_s: float = KEEPALIVE_S,
    ) -> None:
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.max_connections = max_connections
        self.max_per_origin = max_per_origin
        self.keepalive_s = keepalive_s
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}
        self._urls: dict[tuple[str, str], URL] = {}

    def configure(self, connect_timeout_s: float, read_timeout_s: float) -> None:
        """New default timeouts (a config reload); connections already open are kept."""
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self._timeouts.clear()

    def _timeout(self, read_timeout_s: float) -> aiohttp.ClientTimeout:
        t = self._timeouts.get(read_timeout_s)
        if t is None:
            # connect: TCP + TLS handshake; sock_read: first byte of the headers and every later gap.
            # The total limit is the caller's (the proxy's deadline spans retries).
            t = aiohttp.ClientTimeout(
                total=None, sock_connect=self.connect_timeout_s, sock_read=read_timeout_s
            )
            self._timeouts[read_timeout_s] = t
        return t

    def _url(self, origin: Origin, path: str) -> URL:
        u = self._urls.get((origin.base_url, path))
        if u is None:
            u = self._urls[origin.base_url, path] = URL(origin.base_url + path)
        return u

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.max_connections,
                limit_per_host=self.max_per_origin,
                keepalive_timeout=self.keepalive_s,
                ttl_dns_cache=DNS_CACHE_S,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                skip_auto_headers=SKIP_AUTO_HEADERS,
                raise_for_status=False,
                trust_env=False,
            )
        return self._session

    async def request(
        self,
        origin: Origin,
        method: str,
        path: str,
        body: bytes = b"",
        headers: Iterable[tuple[str, str]] = (),
        read_timeout_s: float | None = None,
        *,
        idempotent: bool | None = None,
    ) -> UpstreamResponse:
        """Send one request and wait for its headers (the read timeout). A keep-alive connection that
        broke before any answer is retried once on a fresh one only when sending twice is safe
        (``idempotent``; default: GET/HEAD): the server may have read the request before closing, so a
        POST could run twice. Go's net/http makes the same call (``Request.isReplayable``)."""
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "OPTIONS")
        timeout = self._timeout(self.read_timeout_s if read_timeout_s is None else read_timeout_s)
        url = self._url(origin, path)
        hdrs = dict(origin.auth_headers)
        hdrs.update(headers)
        session = self.session
        for attempt in (0, 1):
            try:
                resp = await session.request(
                    method, url, data=body or None, headers=hdrs, ssl=origin.ssl, timeout=timeout,
                    allow_redirects=False,
                )
            except _NOT_STALE as e:
                raise _upstream_error(e, origin, "connecting") from None
            except _STALE as e:
                if attempt or not idempotent:
                    raise _upstream_error(e, origin, "waiting for the response headers") from None
                continue
            except _FAILURES as e:
                raise _upstream_error(e, origin, "waiting for the response headers") from None
            return UpstreamResponse(resp, origin)
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
