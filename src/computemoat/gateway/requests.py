"""Reading and checking a client request before it is routed: size limit, JSON shape, bearer key,
user location. Only what routing needs is parsed; the body is forwarded byte for byte."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.types import Receive

from computemoat.gateway.errors import RequestError

# The field each endpoint cannot do without, and the JSON types it accepts.
REQUIRED_INPUT: dict[str, tuple[str, tuple[type, ...]]] = {
    "chat/completions": ("messages", (list,)),
    "completions": ("prompt", (str, list)),
    "embeddings": ("input", (str, list)),
}
CHARS_PER_TOKEN = 4  # rough English average, used only when the upstream reports no usage
# The most max_tokens counts for admission: 2^20 tokens, above every published per-request output limit
# (OpenAI's model pages list at most 100k-128k output tokens, e.g. o3: 100,000), and small enough that
# prompt + completion estimates stay far inside a 64-bit database integer however they are summed.
MAX_TOKENS_CAP = 1 << 20
# Endpoints whose streams can report usage (OpenAI's stream_options.include_usage).
STREAM_USAGE_ENDPOINTS = frozenset({"chat/completions", "completions"})
_ASK_USAGE = b',"stream_options":{"include_usage":true}}'


@dataclass(frozen=True, slots=True)
class ParsedRequest:
    body: bytes
    model: str
    stream: bool
    est_prompt_tokens: int
    max_tokens: int
    # the client asked for the usage event itself (stream_options.include_usage); when it did not,
    # ``body`` asks the upstream for it anyway and the relay strips it from the client's stream
    client_wants_usage: bool = True
    data: dict[str, Any] | None = None
    tag: str = ""  # OpenAI's ``user`` field: the usage record's tag for spend reports

    def _replace(self, **changes: Any) -> ParsedRequest:
        return dataclasses.replace(self, **changes)

    def for_model(self, model: str) -> ParsedRequest:
        """The same request for another model (a fallback): ``model`` in the body rewritten."""
        data = dict(self.data or orjson.loads(self.body))
        data["model"] = model
        if self.stream and not self.client_wants_usage:
            data["stream_options"] = {**(data.get("stream_options") or {}), "include_usage": True}
        return self._replace(body=orjson.dumps(data), model=model, data=data)


async def read_body(receive: Receive, declared: str | None, limit_bytes: int) -> bytes | None:
    """The whole body from the ASGI ``receive`` channel, refusing with 413 as soon as it passes
    ``limit_bytes`` (``declared``: the Content-Length header, or actual). None if the client left."""
    if declared is not None and declared.isdigit() and int(declared) > limit_bytes:
        raise RequestError(413, f"request body is {declared} bytes; the limit is {limit_bytes}")
    message = await receive()
    if message["type"] != "http.request":
        return None
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):  # the usual case: the whole body in one message
        if len(body) > limit_bytes:
            raise RequestError(413, f"request body exceeds the limit of {limit_bytes} bytes")
        return body
    chunks = [body]
    size = len(body)
    while True:
        if size > limit_bytes:
            raise RequestError(413, f"request body exceeds the limit of {limit_bytes} bytes")
        if not message.get("more_body", False):
            return b"".join(chunks)
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)


def parse_body(body: bytes, endpoint: str) -> ParsedRequest:
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise RequestError(400, f"request body is not valid JSON ({e})", code="invalid_json") from None
    if not isinstance(data, dict):
        raise RequestError(400, "request body must be a JSON object", code="invalid_json")
    model = data.get("model")
    if model is None:
        raise RequestError(400, "'model' is required (e.g. \"model\": \"llama-3.1-70b\")", param="model")
    if not isinstance(model, str) or not model:
        raise RequestError(400, "'model' must be a non-empty string", param="model")
    field, types = REQUIRED_INPUT[endpoint]
    value = data.get(field)
    if value is None:
        raise RequestError(400, f"'{field}' is required for /v1/{endpoint}", param=field)
    if not isinstance(value, types) or (isinstance(value, list) and not value):
        kinds = " or ".join("a non-empty array" if t is list else "a string" for t in types)
        raise RequestError(400, f"'{field}' must be {kinds}", param=field)
    stream = data.get("stream", False)
    if not isinstance(stream, bool):
        raise RequestError(400, "'stream' must be true or false", param="stream")
    if stream and endpoint == "embeddings":
        raise RequestError(400, "embeddings cannot be streamed; drop 'stream'", param="stream")
    max_tokens = data.get("max_tokens", data.get("max_completion_tokens", 0))
    if max_tokens is None:
        max_tokens = 0
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 0:
        raise RequestError(400, "'max_tokens' must be a non-negative integer", param="max_tokens")
    # admission counts at most the cap (the body goes upstream as sent: the backend applies its own limit)
    max_tokens = min(max_tokens, MAX_TOKENS_CAP)
    est_prompt_tokens = max(1, len(body) // CHARS_PER_TOKEN)
    wants_usage = True
    if stream and endpoint in STREAM_USAGE_ENDPOINTS:
        body, wants_usage = _ask_for_usage(body, data)
    return ParsedRequest(
        body=body,
        model=model,
        stream=stream,
        est_prompt_tokens=est_prompt_tokens,
        max_tokens=max_tokens,
        client_wants_usage=wants_usage,
        data=data,
        tag=user if isinstance(user := data.get("user"), str) else "",
    )


def _ask_for_usage(body: bytes, data: dict[str, Any]) -> tuple[bytes, bool]:
    """(body that asks the upstream for a usage event, whether the client asked for it itself), so a
    stream is billed on the backend's own counts rather than an estimate."""
    options = data.get("stream_options")
    if options is None:  # the usual case: splice the option in before the object's closing brace
        end = body.rstrip()
        return end[:-1] + _ASK_USAGE, False
    if not isinstance(options, dict):
        raise RequestError(400, "'stream_options' must be an object", param="stream_options")
    if options.get("include_usage") is True:
        return body, True
    return orjson.dumps({**data, "stream_options": {**options, "include_usage": True}}), False


