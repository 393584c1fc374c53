from __future__ import annotations

from computemoat.gateway.usage import StreamMeter, usage_from_json

USAGE_EVENT = b'data: {"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3}}\n\n'


def test_done_marker_split_across_reads_is_found_before_its_last_byte() -> None:
    m = StreamMeter()
    first = b'data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: [DO'
    assert m.feed(first) == (first, -1)
    assert m.feed(b"NE]\n\n") == (b"NE]\n\n", 0)
    assert m.tokens(5) == (5, 1)


def test_done_offset_and_reported_usage_win() -> None:
    m = StreamMeter()
    chunk = b'data: {"choices":[{"delta":{"content":"a"}}]}\n\n' + USAGE_EVENT + b"data: [DONE]\n\n"
    out, done_at = m.feed(chunk)
    assert out == chunk and out[done_at:] == b"data: [DONE]\n\n"
    assert m.tokens(99) == (7, 3)
    assert m.content_events == 1


def test_usage_the_client_did_not_ask_for_is_read_then_stripped_even_when_split() -> None:
    """Oracle: the client's stream is the upstream's minus the usage-only event, byte for byte."""
    content = b'data: {"choices":[{"delta":{"content":"a"}}]}\n\n'
    upstream = content + USAGE_EVENT + b"data: [DONE]\n\n"
    m = StreamMeter(strip_usage=True)
    cut = len(content) + 20  # inside the usage event
    sent = []
    for piece in (upstream[:cut], upstream[cut:]):
        out, _ = m.feed(piece)
        sent.append(out)
    sent.append(m.flush())
    assert b"".join(sent) == content + b"data: [DONE]\n\n"
    assert m.tokens(99) == (7, 3) and m.content_events == 1


def test_usage_from_json() -> None:
    assert usage_from_json(b'{"usage": {"prompt_tokens": 4, "completion_tokens": 2}}') == (4, 2)
    assert usage_from_json(b'{"choices": []}') is None
    assert usage_from_json(b'{"usage":"x"}') is None
