"""Dialect-neutral parts (see ``stream_read``) written as the client's SSE events.

Every writer produces a stream its dialect's clients accept whole:

* Chat Completions: chunks with ``choices[0].delta``, a last chunk with the
  finish reason and the usage, then ``data: [DONE]``.  Usage rides on the
  finish chunk rather than on a chunk with empty ``choices``: a client that did
  not ask for ``include_usage`` may read ``choices[0]`` of every chunk.
* Anthropic Messages: ``message_start``, content blocks (start, deltas,
  stop), ``message_delta`` with the stop reason and usage, ``message_stop``.
* Responses: ``response.created``/``in_progress``, message and function_call
  items (added, deltas, done), ``response.completed`` (or ``.incomplete``)
  carrying the whole output, numbered by a gap-free ``sequence_number``.

A tool call is written in one go (start, the whole arguments, stop), text
as it comes.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from relayguard.dialects import adapter_for
from relayguard.errors import StreamError
from relayguard.exchange import Response, ToolCall, Usage
from relayguard.sse import encode
from relayguard.translate.model import target_finish
from relayguard.translate.responses import check_anthropic_input


class StreamWriter:
    def __init__(self, model: str, response_id: str) -> None:
        self.model = model
        self.response_id = response_id

    def start(self) -> list[bytes]:
        raise NotImplementedError

    def text(self, text: str) -> list[bytes]:
        raise NotImplementedError

    def call(self, call: ToolCall) -> list[bytes]:
        raise NotImplementedError

    def finish(self, reason: str, usage: Usage) -> list[bytes]:
        raise NotImplementedError

    def error(self, message: str) -> list[bytes]:
        raise NotImplementedError


class ChatWriter(StreamWriter):
    def __init__(self, model: str, response_id: str) -> None:
        super().__init__(model, response_id)
        self._head = {"id": response_id, "object": "chat.completion.chunk", "created": int(time.time()),
                      "model": model}
        self._calls = 0

    def _chunk(self, delta: dict[str, Any], finish: str | None = None, usage: Usage | None = None) -> bytes:
        body: dict[str, Any] = {**self._head, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                                           "finish_reason": finish}]}
        if usage is not None:
            body["usage"] = {"prompt_tokens": usage.input_tokens, "completion_tokens": usage.output_tokens,
                             "total_tokens": usage.input_tokens + usage.output_tokens}
        return encode(orjson.dumps(body))

    def start(self) -> list[bytes]:
        return [self._chunk({"role": "assistant", "content": ""})]

    def text(self, text: str) -> list[bytes]:
        return [self._chunk({"content": text})]

    def call(self, call: ToolCall) -> list[bytes]:
        index, self._calls = self._calls, self._calls + 1
        return [self._chunk({"tool_calls": [{"index": index, "id": call.id, "type": "function",
                                             "function": {"name": call.name, "arguments": call.raw_arguments}}]})]

    def finish(self, reason: str, usage: Usage) -> list[bytes]:
        return [self._chunk({}, reason, usage), b"data: [DONE]\n\n"]

    def error(self, message: str) -> list[bytes]:
        return [encode(orjson.dumps({"error": {"message": message, "type": "api_error",
                                               "param": None, "code": None}}))]


def _event(data: dict[str, Any]) -> bytes:
    return encode(orjson.dumps(data), event=data["type"])


class AnthropicWriter(StreamWriter):
    def __init__(self, model: str, response_id: str) -> None:
        super().__init__(model, response_id)
        self._index = 0  # the next content block's index
        self._text_open = False

    def start(self) -> list[bytes]:
        return [_event({"type": "message_start", "message": {
            "id": self.response_id, "type": "message", "role": "assistant", "model": self.model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            # The input count arrives with the OpenAI dialects' last event: message_delta repeats it.
            "usage": {"input_tokens": 0, "output_tokens": 0}}})]

    def _close_text(self) -> list[bytes]:
        if not self._text_open:
            return []
        self._text_open = False
        self._index += 1
        return [_event({"type": "content_block_stop", "index": self._index - 1})]

    def text(self, text: str) -> list[bytes]:
        out = []
        if not self._text_open:
            self._text_open = True
            out.append(_event({"type": "content_block_start", "index": self._index,
                               "content_block": {"type": "text", "text": ""}}))
        out.append(_event({"type": "content_block_delta", "index": self._index,
                           "delta": {"type": "text_delta", "text": text}}))
        return out

    def call(self, call: ToolCall) -> list[bytes]:
        if not call.raw_arguments:
            call.raw_arguments = "{}"  # what an Anthropic client reads for a call without arguments
        check_anthropic_input(call, StreamError)
        out = self._close_text()
        index, self._index = self._index, self._index + 1
        out.append(_event({"type": "content_block_start", "index": index, "content_block": {
            "type": "tool_use", "id": call.id, "name": call.name, "input": {}}}))
        out.append(_event({"type": "content_block_delta", "index": index,
                           "delta": {"type": "input_json_delta", "partial_json": call.raw_arguments}}))
        out.append(_event({"type": "content_block_stop", "index": index}))
        return out

    def finish(self, reason: str, usage: Usage) -> list[bytes]:
        return self._close_text() + [
            _event({"type": "message_delta",
                    "delta": {"stop_reason": target_finish("anthropic-messages", reason), "stop_sequence": None},
                    "usage": {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens}}),
            _event({"type": "message_stop"}),
        ]

    def error(self, message: str) -> list[bytes]:
        return [_event({"type": "error", "error": {"type": "api_error", "message": message}})]


class ResponsesWriter(StreamWriter):
    def __init__(self, model: str, response_id: str) -> None:
        super().__init__(model, response_id)
        self._adapter = adapter_for("openai-responses")
        self._base = response_id[5:] if response_id.startswith("resp_") else response_id
        self._created = int(time.time())
        self._seq = 0
        self._items: list[dict[str, Any]] = []  # the output so far, as response.completed repeats it
        self._message: dict[str, Any] | None = None  # the open message item
        self._texts: list[str] = []

    def _emit(self, obj: dict[str, Any]) -> bytes:
        obj["sequence_number"] = self._seq
        self._seq += 1
        return encode(orjson.dumps(obj), event=obj["type"])

    def _response(self, reason: str = "stop", usage: Usage | None = None) -> dict[str, Any]:
        obj = self._adapter.build_response(Response(model=self.model, usage=usage or Usage(),
                                                    finish_reason=reason), self.response_id)
        obj["created_at"] = self._created
        obj["output"] = list(self._items)
        return obj

    def start(self) -> list[bytes]:
        first = {**self._response(), "status": "in_progress", "usage": None}
        return [self._emit({"type": "response.created", "response": first}),
                self._emit({"type": "response.in_progress", "response": first})]

    def text(self, text: str) -> list[bytes]:
        out = []
        index = len(self._items)
        if self._message is None:
            self._message = {"type": "message", "id": f"msg_{self._base}_{index}", "status": "in_progress",
                             "role": "assistant", "content": []}
            out.append(self._emit({"type": "response.output_item.added", "output_index": index,
                                   "item": dict(self._message)}))
            out.append(self._emit({"type": "response.content_part.added", **self._where(),
                                   "part": {"type": "output_text", "annotations": [], "text": ""}}))
        self._texts.append(text)
        out.append(self._emit({"type": "response.output_text.delta", **self._where(), "delta": text,
                               "logprobs": []}))
        return out

    def _where(self) -> dict[str, Any]:
        assert self._message is not None
        return {"item_id": self._message["id"], "output_index": len(self._items), "content_index": 0}

    def _close_message(self) -> list[bytes]:
        if self._message is None:
            return []
        text = "".join(self._texts)
        part = {"type": "output_text", "annotations": [], "text": text}
        item = {**self._message, "status": "completed", "content": [part]}
        out = [self._emit({"type": "response.output_text.done", **self._where(), "text": text, "logprobs": []}),
               self._emit({"type": "response.content_part.done", **self._where(), "part": part}),
               self._emit({"type": "response.output_item.done", "output_index": len(self._items), "item": item})]
        self._items.append(item)
        self._message, self._texts = None, []
        return out

    def call(self, call: ToolCall) -> list[bytes]:
        out = self._close_message()
        index = len(self._items)
        item = {"type": "function_call", "id": f"fc_{self._base}_{index}", "call_id": call.id,
                "name": call.name, "arguments": call.raw_arguments, "status": "completed"}
        where = {"item_id": item["id"], "output_index": index}
        out += [
            self._emit({"type": "response.output_item.added", "output_index": index,
                        "item": {**item, "arguments": "", "status": "in_progress"}}),
            self._emit({"type": "response.function_call_arguments.delta", **where, "delta": call.raw_arguments}),
            self._emit({"type": "response.function_call_arguments.done", **where, "arguments": call.raw_arguments}),
            self._emit({"type": "response.output_item.done", "output_index": index, "item": item}),
        ]
        self._items.append(item)
        return out

    def finish(self, reason: str, usage: Usage) -> list[bytes]:
        out = self._close_message()
        final = self._response(reason, usage)
        if reason == "content_filter":
            final["status"], final["incomplete_details"] = "incomplete", {"reason": "content_filter"}
        kind = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
        return out + [self._emit({"type": kind, "response": final})]

    def error(self, message: str) -> list[bytes]:
        return [self._emit({"type": "error", "code": "upstream_error", "message": message, "param": None})]


WRITERS: dict[str, type[StreamWriter]] = {
    "openai-chat": ChatWriter, "anthropic-messages": AnthropicWriter, "openai-responses": ResponsesWriter}
