"""OpenAI Chat Completions (``POST /v1/chat/completions``).

Tool calls live in ``choices[i].message.tool_calls``; streamed, they arrive as
``delta.tool_calls`` entries keyed by ``index``, the first carrying id and name,
the rest argument fragments.  A tool call is complete when the next index of
the same choice starts, when the choice's ``finish_reason`` arrives, or at
``data: [DONE]``.
"""

from __future__ import annotations

import time
from typing import Any, Hashable

import orjson

from relayguard.dialects.base import (
    PASS, DialectAdapter, Op, StreamCodec, block_text, error_type, split_arguments, text_of,
)
from relayguard.errors import BadRequest, StreamError
from relayguard.exchange import Message, Response, ToolCall, Usage
from relayguard.sse import SSEEvent, encode

Key = tuple[int, int]  # (choice index, tool-call index)


def _parse_args(raw: str) -> Any:
    if not raw:
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


class OpenAIChat(DialectAdapter):
    name = "openai-chat"
    paths = ("/v1/chat/completions",)

    def request_info(self, body: dict[str, Any]) -> tuple[str, bool]:
        if not isinstance(body, dict):
            raise BadRequest("request body must be a JSON object")
        model = body.get("model")
        if not isinstance(model, str):
            raise BadRequest("request body needs a string field 'model'")
        if not isinstance(body.get("messages"), list):
            raise BadRequest("request body needs a list field 'messages'")
        return model, body.get("stream") is True

    def conversation(self, body: dict[str, Any]) -> list[Message]:
        out = []
        for msg in body.get("messages") or []:
            if not isinstance(msg, dict):
                continue
            role = str(msg.get("role", "user"))
            text = text_of(msg.get("content"))
            for tc in msg.get("tool_calls") or []:
                fn = tc.get("function") or {} if isinstance(tc, dict) else {}
                text += f"\ntool_call {fn.get('name', '')}: {fn.get('arguments', '')}"
            out.append(Message(role, text))
        return out

    def opening(self, body: dict[str, Any]) -> Any:
        return (body.get("messages") or [])[:2]

    def parse_response(self, body: dict[str, Any]) -> Response:
        response = Response(status=200, model=str(body.get("model", "")), body=body)
        texts = []
        for choice in body.get("choices") or []:
            msg = choice.get("message") or {}
            if isinstance(msg.get("content"), str):
                texts.append(msg["content"])
            for i, tc in enumerate(msg.get("tool_calls") or []):
                fn = tc.get("function") or {}
                raw = fn.get("arguments") or ""
                raw = raw if isinstance(raw, str) else orjson.dumps(raw).decode()
                call_id = tc.get("id") or f"call_{choice.get('index', 0)}_{i}"
                response.tool_calls.append(
                    ToolCall(call_id, str(fn.get("name", "")), raw, _parse_args(raw)))
            response.finish_reason = response.finish_reason or str(choice.get("finish_reason") or "")
        response.text = "".join(texts)
        usage = body.get("usage") or {}
        response.usage = Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
        return response

    def apply(self, body: dict[str, Any], calls: list[ToolCall]) -> dict[str, Any]:
        by_id = {c.id: c for c in calls}
        for choice in body.get("choices") or []:
            msg = choice.get("message") or {}
            kept, notes = [], []
            for i, tc in enumerate(msg.get("tool_calls") or []):
                call = by_id.get(tc.get("id") or f"call_{choice.get('index', 0)}_{i}")
                if call is not None and call.blocked_reason:
                    notes.append(block_text(call))
                    continue
                if call is not None and call.new_raw_arguments is not None:
                    tc.setdefault("function", {})["arguments"] = call.new_raw_arguments
                kept.append(tc)
            if not notes:
                continue
            msg["content"] = "\n\n".join(filter(None, [msg.get("content") or "", *notes]))
            if kept:
                msg["tool_calls"] = kept
            else:
                msg.pop("tool_calls", None)
                if choice.get("finish_reason") == "tool_calls":
                    choice["finish_reason"] = "stop"
        return body

    def build_response(self, response: Response, response_id: str) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": response.text or None, "refusal": None}
        if response.tool_calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.raw_arguments}}
                for c in response.tool_calls]
        return {
            "id": response_id, "object": "chat.completion", "created": int(time.time()),
            "model": response.model,
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": "tool_calls" if response.tool_calls else (response.finish_reason or "stop")}],
            "usage": _usage(response.usage),
        }

    def build_stream(self, response: Response, response_id: str) -> list[bytes]:
        head = {"id": response_id, "object": "chat.completion.chunk", "created": int(time.time()),
                "model": response.model}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            body = {**head, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
            return encode(orjson.dumps(body))

        out = [chunk({"role": "assistant", "content": ""})]
        out += [chunk({"content": piece}) for piece in split_arguments(response.text) if piece]
        for i, call in enumerate(response.tool_calls):
            out.append(chunk({"tool_calls": [{"index": i, "id": call.id, "type": "function",
                                              "function": {"name": call.name, "arguments": ""}}]}))
            out += [chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
                    for piece in split_arguments(call.raw_arguments)]
        out.append(chunk({}, "tool_calls" if response.tool_calls else (response.finish_reason or "stop")))
        out.append(encode(orjson.dumps({**head, "choices": [], "usage": _usage(response.usage)})))
        out.append(b"data: [DONE]\n\n")
        return out

    def stream_codec(self) -> StreamCodec:
        return ChatStreamCodec()

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return {"error": {"message": message, "type": error_type(status), "param": None, "code": None}}


def _usage(usage: Usage) -> dict[str, int]:
    return {"prompt_tokens": usage.input_tokens, "completion_tokens": usage.output_tokens,
            "total_tokens": usage.input_tokens + usage.output_tokens}


class ChatStreamCodec(StreamCodec):
    def __init__(self) -> None:
        super().__init__()
        self._open: dict[int, Key] = {}  # choice index -> its open tool call
        self._head: dict[str, Any] = {}  # id/created/model, to build replacement chunks
        self._finish_events: list[SSEEvent] = []  # passing events that carry a finish_reason
        self._text: list[str] = []
        self._done: set[Key] = set()  # released calls: a later delta for one would be appended unseen

    def feed(self, event: SSEEvent) -> list[tuple[SSEEvent, list[Op]]]:
        if event.data == "[DONE]":
            self.complete = True
            self.response.text = "".join(self._text)
            return [(event, [*self._close_all(), PASS])]
        try:
            obj = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            raise StreamError("upstream sent a chat.completion.chunk that is not JSON") from None
        if not isinstance(obj, dict):
            raise StreamError("upstream sent a chat.completion.chunk that is not a JSON object")
        if not self._head:
            self._head = {k: obj.get(k) for k in ("id", "object", "created", "model")}
            self.response.model = str(obj.get("model") or "")
        usage = obj.get("usage")
        if isinstance(usage, dict):
            self.response.usage = Usage(int(usage.get("prompt_tokens") or 0),
                                        int(usage.get("completion_tokens") or 0))
        choices = obj.get("choices")
        if not isinstance(choices, list) or not choices:
            return [(event, [PASS])]
        if _needs_split(choices):
            out = []
            for part in _split(obj):
                out += self.feed(SSEEvent(event.event, part.decode(), encode(part)))
            return out
        return [(event, self._classify(event, choices[0]))]

    def _classify(self, event: SSEEvent, choice: dict[str, Any]) -> list[Op]:
        ci = int(choice.get("index") or 0)
        delta = choice.get("delta") or {}
        finish = choice.get("finish_reason")
        tool_calls = delta.get("tool_calls")
        if tool_calls:
            tc = tool_calls[0]
            key = (ci, int(tc.get("index") or 0))
            if key in self._done or self.complete:
                raise StreamError(f"upstream sent more of tool call {key[1]} after it was complete")
            ops: list[Op] = []
            current = self._open.get(ci)
            if current is not None and current != key:
                self._done.add(current)
                ops.append(("done", current))
            call = self.calls.get(key)
            if call is None:
                call = self.calls[key] = ToolCall("", "", "")
                self.response.tool_calls.append(call)
            self._open[ci] = key
            fn = tc.get("function") or {}
            call.id = tc.get("id") or call.id
            call.name += fn.get("name") or ""
            call.raw_arguments += fn.get("arguments") or ""
            ops.append(("hold", key))
            return ops
        if isinstance(delta.get("content"), str):
            self._text.append(delta["content"])
        if finish:
            self.response.finish_reason = str(finish)
            self._finish_events.append(event)
            return [*self._close_choice(ci), PASS]
        return [PASS]

    def _close_choice(self, ci: int) -> list[Op]:
        key = self._open.pop(ci, None)
        if key is None:
            return []
        self._done.add(key)
        return [("done", key)]

    def _close_all(self) -> list[Op]:
        return [op for ci in list(self._open) for op in self._close_choice(ci)]

    def finish_call(self, key: Hashable) -> ToolCall:
        call = self.calls[key]
        if not call.id:
            call.id = f"call_{key[0]}_{key[1]}"
        call.arguments = _parse_args(call.raw_arguments)
        return call

    def _shift(self, key: Key) -> int:
        """How many earlier tool calls of the same choice were blocked (their
        indices vanish, so later ones move down to keep indices dense)."""
        return sum(1 for (ci, ti), c in self.calls.items()
                   if ci == key[0] and ti < key[1] and c.blocked_reason)

    def release(self, key: Hashable, events: list[SSEEvent]) -> list[bytes]:
        shift = self._shift(key)
        if not shift:
            return [e.raw for e in events]
        out = []
        for event in events:
            obj = orjson.loads(event.data)
            for tc in obj["choices"][0]["delta"]["tool_calls"]:
                tc["index"] = key[1] - shift
            out.append(encode(orjson.dumps(obj)))
        return out

    def replacement(self, key: Hashable) -> list[bytes]:
        call = self.calls[key]
        if call.blocked_reason:
            delta: dict[str, Any] = {"content": ("\n\n" if any(self._text) else "") + block_text(call)}
        else:
            delta = {"tool_calls": [{"index": key[1] - self._shift(key), "id": call.id, "type": "function",
                                     "function": {"name": call.name, "arguments": call.new_raw_arguments}}]}
        body = {**self._head, "choices": [{"index": key[0], "delta": delta, "logprobs": None,
                                           "finish_reason": None}]}
        return [encode(orjson.dumps(body))]

    def outgoing(self, event: SSEEvent) -> bytes:
        if not self.calls or not any(e is event for e in self._finish_events):
            return event.raw
        if not all(c.blocked_reason for c in self.calls.values()):
            return event.raw
        obj = orjson.loads(event.data)
        for choice in obj["choices"]:
            if choice.get("finish_reason") == "tool_calls":
                choice["finish_reason"] = "stop"
        return encode(orjson.dumps(obj))

    def error_event(self, message: str) -> bytes:
        return encode(orjson.dumps({"error": {"message": message, "type": "api_error",
                                              "param": None, "code": None}}))


def _needs_split(choices: list[Any]) -> bool:
    if len(choices) > 1:
        return any((c.get("delta") or {}).get("tool_calls") for c in choices)
    choice = choices[0]
    delta = choice.get("delta") or {}
    tool_calls = delta.get("tool_calls")
    if not tool_calls:
        return False
    return len(tool_calls) > 1 or bool(delta.get("content")) or bool(choice.get("finish_reason"))


def _split(obj: dict[str, Any]) -> list[bytes]:
    """One chunk per piece, in stream order: text, each tool call, the finish."""
    head = {k: v for k, v in obj.items() if k not in ("choices", "usage")}
    parts = []
    for choice in obj["choices"]:
        delta = dict(choice.get("delta") or {})
        tool_calls = delta.pop("tool_calls", None) or []
        base = {k: v for k, v in choice.items() if k not in ("delta", "finish_reason")}
        if any(v for v in delta.values()):
            parts.append({**head, "choices": [{**base, "delta": delta, "finish_reason": None}]})
        for tc in tool_calls:
            parts.append({**head, "choices": [{**base, "delta": {"tool_calls": [tc]}, "finish_reason": None}]})
        if choice.get("finish_reason"):
            parts.append({**head, "choices": [{**base, "delta": {}, "finish_reason": choice["finish_reason"]}]})
    if obj.get("usage"):
        parts.append({**head, "choices": [], "usage": obj["usage"]})
    return [orjson.dumps(p) for p in parts]
