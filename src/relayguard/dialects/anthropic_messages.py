"""Anthropic Messages (``POST /v1/messages``).

A response is a list of content blocks; tool calls are ``tool_use`` blocks
(``server_tool_use`` / ``mcp_tool_use`` for tools the provider runs) with an
``input`` object.  Streamed, every block is ``content_block_start`` (index i),
``content_block_delta``s (``text_delta``, ``input_json_delta``,
``thinking_delta``, ``signature_delta``, ``citations_delta``) and
``content_block_stop``, framed by ``message_start`` (model, input usage),
``message_delta`` (stop_reason, cumulative usage), ``message_stop``, with
``ping`` and ``error`` events anywhere.  A tool call is complete at its
``content_block_stop``.

Clients (the official SDKs) place each started block at the next position of
the message's content list and apply a delta to ``content[index]``, so a
router that reuses an index, sends deltas after a block stopped, or starts a
block while a tool block is open could make the client assemble a tool call
other than the one inspected.  None of that happens in a real Anthropic
stream: the codec rejects it (``StreamError``), as it rejects event data that
is not strict JSON (``NaN`` would pass Python's ``json`` but not orjson).
"""

from __future__ import annotations

from typing import Any, Hashable

import orjson

from relayguard.dialects.base import (
    PASS, DialectAdapter, Op, StreamCodec, _dump, block_text, error_type, split_arguments, text_of,
)
from relayguard.errors import BadRequest, StreamError
from relayguard.exchange import Message, Response, ToolCall, Usage
from relayguard.sse import SSEEvent, encode

TOOL_BLOCKS = frozenset(("tool_use", "server_tool_use", "mcp_tool_use"))

_HOLD_TYPES = frozenset(("content_block_start", "content_block_delta", "content_block_stop"))


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _parse_args(raw: str) -> Any:
    if not raw:
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _input_of(call: ToolCall) -> Any:
    """The ``input`` object of a tool call, for bodies we write."""
    if call.new_raw_arguments is not None:
        raw = call.new_raw_arguments
    elif isinstance(call.arguments, dict):
        return call.arguments
    else:
        raw = call.raw_arguments
    parsed = _parse_args(raw)
    return parsed if isinstance(parsed, dict) else {}


def _raw_of(call: ToolCall) -> str:
    """The argument text a tool call streams as (exactly what it carries)."""
    if call.raw_arguments:
        return call.raw_arguments
    return _dumps(call.arguments) if call.arguments is not None else "{}"


def _event(name: str, data: dict[str, Any]) -> bytes:
    return encode(orjson.dumps(data), event=name)


