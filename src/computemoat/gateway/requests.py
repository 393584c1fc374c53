"""Reading and checking a client request before it is routed: size limit, JSON shape, bearer key,
user location. Only what routing needs is parsed; the body is forwarded byte for byte."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request

from computemoat.gateway.errors import RequestError

# The field each endpoint cannot do without, and the JSON types it accepts.
REQUIRED_INPUT: dict[str, tuple[str, tuple[type, ...]]] = {
    "chat/completions": ("messages", (list,)),
    "completions": ("prompt", (str, list)),
    "embeddings": ("input", (str, list)),
}
CHARS_PER_TOKEN = 4  # rough English average, used only when the upstream reports no usage


@dataclass(frozen=True, slots=True)
class ParsedRequest:
    body: bytes
    model: str
    stream: bool
    est_prompt_tokens: int
    max_tokens: int


async def read_body(request: Request, limit_bytes: int) -> bytes:
    """The whole body, refusing with 413 as soon as it passes ``limit_bytes`` (declared or actual)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit_bytes:
        raise RequestError(413, f"request body is {declared} bytes; the limit is {limit_bytes}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit_bytes:
            raise RequestError(413, f"request body exceeds the limit of {limit_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


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
    return ParsedRequest(
        body=body,
        model=model,
        stream=stream,
        est_prompt_tokens=max(1, len(body) // CHARS_PER_TOKEN),
        max_tokens=max_tokens,
    )


def bearer_key(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if not auth:
        return None
    scheme, _, key = auth.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return key.strip() or None


def user_location(request: Request) -> tuple[str | None, tuple[float, float] | None]:
    """(X-User-Region name, or None; X-User-Lat/X-User-Lon pair, or None)."""
    headers = request.headers
    region = headers.get("x-user-region")
    lat_s, lon_s = headers.get("x-user-lat"), headers.get("x-user-lon")
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
