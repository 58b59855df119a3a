"""A bounded Server-Sent Events reader and writer.

The reader keeps each event's exact bytes so that an event the guard does not
change reaches the client byte for byte.  Input comes from an untrusted router,
so an event larger than ``max_event`` is an error, never an unbounded buffer.
"""

from __future__ import annotations

from dataclasses import dataclass

from relayguard.errors import StreamError

DEFAULT_MAX_EVENT = 8 * 1024 * 1024


@dataclass(slots=True)
class SSEEvent:
    event: str | None  # the "event:" field, None when absent
    data: str  # the "data:" lines joined with "\n"
    raw: bytes  # the exact bytes, including the blank line that ends it
    comment: bool = False  # a comment-only block (": ..."): ``data`` holds the comment text


class SSEReader:
    """Feed it chunks as they arrive; it returns the events completed so far.

    Each byte is scanned once (the scan position survives between chunks), so
    an attacker's huge chunk costs linear time, never quadratic.
    """

    __slots__ = ("_buf", "_max", "_scan")

    def __init__(self, max_event: int = DEFAULT_MAX_EVENT) -> None:
        self._buf = b""
        self._max = max_event
        self._scan = 0  # where the search for the next line end resumes

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        buf = self._buf + chunk if self._buf else chunk
        if b"\r" not in buf:
            return self._feed_lf(buf)
        events: list[SSEEvent] = []
        start, pos = 0, self._scan
        while True:
            nl = buf.find(b"\n", pos)
            if nl < 0:
                break
            # A blank line ("\n" or "\r\n" alone) ends the event.
            if nl == pos or (nl == pos + 1 and buf[pos] == 13):
                event = parse_event(buf[start:nl + 1])
                if event is not None:
                    events.append(event)
                start = nl + 1
            pos = nl + 1
        return self._keep(buf, start, pos, events)

    def _feed_lf(self, buf: bytes) -> list[SSEEvent]:
        """The common case (LF line ends): bytes.split does the scanning in C."""
        parts = buf.split(b"\n\n")
        rest = parts.pop()
        events = []
        for part in parts:
            if part:
                event = parse_event(part + b"\n\n")
                if event is not None:
                    events.append(event)
        self._buf, self._scan = rest, 0
        if len(rest) > self._max:
            raise StreamError(f"upstream sent an SSE event larger than {self._max} bytes")
        return events

    def _keep(self, buf: bytes, start: int, pos: int, events: list[SSEEvent]) -> list[SSEEvent]:
        self._buf = buf[start:]
        self._scan = pos - start
        if len(self._buf) > self._max:
            raise StreamError(f"upstream sent an SSE event larger than {self._max} bytes")
        return events

    def close(self) -> list[SSEEvent]:
        """End of stream: a final event without its blank line still counts."""
        rest, self._buf, self._scan = self._buf, b"", 0
        if not rest.strip():
            return []
        event = parse_event(rest + b"\n\n")
        return [event] if event is not None else []


def parse_event(raw: bytes) -> SSEEvent | None:
    """Parse one event's bytes; empty blocks give None, comment-only ones a comment event."""
    text = raw.decode("utf-8", "replace")
    # Fast path for what providers send: "data: X\n\n" or "event: E\ndata: X\n\n".
    if text.endswith("\n\n") and "\r" not in text:
        body = text[:-2]
        if body.startswith("data: ") and "\n" not in body:
            return SSEEvent(None, body[6:], raw)
        if body.startswith("event: "):
            first, _, second = body.partition("\n")
            if second.startswith("data: ") and "\n" not in second:
                return SSEEvent(first[7:], second[6:], raw)
    return _parse_slow(text, raw)


def _parse_slow(text: str, raw: bytes) -> SSEEvent | None:
    name: str | None = None
    data: list[str] = []
    comments: list[str] = []
    for line in text.splitlines():
        if not line:
            continue
        if line[0] == ":":
            comments.append(line[1:].lstrip(" "))
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            data.append(value)
        elif field == "event":
            name = value
    if name is None and not data:
        # Comments are kept (signed envelopes travel in one); empty blocks are not.
        return SSEEvent(None, "\n".join(comments), raw, comment=True) if comments else None
    return SSEEvent(name, "\n".join(data), raw)


def encode(data: bytes | str, event: str | None = None) -> bytes:
    """One SSE event's bytes.  ``data`` must not contain newlines (JSON from orjson never does)."""
    if isinstance(data, str):
        data = data.encode()
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"
