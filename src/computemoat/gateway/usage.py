"""Token counts for metering: the upstream's ``usage`` when it reports one, else an honest estimate.

Streams are scanned, not parsed: each chunk is searched for a few byte patterns, and only an event
that carries ``"usage"`` is decoded, so metering costs almost nothing per chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

DONE_MARK = b"data: [DONE]"
_USAGE_MARK = b'"usage":'
_EVENT_MARK = b"data: {"


def usage_from_json(content: bytes) -> tuple[int, int] | None:
    """(prompt_tokens, completion_tokens) from a non-streamed OpenAI response body, if present."""
    if _USAGE_MARK not in content and b'"usage" :' not in content:
        return None
    try:
        usage = orjson.loads(content).get("usage")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return _pair(usage)


def _pair(usage: object) -> tuple[int, int] | None:
    if not isinstance(usage, dict):
        return None
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens", 0)
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    return prompt, completion


@dataclass(slots=True)
class StreamMeter:
    """Follows an SSE stream chunk by chunk: counts content events (≈ one token each, the usual
    server behaviour) and keeps the last reported ``usage``; finds ``[DONE]`` even when a TCP read
    splits it, so the record can be written before the stream's last byte is sent.

    With ``strip_usage`` (the gateway asked the upstream for usage the client did not ask for), only
    whole events go on, and a usage-only event (``choices: []``) is dropped from what the client gets.
    """

    strip_usage: bool = False
    content_events: int = 0
    reported: tuple[int, int] | None = None
    _tail: bytes = b""
    _pending: bytes = b""

    def feed(self, chunk: bytes) -> tuple[bytes, int]:
        """Account for ``chunk``; return (the bytes to send on now, the offset where ``data: [DONE]``
        begins in them: -1 if it does not, 0 if it began in the previous piece and ends in this one)."""
        if self.strip_usage:
            chunk = self._whole_events(chunk)
        events = chunk.count(_EVENT_MARK)
        if _USAGE_MARK in chunk:
            chunk, bare = self._usage_events(chunk)
            events -= bare
        self.content_events += max(events, 0)
        joined = self._tail + chunk
        self._tail = joined[-len(DONE_MARK) :]
        pos = chunk.find(DONE_MARK)
        if pos >= 0:
            return chunk, pos
        return chunk, (0 if DONE_MARK in joined else -1)

    def flush(self) -> bytes:
        """What is held back at the end of the stream (an event without its blank line)."""
        rest, self._pending = self._pending, b""
        return rest

    def _whole_events(self, chunk: bytes) -> bytes:
        data = self._pending + chunk if self._pending else chunk
        cut = data.rfind(b"\n\n")
        if cut < 0:
            self._pending = data
            return b""
        self._pending = data[cut + 2 :]
        return data[: cut + 2]

    def _usage_events(self, chunk: bytes) -> tuple[bytes, int]:
        """Decode events that report usage; return the chunk (usage-only events dropped when
        stripping) and how many usage-only events it had."""
        bare = 0
        events = chunk.split(b"\n\n")
        kept: list[bytes] = []
        for event in events:
            if _USAGE_MARK in event and event.startswith(_EVENT_MARK):
                try:
                    data = orjson.loads(event[len(b"data: ") :])
                except orjson.JSONDecodeError:
                    data = None  # split across reads; the content count stands in
                pair = _pair(data.get("usage")) if isinstance(data, dict) else None
                if pair is not None:
                    self.reported = pair
                    if not data.get("choices"):
                        bare += 1
                        if self.strip_usage:
                            continue
            kept.append(event)
        if self.strip_usage and bare:
            return b"\n\n".join(kept), bare
        return chunk, bare

    def tokens(self, est_prompt_tokens: int) -> tuple[int, int]:
        if self.reported is not None:
            return self.reported
        return est_prompt_tokens, self.content_events
