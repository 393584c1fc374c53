"""OpenAI-style error bodies: every refusal the gateway makes has the shape clients already parse."""

from __future__ import annotations

import orjson
from starlette.responses import Response

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    404: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    502: "upstream_error",
    503: "service_unavailable",
    504: "timeout",
}


def error_body(status: int, message: str, *, param: str | None = None, code: str | None = None) -> bytes:
    err = {"message": message, "type": _TYPES.get(status, "api_error"), "param": param, "code": code}
    return orjson.dumps({"error": err})


def error_response(
    status: int,
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    retry_after_s: float | None = None,
) -> Response:
    headers = {"retry-after": str(max(1, round(retry_after_s)))} if retry_after_s is not None else None
    return Response(
        error_body(status, message, param=param, code=code),
        status_code=status,
        media_type="application/json",
        headers=headers,
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
