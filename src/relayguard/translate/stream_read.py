"""Upstream SSE events, read into dialect-neutral parts.

Each reader drives the source adapter's StreamCodec (the same one the guard
uses: it assembles tool calls and rejects inconsistent streams) and turns its
operations into parts:

    ("text", str)                  text to forward now
    ("call", ToolCall)             a tool call, complete (the codec said "done")
    ("finish", reason, Usage)      the upstream's terminal event; reason in the neutral words
    ("error", message)             the upstream reported an error in the stream

A tool call is only ever emitted whole, so a stream cut short never hands the
client half a call.  Fields the reader itself reads are type-checked first:
an upstream is not trusted to send what it should.
"""

from __future__ import annotations

from typing import Any

import orjson

from relayguard.dialects import adapter_for
from relayguard.errors import StreamError
from relayguard.exchange import Dialect, Usage
from relayguard.sse import SSEEvent
from relayguard.translate.model import NAMES, normal_finish
from relayguard.translate.responses import anthropic_input_tokens, token_count

Part = tuple[Any, ...]


def _json(data: str, what: str) -> dict[str, Any]:
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise StreamError(f"upstream sent {what} that is not JSON") from None
    if not isinstance(obj, dict):
        raise StreamError(f"upstream sent {what} that is not a JSON object")
    return obj


