from __future__ import annotations

from computemoat.gateway.usage import StreamMeter, usage_from_json


def test_done_marker_split_across_reads_is_found_before_its_last_byte() -> None:
    m = StreamMeter()
    assert m.feed(b'data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: [DO') == -1
    assert m.feed(b"NE]\n\n") == 0
    assert m.tokens(5) == (5, 1)


def test_done_offset_and_reported_usage_win() -> None:
    m = StreamMeter()
    chunk = (b'data: {"choices":[{"delta":{"content":"a"}}]}\n\n'
             b'data: {"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3}}\n\ndata: [DONE]\n\n')
    assert chunk[m.feed(chunk):] == b"data: [DONE]\n\n"
    assert m.tokens(99) == (7, 3)
    assert m.content_events == 1


def test_usage_from_json() -> None:
    assert usage_from_json(b'{"usage": {"prompt_tokens": 4, "completion_tokens": 2}}') == (4, 2)
    assert usage_from_json(b'{"choices": []}') is None
    assert usage_from_json(b'{"usage":"x"}') is None