class AnthropicMessages(DialectAdapter):
    name = "anthropic-messages"
    paths = ("/v1/messages",)

    # -- requests ---------------------------------------------------------

    def request_info(self, body: dict[str, Any]) -> tuple[str, bool]:
        if not isinstance(body, dict):
            raise BadRequest("request body must be a JSON object")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise BadRequest("request body needs a non-empty string field 'model'")
        if not isinstance(body.get("messages"), list):
            raise BadRequest("request body needs a list field 'messages'")
        stream = body.get("stream")
        if stream is not None and not isinstance(stream, bool):
            raise BadRequest("field 'stream' must be true or false")
        return model, stream is True

    def conversation(self, body: dict[str, Any]) -> list[Message]:
        out: list[Message] = []
        system = body.get("system")
        if system:
            text = system if isinstance(system, str) else text_of(system)
            if text:
                out.append(Message("system", text))
        for msg in body.get("messages") or []:
            if not isinstance(msg, dict):
                continue
            role = str(msg.get("role") or "user")
            content = msg.get("content")
            if not isinstance(content, list):
                out.append(Message(role, text_of(content)))
                continue
            parts: list[str] = []
            for block in content:
                kind = block.get("type") if isinstance(block, dict) else None
                if kind == "tool_result":
                    if parts:
                        out.append(Message(role, "\n".join(parts)))
                        parts = []
                    out.append(Message("tool", text_of(block.get("content"))))
                elif kind in TOOL_BLOCKS:
                    parts.append(f"{kind} {block.get('name', '')}: {_dump(block.get('input'))}")
                elif kind == "text":
                    text = block.get("text")
                    parts.append(text if isinstance(text, str) else text_of(text))
                elif kind == "thinking":
                    thinking = block.get("thinking")
                    if isinstance(thinking, str) and thinking:
                        parts.append(thinking)
                else:
                    text = text_of([block])
                    if text:
                        parts.append(text)
            if parts:
                out.append(Message(role, "\n".join(parts)))
        return out

    # -- non-streaming responses ------------------------------------------

    def opening(self, body: dict[str, Any]) -> Any:
        messages = body.get("messages")
        return [body.get("system"), messages[:1] if isinstance(messages, list) else None]

    def parse_response(self, body: dict[str, Any]) -> Response:
        content = body.get("content")
        if not isinstance(content, list):
            raise ValueError("'content' is not a list of content blocks")
        response = Response(status=200, model=str(body.get("model") or ""), body=body,
                            finish_reason=str(body.get("stop_reason") or ""))
        texts: list[str] = []
        for block in content:
            if not isinstance(block, dict):
                raise ValueError("a content block is not an object")
            kind = block.get("type")
            if kind == "text":
                text = block.get("text")
                if isinstance(text, str):
                    texts.append(text)
            elif kind in TOOL_BLOCKS:
                value = block.get("input")
                response.tool_calls.append(
                    ToolCall(str(block.get("id") or ""), str(block.get("name") or ""), _dumps(value), value))
        response.text = "".join(texts)
        usage = body.get("usage")
        if isinstance(usage, dict):
            response.usage = Usage(_int(usage.get("input_tokens")), _int(usage.get("output_tokens")))
        return response

    def apply(self, body: dict[str, Any], calls: list[ToolCall]) -> dict[str, Any]:
        # Blocks and calls pair up in order within each id, so two blocks that
        # share an id (a router's trick) are each judged by their own call.
        pending: dict[str, list[ToolCall]] = {}
        for call in calls:
            pending.setdefault(call.id, []).append(call)
        content = body.get("content")
        if not isinstance(content, list):
            return body
        tools_left = False
        for i, block in enumerate(content):
            if not isinstance(block, dict) or block.get("type") not in TOOL_BLOCKS:
                continue
            queue = pending.get(str(block.get("id") or ""))
            call = queue.pop(0) if queue else None
            if call is not None and call.blocked_reason:
                content[i] = {"type": "text", "text": block_text(call)}
                continue
            if call is not None and call.new_raw_arguments is not None:
                try:
                    block["input"] = orjson.loads(call.new_raw_arguments)
                except orjson.JSONDecodeError:
                    raise ValueError(f"rewritten arguments of tool call {call.id} are not valid JSON") from None
            if block.get("type") == "tool_use":
                tools_left = True
        if not tools_left and body.get("stop_reason") == "tool_use":
            body["stop_reason"] = "end_turn"
        return body

    def build_response(self, response: Response, response_id: str) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if response.text:
            content.append({"type": "text", "text": response.text})
        for call in response.tool_calls:
            content.append({"type": "tool_use", "id": call.id, "name": call.name, "input": _input_of(call)})
        return {
            "id": response_id, "type": "message", "role": "assistant", "model": response.model,
            "content": content,
            "stop_reason": "tool_use" if response.tool_calls else (response.finish_reason or "end_turn"),
            "stop_sequence": None,
            "usage": {"input_tokens": response.usage.input_tokens, "output_tokens": response.usage.output_tokens},
        }

    # -- streaming ----------------------------------------------------------

    def build_stream(self, response: Response, response_id: str) -> list[bytes]:
        usage = response.usage
        out = [_event("message_start", {"type": "message_start", "message": {
            "id": response_id, "type": "message", "role": "assistant", "model": response.model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": usage.input_tokens, "output_tokens": min(1, usage.output_tokens)}}})]
        ping = _event("ping", {"type": "ping"})
        index = 0
        if response.text:
            out.append(_event("content_block_start", {"type": "content_block_start", "index": 0,
                                                      "content_block": {"type": "text", "text": ""}}))
            out.append(ping)
            ping = b""
            for piece in split_arguments(response.text):
                out.append(_event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                          "delta": {"type": "text_delta", "text": piece}}))
            out.append(_event("content_block_stop", {"type": "content_block_stop", "index": 0}))
            index = 1
        for call in response.tool_calls:
            out.append(_event("content_block_start", {"type": "content_block_start", "index": index,
                                                      "content_block": {"type": "tool_use", "id": call.id,
                                                                        "name": call.name, "input": {}}}))
            if ping:
                out.append(ping)
                ping = b""
            for piece in ["", *split_arguments(_raw_of(call))]:
                out.append(_event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                          "delta": {"type": "input_json_delta",
                                                                    "partial_json": piece}}))
            out.append(_event("content_block_stop", {"type": "content_block_stop", "index": index}))
            index += 1
        if ping:
            out.append(ping)
        out.append(_event("message_delta", {"type": "message_delta", "delta": {
            "stop_reason": "tool_use" if response.tool_calls else (response.finish_reason or "end_turn"),
            "stop_sequence": None}, "usage": {"output_tokens": usage.output_tokens}}))
        out.append(_event("message_stop", {"type": "message_stop"}))
        return out

    def stream_codec(self) -> StreamCodec:
        return AnthropicStreamCodec()

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return {"type": "error", "error": {"type": error_type(status), "message": message}}


