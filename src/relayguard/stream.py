"""The one stream assembler.

Text and metadata events pass at once.  Each tool call's events are held until
the dialect's codec says the call is complete; the pipeline then inspects the
whole call, and the held events are released unchanged or replaced (blocked,
or rewritten).  Streaming and non-streaming responses go through the same
inspectors; nothing here knows which dialect it serves.

When an inspector needs the whole response before any tool call may go (the
envelope check: the signature arrives at the end of the stream), the assembler
is built with ``defer=True``: from the first tool call on, everything is kept
in order and released at the end, after ``finish`` ran.  Text before the first
tool call still passes at once.

SSE comments pass through untouched (the codecs never see them); one that
carries a signed envelope is recorded on the response.
"""

from __future__ import annotations

from typing import Callable, Hashable

from relayguard.dialects.base import StreamCodec
from relayguard.exchange import ToolCall
from relayguard.sse import SSEEvent, SSEReader

ENVELOPE_COMMENT = "relayguard-envelope "


class StreamAssembler:
    def __init__(self, codec: StreamCodec, decide: Callable[[ToolCall], None],
                 finish: Callable[[], None] | None = None, defer: bool = False,
                 max_event: int | None = None) -> None:
        self.codec = codec
        self._decide = decide  # runs the tool-call inspectors; sets blocked_reason / new_raw_arguments
        self._finish = finish  # runs the whole-response inspectors, once, at the end
        self._defer = defer
        self._reader = SSEReader(max_event) if max_event else SSEReader()
        self._held: dict[Hashable, list[SSEEvent]] = {}
        # In defer mode, from the first tool call on: ("event", SSEEvent) | ("raw", bytes) | ("call", key)
        self._backlog: list[tuple[str, object]] | None = None

    def feed(self, chunk: bytes) -> list[bytes]:
        """Bytes from the upstream in, bytes for the client out."""
        out: list[bytes] = []
        for event in self._reader.feed(chunk):
            self._event(event, out)
        return out

    def close(self) -> list[bytes]:
        """The upstream finished.  Runs ``finish``, then releases what defer mode
        kept.  Tool calls never completed are dropped (fail closed), never
        released half-inspected."""
        out: list[bytes] = []
        for event in self._reader.close():
            self._event(event, out)
        if self._finish is not None:
            self._finish()
        for kind, item in self._backlog or ():
            if kind == "event":
                out.append(self.codec.outgoing(item))  # type: ignore[arg-type]
            elif kind == "raw":
                out.append(item)  # type: ignore[arg-type]
            elif self.codec.complete:
                out.extend(self._release(item))
        self._backlog = None
        self._held.clear()
        return out

    @property
    def complete(self) -> bool:
        return self.codec.complete

    def _event(self, event: SSEEvent, out: list[bytes]) -> None:
        codec = self.codec
        if event.comment:
            if event.data.startswith(ENVELOPE_COMMENT):
                codec.response.envelope = event.data[len(ENVELOPE_COMMENT):].strip()
            self._emit(("raw", event.raw), out)
            return
        for piece, ops in codec.feed(event):
            for op, key in ops:
                if op == "pass":
                    self._emit(("event", piece), out)
                elif op == "hold":
                    self._held.setdefault(key, []).append(piece)
                    if self._defer and self._backlog is None:
                        self._backlog = []
                else:  # "done": the call is whole; inspect it now
                    self._decide(codec.finish_call(key))
                    self._emit(("call", key), out)

    def _emit(self, item: tuple[str, object], out: list[bytes]) -> None:
        if self._backlog is not None:
            self._backlog.append(item)
            return
        kind, value = item
        if kind == "event":
            out.append(self.codec.outgoing(value))  # type: ignore[arg-type]
        elif kind == "raw":
            out.append(value)  # type: ignore[arg-type]
        else:
            out.extend(self._release(value))

    def _release(self, key: Hashable) -> list[bytes]:
        call = self.codec.calls[key]
        held = self._held.pop(key, [])
        if call.blocked_reason or call.new_raw_arguments is not None:
            return self.codec.replacement(key)
        return self.codec.release(key, held)
