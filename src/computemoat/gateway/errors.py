"""OpenAI-style error bodies: every refusal the gateway makes has the shape clients already parse.

Every error carries an ``x-request-id`` header (a fresh id when the request never got one) and a
non-null ``code``, as OpenAI's API does (``rate_limit_exceeded``, ``invalid_api_key``...).
``Retry-After`` is the wait rounded *up* to whole seconds: a client that waits exactly the advertised
time (the OpenAI SDK does) must not come back a fraction of a second too early.
"""

from __future__ import annotations

import math
import uuid

import orjson
from starlette.responses import Response

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    502: "upstream_error",
    503: "service_unavailable",
    504: "timeout",
}
# The code when the caller names none (OpenAI's own values where it has one for the case).
DEFAULT_CODES = {
    400: "invalid_request",
    401: "invalid_api_key",
    402: "insufficient_quota",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    422: "invalid_request",
    429: "rate_limit_exceeded",
    500: "internal_error",
    502: "upstream_failed",
    503: "service_unavailable",
    504: "timeout",
}


def new_request_id() -> str:
    return uuid.uuid4().hex


def retry_after_header(wait_s: float) -> str:
    """Whole seconds, rounded up, at least 1 (RFC 9110 delay-seconds is an integer)."""
    return str(max(1, math.ceil(wait_s - 1e-9)))


def error_body(status: int, message: str, *, param: str | None = None, code: str | None = None) -> bytes:
    err = {
        "message": message, "type": _TYPES.get(status, "api_error"), "param": param,
        "code": code or DEFAULT_CODES.get(status, "error"),
    }
    return orjson.dumps({"error": err})


def error_response(
    status: int,
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    retry_after_s: float | None = None,
    request_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    hdrs = {"x-request-id": request_id or new_request_id()}
    if retry_after_s is not None:
        hdrs["retry-after"] = retry_after_header(retry_after_s)
    if headers:
        hdrs.update(headers)
    return Response(
        error_body(status, message, param=param, code=code),
        status_code=status,
        media_type="application/json",
        headers=hdrs,
    )


def sse_error_event(message: str, code: str = "upstream_error") -> bytes:
    """The last event of a stream that broke after its first byte: clients see an error, not a hang."""
    return b"data: " + error_body(502, message, code=code) + b"\n\n"


class RequestError(Exception):
    """A client mistake found while reading the request; becomes a 4xx OpenAI error."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code

    def response(self) -> Response:
        return error_response(self.status, self.message, param=self.param, code=self.code)
