import pytest

from relayguard.errors import StreamError
from relayguard.sse import SSEReader, encode


def feed_all(data: bytes, size: int):
    reader = SSEReader()
    events = []
    for i in range(0, len(data), size):
        events += reader.feed(data[i:i + size])
    return events + reader.close()


@pytest.mark.parametrize("size", [1, 3, 7, 1000])
def test_events_survive_any_chunking_and_keep_their_bytes(size):
    data = (b"event: a\ndata: {\"x\":1}\n\n: comment\n\ndata: one\ndata: two\n\n"
            b"event: b\r\ndata: crlf\r\n\r\ndata: [DONE]\n\n")
    events = feed_all(data, size)
    assert [(e.event, e.data, e.comment) for e in events] == [
        ("a", '{"x":1}', False), (None, "comment", True), (None, "one\ntwo", False), ("b", "crlf", False),
        (None, "[DONE]", False)]
    assert events[0].raw == b"event: a\ndata: {\"x\":1}\n\n"
    assert events[3].raw == b"event: b\r\ndata: crlf\r\n\r\n"


def test_last_event_without_blank_line_counts():
    assert [e.data for e in feed_all(b"data: 1\n\ndata: 2", 4)] == ["1", "2"]


def test_oversized_event_is_an_error():
    reader = SSEReader(max_event=100)
    with pytest.raises(StreamError):
        reader.feed(b"data: " + b"x" * 200)


def test_encode_round_trips():
    assert feed_all(encode(b'{"a":1}', event="e"), 5)[0].data == '{"a":1}'
