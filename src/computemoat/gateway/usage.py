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
    splits it, so the record can be written before the stream's last byte is sent."""

    content_events: int = 0
    reported: tuple[int, int] | None = None
    _tail: bytes = b""

    def feed(self, chunk: bytes) -> int:
        """Account for ``chunk``; return the offset where ``data: [DONE]`` begins in it, -1 if it
        does not, or 0 if the marker began in the previous chunk and ends in this one."""
        events = chunk.count(_EVENT_MARK)
        if _USAGE_MARK in chunk:
            usage_events = self._usage_events(chunk)
            events -= usage_events
        self.content_events += max(events, 0)
        joined = self._tail + chunk
        self._tail = joined[-len(DONE_MARK) :]
        pos = chunk.find(DONE_MARK)
        if pos >= 0:
            return pos
        return 0 if DONE_MARK in joined else -1

    def _usage_events(self, chunk: bytes) -> int:
        """Decode events that report usage; return how many of them carried no content."""
        bare = 0
        for event in chunk.split(b"\n\n"):
            if _USAGE_MARK not in event or not event.startswith(_EVENT_MARK):
                continue
            try:
                data = orjson.loads(event[len(b"data: ") :])
            except orjson.JSONDecodeError:
                continue  # split across reads; the content count stands in
            pair = _pair(data.get("usage")) if isinstance(data, dict) else None
            if pair is not None:
                self.reported = pair
                if not data.get("choices"):
                    bare += 1
        return bare

    def tokens(self, est_prompt_tokens: int) -> tuple[int, int]:
        if self.reported is not None:
            return self.reported
        return est_prompt_tokens, self.content_events
