"""What every dialect adapter provides.

An adapter is the only code that knows an API's wire format.  It reads requests
and responses into the Exchange's types, writes responses (the mock provider
and, later, cross-dialect translation use that), edits a response to replace
blocked or rewritten tool calls, and supplies a StreamCodec that tells the
generic stream assembler (``relayguard.stream``) which SSE events belong to
which tool call.

Stream operations returned by ``StreamCodec.feed``, applied in order:

    PASS           send this event on (through ``outgoing``)
    ("hold", key)  keep this event back: it belongs to the open tool call ``key``
    ("done", key)  the tool call ``key`` is now complete: inspect it, then
                   release its held events or send ``replacement(key)`` instead
"""

from __future__ import annotations

from typing import Any, Hashable, Iterable

from relayguard.exchange import Dialect, Message, Response, ToolCall
from relayguard.sse import SSEEvent

PASS = ("pass", None)
Op = tuple[str, Hashable]

BLOCK_PREFIX = "relayguard blocked"


def block_text(call: ToolCall) -> str:
    """The assistant text that stands where a blocked tool call was."""
    return f"{BLOCK_PREFIX} the tool call `{call.name}` (id {call.id}): {call.blocked_reason}"


class StreamCodec:
    """Per-stream state of one dialect.  Subclasses fill ``response`` as events pass."""

    def __init__(self) -> None:
        self.response = Response(status=200)
        self.calls: dict[Hashable, ToolCall] = {}
        # Set by feed() on the dialect's terminal event ([DONE], message_stop,
        # response.completed): a stream that ends without it was cut short.
        self.complete = False

    def feed(self, event: SSEEvent) -> list[tuple[SSEEvent, list[Op]]]:
        """Classify one upstream event.  Returns (event, ops) pairs: an adapter may
        split an event that carries several tool calls into one event per call."""
        raise NotImplementedError

    def finish_call(self, key: Hashable) -> ToolCall:
        """The complete tool call ``key`` (arguments parsed), called at its "done"."""
        return self.calls[key]

    def release(self, key: Hashable, events: list[SSEEvent]) -> list[bytes]:
        """The bytes of a tool call's held events when it is allowed unchanged."""
        return [self.outgoing(e) for e in events]

    def replacement(self, key: Hashable) -> list[bytes]:
        """Events that stand in for a held tool call that was blocked
        (``blocked_reason`` set) or rewritten (``new_raw_arguments`` set)."""
        raise NotImplementedError

    def outgoing(self, event: SSEEvent) -> bytes:
        """Final bytes of a passing event (e.g. a finish reason fixed after blocks)."""
        return event.raw

    def error_event(self, message: str) -> bytes:
        """An in-stream error event, for an upstream that fails after bytes were sent."""
        raise NotImplementedError


def read_events(codec: StreamCodec, events: "Iterable[SSEEvent]") -> StreamCodec:
    """Feed whole events to ``codec`` as a client reads a stream: comments skipped, each
    tool call completed (arguments parsed) as it finishes.  ``codec.response`` is then
    what the client got so far; ``codec.complete`` says whether the stream ended properly."""
    for event in events:
        if event.comment:
            continue
        for _piece, ops in codec.feed(event):
            for op, key in ops:
                if op == "done":
                    codec.finish_call(key)
    return codec


class DialectAdapter:
    name: Dialect
    paths: tuple[str, ...]

    def request_info(self, body: dict[str, Any]) -> tuple[str, bool]:
        """(model, stream) of a request; raises BadRequest when the shape is wrong."""
        raise NotImplementedError

    def conversation(self, body: dict[str, Any]) -> list[Message]:
        raise NotImplementedError

    def parse_response(self, body: dict[str, Any]) -> Response:
        raise NotImplementedError

    def opening(self, body: dict[str, Any]) -> Any:
        """The part of a request that stays the same on every turn of one
        conversation (system prompt and first message): the session key."""
        raise NotImplementedError

    def apply(self, body: dict[str, Any], calls: list[ToolCall]) -> dict[str, Any]:
        """Edit a non-streaming response body in place: blocked calls become
        assistant text, rewritten calls get their new arguments, the finish
        reason says "stop" when no tool call is left.  Unknown fields stay."""
        raise NotImplementedError

    def build_response(self, response: Response, response_id: str) -> dict[str, Any]:
        """A complete non-streaming body for ``response`` (mock provider, translation)."""
        raise NotImplementedError

    def build_stream(self, response: Response, response_id: str) -> list[bytes]:
        """The SSE events of ``response`` streamed, tool-call arguments in several deltas."""
        raise NotImplementedError

    def stream_codec(self) -> StreamCodec:
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        raise NotImplementedError


def error_type(status: int) -> str:
    """The error ``type`` string both OpenAI and Anthropic use for a status."""
    return {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        413: "request_too_large",
        429: "rate_limit_error",
        504: "timeout_error",
    }.get(status, "api_error")


def split_arguments(raw: str, pieces: int = 3) -> list[str]:
    """Cut a tool call's argument text into deltas, as real providers stream it."""
    if not raw:
        return [""]
    size = max(1, -(-len(raw) // pieces))
    return [raw[i:i + size] for i in range(0, len(raw), size)]


def text_of(content: Any) -> str:
    """Flatten message content (a string, or a list of typed parts) to text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for part in content:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, dict):
                for key in ("text", "content", "input", "arguments", "output"):
                    value = part.get(key)
                    if value is not None:
                        out.append(value if isinstance(value, str) else text_of(value) if isinstance(value, list) else _dump(value))
        return "\n".join(out)
    return _dump(content)


def _dump(value: Any) -> str:
    import orjson

    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)
