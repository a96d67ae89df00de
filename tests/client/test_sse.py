"""The SDK's event-stream decoder: line ends, chunking, fields, limits."""

from __future__ import annotations

import pytest

from ff_core.client.sse import Decoder, Event, StreamError

STREAM = (
    b": keep-alive\r\n"
    b'event: snapshot\r\nid: 7\r\ndata: {"a":\r\ndata: 1}\r\n\r\n'
    b"event: upsert\rid: 8\rdata: x\r\r"
    b"data: no id field\n\n"
    b"retry: 1500\nevent: delete\nid: 9\ndata:tight\n\n"
)
EXPECTED = [
    Event("snapshot", '{"a":\n1}', "7"),
    Event("upsert", "x", "8"),
    Event("message", "no id field", "8"),
    Event("delete", "tight", "9", 1500),
]


def test_decoder__whole_stream__events_with_fields() -> None:
    assert Decoder().feed(STREAM) == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64])
def test_decoder__any_chunking__same_events(size: int) -> None:
    decoder = Decoder()
    events = []
    for i in range(0, len(STREAM), size):
        events.extend(decoder.feed(STREAM[i : i + size]))

    assert events == EXPECTED


def test_decoder__cr_then_lf_in_next_chunk__one_line_end() -> None:
    decoder = Decoder()

    first = decoder.feed(b"data: a\r")
    second = decoder.feed(b"\n\r\n")

    assert (first, second) == ([], [Event("message", "a", None)])


def test_decoder__unicode_line_separators_in_data__not_line_ends() -> None:
    text = "a\u2028b\u2029c\x85d\x1ce"
    events = Decoder().feed(f"data: {text}\n\n".encode())

    assert events == [Event("message", text, None)]


def test_decoder__no_data__nothing_dispatched() -> None:
    assert Decoder().feed(b"event: upsert\nid: 3\n\n: comment\n\n") == []


def test_decoder__field_without_colon_and_unknown_fields__ignored() -> None:
    events = Decoder().feed(b"data\nfoo: bar\ndata: x\n\n")

    assert events == [Event("message", "\nx", None)]


def test_decoder__event_beyond_limit__stream_error() -> None:
    decoder = Decoder(max_event_bytes=100)
    decoder.feed(b"data: " + b"x" * 60 + b"\n")

    with pytest.raises(StreamError):
        decoder.feed(b"data: " + b"y" * 60 + b"\n")


def test_decoder__unterminated_line_beyond_limit__stream_error() -> None:
    with pytest.raises(StreamError):
        Decoder(max_event_bytes=100).feed(b"data: " + b"z" * 200)