# The request headers the gateway reads (ASGI gives them lower-cased, as bytes).
AUTHORIZATION, CONTENT_LENGTH = b"authorization", b"content-length"
USER_REGION, USER_LAT, USER_LON = b"x-user-region", b"x-user-lat", b"x-user-lon"
# The client marks a POST safe to send twice (the IETF httpapi draft's header; Go's net/http, Stripe)
IDEMPOTENCY_KEY = b"idempotency-key"
WANTED_HEADERS = frozenset({AUTHORIZATION, CONTENT_LENGTH, USER_REGION, USER_LAT, USER_LON, IDEMPOTENCY_KEY})


def wanted_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[bytes, str]:
    """The first value of each header in ``WANTED_HEADERS``, decoded as Starlette does (latin-1)."""
    out: dict[bytes, str] = {}
    for name, value in raw:
        if name in WANTED_HEADERS and name not in out:
            out[name] = value.decode("latin-1")
    return out


def bearer_key(auth: str | None) -> str | None:
    """The key of an ``Authorization: Bearer KEY`` header value."""
    if not auth:
        return None
    scheme, _, key = auth.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return key.strip() or None


def user_location(headers: dict[bytes, str]) -> tuple[str | None, tuple[float, float] | None]:
    """(X-User-Region name, or None; X-User-Lat/X-User-Lon pair, or None) from ``wanted_headers``."""
    region = headers.get(USER_REGION)
    lat_s, lon_s = headers.get(USER_LAT), headers.get(USER_LON)
    if lat_s is None and lon_s is None:
        return region, None
    try:
        lat, lon = float(lat_s or "x"), float(lon_s or "x")
    except ValueError:
        raise RequestError(
            400, "X-User-Lat and X-User-Lon must both be numbers in degrees (e.g. 51.51 and -0.13)"
        ) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise RequestError(400, "X-User-Lat must be in [-90, 90] and X-User-Lon in [-180, 180]")
    return region, (lat, lon)