class _Block:
    """An open tool block of a stream."""

    __slots__ = ("kind", "parts", "start_input")

    def __init__(self, kind: str, start_input: Any) -> None:
        self.kind = kind
        self.parts: list[str] = []
        self.start_input = start_input


class AnthropicStreamCodec(StreamCodec):
    """Keys are content block indices (ints)."""

    def __init__(self) -> None:
        super().__init__()
        self._open: dict[int, _Block] = {}  # open tool blocks (at most one)
        self._kinds: dict[int, str] = {}  # block type of every tool block seen
        self._closed: set[int] = set()  # tool blocks that stopped
        self._seen: set[int] = set()  # every started index
        self._started = 0  # blocks started so far: the client's next content position
        self._text: list[str] = []
        self._deltas: list[tuple[SSEEvent, dict[str, Any]]] = []  # passing message_delta events

    def feed(self, event: SSEEvent) -> list[tuple[SSEEvent, list[Op]]]:
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            raise StreamError("upstream sent an Anthropic stream event whose data is not JSON") from None
        if not isinstance(data, dict):
            raise StreamError("upstream sent an Anthropic stream event whose data is not a JSON object")
        kind = data.get("type")
        if event.event is not None and event.event != kind:
            raise StreamError(f"upstream sent an event named {event.event!r} whose data has type {kind!r}")
        if kind == "content_block_delta":
            return [(event, self._delta(data))]
        if kind in _HOLD_TYPES:
            ops = self._start(data) if kind == "content_block_start" else self._stop(data)
            return [(event, ops)]
        if self._open and kind != "ping" and kind != "error":
            raise StreamError(f"upstream sent {kind!r} while tool block {next(iter(self._open))} was open")
        if kind == "message_start":
            message = data.get("message")
            if isinstance(message, dict):
                self.response.model = str(message.get("model") or "")
                usage = message.get("usage")
                if isinstance(usage, dict):
                    self.response.usage = Usage(_int(usage.get("input_tokens")), _int(usage.get("output_tokens")))
        elif kind == "message_delta":
            delta = data.get("delta")
            if isinstance(delta, dict) and delta.get("stop_reason"):
                self.response.finish_reason = str(delta["stop_reason"])
            usage = data.get("usage")
            if isinstance(usage, dict):
                if isinstance(usage.get("output_tokens"), int):
                    self.response.usage.output_tokens = _int(usage["output_tokens"])
                if isinstance(usage.get("input_tokens"), int):  # newer APIs repeat it, cumulative
                    self.response.usage.input_tokens = _int(usage["input_tokens"])
            self._sync_text()
            self._deltas.append((event, data))
        elif kind == "message_stop":
            self._sync_text()
            self.complete = True
        elif kind == "error":
            self._sync_text()
        return [(event, [PASS])]

    # -- block events --

    def _index(self, data: dict[str, Any]) -> int:
        index = data.get("index")
        if not isinstance(index, int) or isinstance(index, bool):
            raise StreamError(f"upstream sent a {data.get('type')} event without an integer index")
        return index

    def _start(self, data: dict[str, Any]) -> list[Op]:
        index = self._index(data)
        if self._open:
            raise StreamError(f"upstream started block {index} while tool block {next(iter(self._open))} was open")
        if index in self._seen:
            raise StreamError(f"upstream started content block {index} twice")
        self._seen.add(index)
        position, self._started = self._started, self._started + 1
        block = data.get("content_block")
        if not isinstance(block, dict):
            raise StreamError(f"upstream sent content_block_start {index} without a content_block object")
        kind = block.get("type")
        if kind not in TOOL_BLOCKS:
            if kind == "text" and isinstance(block.get("text"), str) and block["text"]:
                self._text.append(block["text"])
            return [PASS]
        if index != position:
            raise StreamError(f"upstream started tool block with index {index} at content position {position}")
        call = ToolCall(str(block.get("id") or ""), str(block.get("name") or ""), "")
        self.calls[index] = call
        self.response.tool_calls.append(call)
        self._kinds[index] = kind
        self._open[index] = _Block(kind, block.get("input"))
        return [("hold", index)]

    def _delta(self, data: dict[str, Any]) -> list[Op]:
        index = self._index(data)
        delta = data.get("delta")
        dtype = delta.get("type") if isinstance(delta, dict) else None
        block = self._open.get(index)
        if block is not None:
            if dtype == "input_json_delta":
                part = delta.get("partial_json")
                if not isinstance(part, str):
                    raise StreamError(f"upstream sent input_json_delta for block {index} without partial_json text")
                block.parts.append(part)
            return [("hold", index)]
        if self._open:
            raise StreamError(f"upstream sent a delta for block {index} while tool block "
                              f"{next(iter(self._open))} was open")
        if index in self._closed:
            raise StreamError(f"upstream sent a delta for tool block {index} after it stopped")
        if dtype == "input_json_delta":
            raise StreamError(f"upstream sent input_json_delta for block {index}, which is not an open tool block")
        if dtype == "text_delta":
            text = delta.get("text")
            if isinstance(text, str):
                self._text.append(text)
        return [PASS]

    def _stop(self, data: dict[str, Any]) -> list[Op]:
        index = self._index(data)
        block = self._open.pop(index, None)
        if block is not None:
            self._closed.add(index)
            self._complete_call(self.calls[index], block)
            return [("hold", index), ("done", index)]
        if self._open:
            raise StreamError(f"upstream stopped block {index} while tool block {next(iter(self._open))} was open")
        if index in self._closed:
            raise StreamError(f"upstream stopped tool block {index} twice")
        self._sync_text()
        return [PASS]

    def _sync_text(self) -> None:
        if len(self._text) > 1:
            self._text = ["".join(self._text)]
        self.response.text = self._text[0] if self._text else ""

    def _complete_call(self, call: ToolCall, block: _Block) -> None:
        """Arguments of a stopped tool block, read as a client reads them."""
        raw = "".join(block.parts)
        start = block.start_input
        if start and (not isinstance(start, dict) or raw):
            # Input given in the start event (and maybe deltas too): clients
            # differ on which wins, so the call is marked unparseable.
            call.raw_arguments = raw or _dumps(start)
            call.arguments = None
        elif raw:
            call.raw_arguments = raw
            call.arguments = _parse_args(raw)
        else:
            call.raw_arguments = _dumps(start) if start else "{}"
            call.arguments = start if start else {}
        self._sync_text()

    # -- the assembler's side --

    def finish_call(self, key: Hashable) -> ToolCall:
        return self.calls[key]

    def replacement(self, key: Hashable) -> list[bytes]:
        call = self.calls[key]
        index = key
        if call.blocked_reason:
            return [
                _event("content_block_start", {"type": "content_block_start", "index": index,
                                               "content_block": {"type": "text", "text": ""}}),
                _event("content_block_delta", {"type": "content_block_delta", "index": index,
                                               "delta": {"type": "text_delta", "text": block_text(call)}}),
                _event("content_block_stop", {"type": "content_block_stop", "index": index}),
            ]
        return [
            _event("content_block_start", {"type": "content_block_start", "index": index,
                                           "content_block": {"type": self._kinds.get(key, "tool_use"),  # type: ignore[arg-type]
                                                             "id": call.id, "name": call.name, "input": {}}}),
            _event("content_block_delta", {"type": "content_block_delta", "index": index,
                                           "delta": {"type": "input_json_delta",
                                                     "partial_json": call.new_raw_arguments or ""}}),
            _event("content_block_stop", {"type": "content_block_stop", "index": index}),
        ]

    def outgoing(self, event: SSEEvent) -> bytes:
        if not self._deltas or not self.calls:
            return event.raw
        for seen, data in self._deltas:
            if seen is event:
                break
        else:
            return event.raw
        if not all(c.blocked_reason for key, c in self.calls.items() if self._kinds.get(key) == "tool_use"):  # type: ignore[arg-type]
            return event.raw
        if not any(c.blocked_reason for c in self.calls.values()):
            return event.raw
        delta = data.get("delta")
        if not isinstance(delta, dict) or delta.get("stop_reason") != "tool_use":
            return event.raw
        delta["stop_reason"] = "end_turn"
        return encode(orjson.dumps(data), event=event.event)

    def error_event(self, message: str) -> bytes:
        return _event("error", {"type": "error", "error": {"type": "api_error", "message": message}})
