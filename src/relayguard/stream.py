"""The one stream assembler.

Text and metadata events pass at once.  Each tool call's events are held until
the dialect's codec says the call is complete; the pipeline then inspects the
whole call, and the held events are released unchanged or replaced (blocked,
or rewritten).  Streaming and non-streaming responses go through the same
inspectors; nothing here knows which dialect it serves.
"""

from __future__ import annotations

from typing import Callable, Hashable

from relayguard.dialects.base import StreamCodec
from relayguard.exchange import ToolCall
from relayguard.sse import SSEEvent, SSEReader


class StreamAssembler:
    def __init__(self, codec: StreamCodec, decide: Callable[[ToolCall], None],
                 max_event: int | None = None) -> None:
        self.codec = codec
        self._decide = decide  # runs the inspectors; sets blocked_reason / new_raw_arguments
        self._reader = SSEReader(max_event) if max_event else SSEReader()
        self._held: dict[Hashable, list[SSEEvent]] = {}

    def feed(self, chunk: bytes) -> list[bytes]:
        """Bytes from the upstream in, bytes for the client out."""
        out: list[bytes] = []
        for event in self._reader.feed(chunk):
            self._event(event, out)
        return out

    def close(self) -> list[bytes]:
        """The upstream finished.  Tool calls still held were never completed:
        they are dropped (fail closed), never released half-inspected."""
        out: list[bytes] = []
        for event in self._reader.close():
            self._event(event, out)
        self._held.clear()
        return out

    @property
    def complete(self) -> bool:
        return self.codec.complete

    def _event(self, event: SSEEvent, out: list[bytes]) -> None:
        codec = self.codec
        for piece, ops in codec.feed(event):
            for op, key in ops:
                if op == "pass":
                    out.append(codec.outgoing(piece))
                elif op == "hold":
                    self._held.setdefault(key, []).append(piece)
                else:  # "done"
                    call = codec.finish_call(key)
                    self._decide(call)
                    held = self._held.pop(key, [])
                    if call.blocked_reason or call.new_raw_arguments is not None:
                        out.extend(codec.replacement(key))
                    else:
                        out.extend(codec.release(key, held))
