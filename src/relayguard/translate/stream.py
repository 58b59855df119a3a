"""StreamTranslator: an upstream's SSE stream, incrementally, in the client's dialect.

    upstream bytes -> SSEReader (bounded) -> source reader (the source codec) -> parts
                   -> target writer -> client bytes

Text is forwarded as it arrives; a tool call when it is complete.  The
client's terminal events (finish reason, usage, ``[DONE]`` /
``message_stop`` / ``response.completed``) are written only when the
upstream's own terminal event arrived: a stream cut short ends without them,
and a tool call that was still streaming is never sent.  The caller then
sends ``error_event``.

An upstream that reports an error inside the stream (a Chat ``error`` chunk,
an Anthropic ``error`` event, a Responses ``error`` / ``response.failed``)
gets that error written in the client's dialect; the translator then counts
as ``complete`` (nothing more is coming) with ``response.finish_reason ==
"error"`` and ``error`` holding the upstream's message, so the caller does
not add a second error event.
"""

from __future__ import annotations

from relayguard.dialects import adapter_for
from relayguard.errors import StreamError
from relayguard.exchange import Dialect, Response
from relayguard.sse import DEFAULT_MAX_EVENT, SSEEvent, SSEReader
from relayguard.translate.model import client_finish, sane_usage
from relayguard.translate.stream_read import READERS, Part, read_event
from relayguard.translate.stream_write import WRITERS

# No model answer comes near this; an upstream that streams on and on is cut off.
DEFAULT_MAX_STREAM = 64 * 1024 * 1024


class StreamTranslator:
    """Upstream SSE bytes in ``source`` -> client SSE bytes in ``target``, incrementally."""

    def __init__(self, source: Dialect, target: Dialect, model: str, response_id: str, *,
                 max_event: int = DEFAULT_MAX_EVENT, max_stream: int = DEFAULT_MAX_STREAM) -> None:
        adapter_for(source), adapter_for(target)  # unknown names fail here
        if source == target:
            raise ValueError(f"a {source} stream going to a {target} client needs no translation: pass it through")
        self.source, self.target = source, target
        self._reader = SSEReader(max_event)
        self._source = READERS[source](response_id)
        self._writer = WRITERS[target](model, response_id)
        self._max_stream = max_stream
        self._seen = 0
        self._started = False
        self._ended = False  # the upstream finished or failed, or the caller sent an error: ignore the rest
        self._texts: list[str] = []
        self._response = Response(status=200, model=model)
        self.complete = False  # True once the upstream's terminal event (or its error) was seen
        self.error: str | None = None  # the upstream's in-stream error message, when it sent one

    @property
    def response(self) -> Response:
        """The answer as the client reads it so far: text, tool calls, its dialect's
        finish reason, the model named to the client, and the upstream's usage."""
        if len(self._texts) > 1:
            self._texts = ["".join(self._texts)]
        self._response.text = self._texts[0] if self._texts else ""
        return self._response

    def feed(self, chunk: bytes) -> list[bytes]:
        """Upstream bytes (any chunking) in; the client's events to send now out."""
        if self._ended:
            return []
        self._seen += len(chunk)
        if self._seen > self._max_stream:
            raise StreamError(f"upstream streamed more than {self._max_stream} bytes for one answer")
        return self._translate(self._reader.feed(chunk))

    def close(self) -> list[bytes]:
        """The upstream's stream ended: the events still due.  Without the upstream's
        terminal event (``complete`` stays False) the client's are not written."""
        if self._ended:
            return []
        return self._translate(self._reader.close())

    def error_event(self, message: str) -> bytes:
        """An in-stream error event in the client's dialect; the stream is over after it."""
        self._ended = True
        return b"".join(self._writer.error(message))

    def _translate(self, events: list[SSEEvent]) -> list[bytes]:
        out: list[bytes] = []
        for event in events:
            if self._ended:
                break
            if event.comment:
                continue  # an upstream's envelope signs the upstream's bytes, not these
            for part in read_event(self._source, event):
                out += self._write(part)
        return out

    def _write(self, part: Part) -> list[bytes]:
        kind = part[0]
        writer = self._writer
        if kind == "error":
            self._ended = self.complete = True
            self.error = part[1]
            self._response.finish_reason = "error"
            return writer.error(part[1])
        out = [] if self._started else writer.start()
        self._started = True
        if kind == "text":
            self._texts.append(part[1])
            out += writer.text(part[1])
        elif kind == "call":
            out += writer.call(part[1])
            self._response.tool_calls.append(part[1])
        else:  # finish
            _, reason, usage = part
            if not sane_usage(usage.input_tokens, usage.output_tokens):
                raise StreamError("upstream's usage reports an impossible number of tokens")
            self._ended = self.complete = True
            self._response.finish_reason = client_finish(self.target, reason)
            self._response.usage = usage
            out += writer.finish(reason, usage)
        return out