def _message(obj: Any) -> str:
    error = obj.get("error") if isinstance(obj, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    if isinstance(obj, dict) and isinstance(obj.get("message"), str):
        return obj["message"]
    return "the upstream reported an error without a message"


def _type(obj: Any) -> str | None:
    """The "type" of an event, block or item, when it is a string (attackers send lists)."""
    kind = obj.get("type") if isinstance(obj, dict) else None
    return kind if isinstance(kind, str) else None


def _opt(value: Any, kind: type | tuple[type, ...]) -> bool:
    return value is None or (isinstance(value, kind) and not isinstance(value, bool))


class SourceReader:
    dialect: Dialect

    def __init__(self, response_id: str) -> None:
        self.codec = adapter_for(self.dialect).stream_codec()
        self.response_id = response_id
        self.calls = 0  # tool calls emitted so far

    def read(self, event: SSEEvent) -> list[Part]:
        raise NotImplementedError

    def _call(self, key: Any) -> Part:
        # An upstream that sends no id (some local servers) gets one unique to this
        # answer, before the codec would fill in one that repeats every turn.
        minted = f"call_{self.response_id}_{self.calls}"
        pending = self.codec.calls[key]
        pending.id = pending.id or minted
        call = self.codec.finish_call(key)
        call.id = call.id or minted
        self.calls += 1
        return ("call", call)


class ChatReader(SourceReader):
    dialect = "openai-chat"

    def read(self, event: SSEEvent) -> list[Part]:
        if event.data == "[DONE]":
            parts = self._apply(self.codec.feed(event))
            r = self.codec.response
            return parts + [("finish", normal_finish(self.dialect, r.finish_reason, self.calls > 0), r.usage)]
        obj = _json(event.data, "a chat.completion.chunk")
        if obj.get("error") is not None and not obj.get("choices"):
            return [("error", _message(obj))]
        _check_chunk(obj)
        return self._apply(self.codec.feed(event))

    def _apply(self, pairs: list[tuple[SSEEvent, list[Any]]]) -> list[Part]:
        parts: list[Part] = []
        for piece, ops in pairs:
            for op, key in ops:
                if op == "done":
                    parts.append(self._call(key))
                elif op == "pass" and piece.data != "[DONE]":
                    for choice in orjson.loads(piece.data).get("choices") or ():
                        delta = choice.get("delta") or {}
                        for field in ("content", "refusal"):
                            if isinstance(delta.get(field), str) and delta[field]:
                                parts.append(("text", delta[field]))
        return parts


def _check_chunk(obj: dict[str, Any]) -> None:
    """The fields of a chat.completion.chunk the codec and this reader rely on."""
    choices = obj.get("choices")
    if not _opt(choices, list):
        raise StreamError("upstream sent a chat.completion.chunk whose 'choices' is not a list")
    for choice in choices or ():
        if not isinstance(choice, dict) or choice.get("index", 0) != 0:
            raise StreamError("upstream sent a chunk for a choice other than the one asked for")
        delta = choice.get("delta")
        if not _opt(delta, dict) or not _opt(choice.get("finish_reason"), str):
            raise StreamError("upstream sent a chunk with a malformed delta or finish_reason")
        delta = delta or {}
        calls = delta.get("tool_calls")
        if not (_opt(delta.get("content"), str) and _opt(delta.get("refusal"), str) and _opt(calls, list)):
            raise StreamError("upstream sent a chunk whose delta content or tool_calls has the wrong type")
        if not all(_tool_delta_ok(tc) for tc in calls or ()):
            raise StreamError("upstream sent a tool call delta with malformed index, id, name or arguments")
    usage = obj.get("usage")
    if not _opt(usage, dict) or not all(_opt((usage or {}).get(k), int)
                                        for k in ("prompt_tokens", "completion_tokens")):
        raise StreamError("upstream sent a chunk whose usage is not token counts")


def _tool_delta_ok(tc: Any) -> bool:
    if not isinstance(tc, dict):
        return False
    index, fn = tc.get("index", 0), tc.get("function")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 4096:
        return False
    return _opt(tc.get("id"), str) and _opt(fn, dict) and \
        _opt((fn or {}).get("name"), str) and _opt((fn or {}).get("arguments"), str)


class AnthropicReader(SourceReader):
    dialect = "anthropic-messages"
    _BLOCKS = frozenset(("text", "tool_use", "thinking", "redacted_thinking"))

    def __init__(self, response_id: str) -> None:
        super().__init__(response_id)
        self._usage: dict[str, Any] = {}  # the latest of each usage field (message_delta's are cumulative)

    def read(self, event: SSEEvent) -> list[Part]:
        data = _json(event.data, "an Anthropic stream event")
        kind = _type(data)
        if kind == "error":
            return [("error", _message(data))]
        if kind == "content_block_start":
            block = data.get("content_block")
            if isinstance(block, dict) and _type(block) not in self._BLOCKS:
                raise StreamError(f"upstream started a {str(block.get('type'))[:40]!r} block, which a client of "
                                  "another dialect cannot receive (it asked for none)")
        parts: list[Part] = []
        for _, ops in self.codec.feed(event):
            for op, key in ops:
                if op == "done":
                    parts.append(self._call(key))
                elif op == "pass":
                    parts += self._pass(kind, data)
        return parts

    def _pass(self, kind: Any, data: dict[str, Any]) -> list[Part]:
        if kind == "content_block_start":
            block = data["content_block"]
            if block.get("type") == "text" and isinstance(block.get("text"), str) and block["text"]:
                return [("text", block["text"])]
        elif kind == "content_block_delta":
            delta = data.get("delta")
            if isinstance(delta, dict) and delta.get("type") == "text_delta" and \
                    isinstance(delta.get("text"), str) and delta["text"]:
                return [("text", delta["text"])]
        elif kind in ("message_start", "message_delta"):
            holder = data.get("message") if kind == "message_start" else data
            usage = holder.get("usage") if isinstance(holder, dict) else None
            if isinstance(usage, dict):
                self._usage.update({k: v for k, v in usage.items() if isinstance(v, int)})
        elif kind == "message_stop":
            usage = Usage(anthropic_input_tokens(self._usage), token_count(self._usage.get("output_tokens")))
            return [("finish", normal_finish(self.dialect, self.codec.response.finish_reason, self.calls > 0),
                     usage)]
        return []


class ResponsesReader(SourceReader):
    dialect = "openai-responses"
    _ITEMS = frozenset(("message", "function_call", "reasoning"))
    _TERMINAL = frozenset(("response.completed", "response.incomplete", "response.failed"))

    def __init__(self, response_id: str) -> None:
        super().__init__(response_id)
        self._texts = 0

    def read(self, event: SSEEvent) -> list[Part]:
        if event.data == "[DONE]":  # not part of this API; some routers add it
            return []
        parts: list[Part] = []
        for piece, ops in self.codec.feed(event):
            obj = getattr(piece, "obj", None)
            obj = obj if isinstance(obj, dict) else _json(piece.data, "a Responses stream event")
            kind = _type(obj)
            if kind == "error":
                return parts + [("error", _message(obj))]
            if kind == "response.failed":
                return parts + [("error", _message(obj.get("response")))]
            item = obj.get("item")
            if isinstance(item, dict) and _type(item) not in self._ITEMS:
                raise StreamError(f"upstream streamed a {str(item.get('type'))[:40]!r} item, which a client of "
                                  "another dialect cannot receive (it asked for function tools only)")
            if kind in self._TERMINAL:
                self._check_output(obj)
            for op, key in ops:
                if op == "done":
                    parts.append(self._call(key))
                elif op == "pass" and kind in ("response.output_text.delta", "response.refusal.delta"):
                    delta = obj.get("delta")
                    if isinstance(delta, str) and delta:
                        self._texts += 1
                        parts.append(("text", delta))
            if kind in self._TERMINAL:
                parts += self._finish(obj)
        return parts

    def _check_output(self, obj: dict[str, Any]) -> None:
        resp = obj.get("response")
        output = resp.get("output") if isinstance(resp, dict) else None
        for item in output if isinstance(output, list) else ():
            kind = _type(item)
            if kind not in self._ITEMS:
                raise StreamError(f"upstream's final response holds a {str(kind)[:40]!r} item, which a client "
                                  "of another dialect cannot receive")

    def _finish(self, obj: dict[str, Any]) -> list[Part]:
        parts: list[Part] = []
        r = self.codec.response
        if not self._texts and r.text:  # an upstream that put its text only in the final object
            parts.append(("text", r.text))
        resp = obj["response"]
        details = resp.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        status = "incomplete" if resp.get("status") == "incomplete" or obj["type"] == "response.incomplete" \
            else "completed"
        usage = resp.get("usage") if isinstance(resp.get("usage"), dict) else {}
        usage = Usage(token_count(usage.get("input_tokens")), token_count(usage.get("output_tokens")))
        return parts + [("finish", normal_finish(self.dialect, status, self.calls > 0, reason), usage)]


READERS: dict[str, type[SourceReader]] = {
    "openai-chat": ChatReader, "anthropic-messages": AnthropicReader, "openai-responses": ResponsesReader}


def read_event(reader: SourceReader, event: SSEEvent) -> list[Part]:
    """One upstream event as parts; any way the event breaks the codec is a StreamError."""
    try:
        return reader.read(event)
    except StreamError:
        raise
    except (AttributeError, TypeError, ValueError, KeyError, IndexError, OverflowError) as exc:
        raise StreamError(f"upstream sent a {NAMES[reader.dialect]} stream event this gateway could not "
                          f"read ({type(exc).__name__})") from None
