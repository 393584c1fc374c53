"""A fast OpenAI-compatible model server for tests and benchmarks: no model, only the protocol.

Raw ASGI (no framework) so that, in benchmarks, the backend is never the bottleneck being measured.
Faults are configurable: added latency, a failure rate (HTTP 500), hanging forever, and breaking a
stream after N chunks (the connection is dropped mid-body, as a crashed server would).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any

import orjson

Scope = dict[str, Any]


@dataclass(frozen=True, slots=True)
class MockSettings:
    name: str = "mock"
    latency_ms: float = 0.0
    fail_rate: float = 0.0
    hang: bool = False
    stream: bool = True
    completion_tokens: int = 8
    chunk_interval_ms: float = 0.0
    break_after_chunks: int | None = None
    models: tuple[str, ...] = ()  # empty: serve any model name
    embedding_dim: int = 8


class MockBackend:
    def __init__(self, settings: MockSettings, seed: int | None = None) -> None:
        self.s = settings
        self.rng = random.Random(seed)
        self.requests = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        self.requests += 1
        body = b""
        more = True
        while more:
            msg = await receive()
            body += msg.get("body", b"")
            more = msg.get("more_body", False)
        s = self.s
        if s.hang:
            await asyncio.Event().wait()
        path, method = scope["path"], scope["method"]
        if method == "GET" and path in ("/v1/models", "/health"):
            await _send_json(send, 200, {"object": "list", "data": [
                {"id": m, "object": "model", "created": 0, "owned_by": s.name} for m in s.models]})
            return
        kind = {"/v1/chat/completions": "chat", "/v1/completions": "text", "/v1/embeddings": "embedding"}.get(path)
        if method != "POST" or kind is None:
            await _send_json(send, 404, _error(f"no route {method} {path}"))
            return
        try:
            req = orjson.loads(body)
            model = req["model"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            await _send_json(send, 400, _error("body must be JSON with a 'model'"))
            return
        if s.models and model not in s.models:
            await _send_json(send, 404, _error(f"model {model!r} not found"))
            return
        if s.latency_ms:
            await asyncio.sleep(s.latency_ms / 1000.0)
        if s.fail_rate and self.rng.random() < s.fail_rate:
            await _send_json(send, 500, _error(f"{s.name}: injected failure"))
            return
        prompt_tokens = max(1, len(body) // 4)
        if kind == "embedding":
            inputs = req.get("input")
            n = len(inputs) if isinstance(inputs, list) else 1
            data = [{"object": "embedding", "index": i, "embedding": [0.125] * s.embedding_dim} for i in range(n)]
            await _send_json(send, 200, {"object": "list", "data": data, "model": model,
                                         "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}})
            return
        n_tokens = min(s.completion_tokens, req.get("max_tokens") or s.completion_tokens)
        if req.get("stream"):
            if not s.stream:
                await _send_json(send, 400, _error(f"{s.name}: streaming disabled"))
                return
            include_usage = bool((req.get("stream_options") or {}).get("include_usage"))
            await self._stream(send, kind, model, n_tokens, prompt_tokens, include_usage)
            return
        await _send_json(send, 200, _completion(kind, model, n_tokens, prompt_tokens, s.name))

    async def _stream(
        self, send: Any, kind: str, model: str, n_tokens: int, prompt_tokens: int, include_usage: bool
    ) -> None:
        s = self.s
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]})
        obj = "chat.completion.chunk" if kind == "chat" else "text_completion"
        created = int(time.time())
        for i in range(n_tokens):
            if s.break_after_chunks is not None and i >= s.break_after_chunks:
                raise ConnectionAbortedError(f"{s.name}: injected stream break")
            last = i == n_tokens - 1
            choice: dict[str, Any] = {"index": 0, "finish_reason": "stop" if last else None}
            if kind == "chat":
                choice["delta"] = {"content": "tok "} if i else {"role": "assistant", "content": "tok "}
            else:
                choice["text"] = "tok "
            event = {"id": "cmpl-mock", "object": obj, "created": created, "model": model,
                     "system_fingerprint": s.name, "choices": [choice]}
            await send({"type": "http.response.body", "body": b"data: " + orjson.dumps(event) + b"\n\n",
                        "more_body": True})
            if s.chunk_interval_ms:
                await asyncio.sleep(s.chunk_interval_ms / 1000.0)
        tail = b""
        if include_usage:
            usage = {"prompt_tokens": prompt_tokens, "completion_tokens": n_tokens,
                     "total_tokens": prompt_tokens + n_tokens}
            event = {"id": "cmpl-mock", "object": obj, "created": created, "model": model, "choices": [],
                     "usage": usage}
            tail = b"data: " + orjson.dumps(event) + b"\n\n"
        await send({"type": "http.response.body", "body": tail + b"data: [DONE]\n\n", "more_body": False})


def _completion(kind: str, model: str, n_tokens: int, prompt_tokens: int, name: str) -> dict[str, Any]:
    text = "tok " * n_tokens
    choice: dict[str, Any] = {"index": 0, "finish_reason": "stop"}
    if kind == "chat":
        choice["message"] = {"role": "assistant", "content": text}
    else:
        choice["text"] = text
    return {
        "id": "cmpl-mock", "object": "chat.completion" if kind == "chat" else "text_completion",
        "created": int(time.time()), "model": model, "system_fingerprint": name, "choices": [choice],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": n_tokens,
                  "total_tokens": prompt_tokens + n_tokens},
    }


def _error(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "mock_error", "param": None, "code": None}}


async def _send_json(send: Any, status: int, data: dict[str, Any]) -> None:
    body = orjson.dumps(data)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
