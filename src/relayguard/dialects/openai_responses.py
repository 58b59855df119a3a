"""OpenAI Responses (``POST /v1/responses``), the API Codex speaks.

A response is a list of output items: ``message`` items (text in
``output_text`` parts), ``reasoning`` items, and the items a client executes:
``function_call`` (arguments as a JSON string; Codex's ``shell`` function takes
``{"command": [argv...]}``), ``custom_tool_call`` (free-form ``input``, e.g.
Codex's ``apply_patch``), ``local_shell_call`` / ``shell_call`` (built-in shell
tools, an argv or a list of scripts in ``action``) and ``apply_patch_call``.

Streamed, every event is a JSON object with a ``type`` and a gap-free
``sequence_number``.  An item's events all carry its ``output_index``: from
``response.output_item.added`` to ``response.output_item.done``, with
``response.function_call_arguments.delta``/``.done`` (or
``response.custom_tool_call_input.delta``/``.done``) in between.  The stream
ends with ``response.completed`` (or ``.incomplete`` / ``.failed``), which
carries the whole response object again, output included.

The items are read and rendered in ``openai_responses_items``; the stream codec
(``openai_responses_stream``) holds every event of a tool-call item (keyed by
its output index) until ``output_item.done`` and keeps what the client sees
coherent.
"""

from __future__ import annotations

import shlex
import time
from typing import Any

from relayguard.dialects.base import DialectAdapter, error_type, split_arguments, text_of
from relayguard.dialects.openai_responses_items import (
    _INPUT_ROLES,
    _LOCAL_SHELL_FIELDS,
    CALL_TYPES,
    _call_events,
    _call_id,
    _encode,
    _finish_reason,
    _message_events,
    _parse_args,
    _str,
    _usage_of,
    blocked_item,
    output_text_of,
    rewrite_item,
    tool_call_of,
)
from relayguard.dialects.openai_responses_stream import ResponsesStreamCodec
from relayguard.errors import BadRequest
from relayguard.exchange import Message, Response, ToolCall


class OpenAIResponses(DialectAdapter):
    name = "openai-responses"
    paths = ("/v1/responses",)

    def request_info(self, body: dict[str, Any]) -> tuple[str, bool]:
        if not isinstance(body, dict):
            raise BadRequest("request body must be a JSON object")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise BadRequest("request body needs a non-empty string field 'model'")
        inp = body.get("input")
        if inp is not None and not isinstance(inp, (str, list)):
            raise BadRequest("field 'input' must be a string or a list of input items")
        stream = body.get("stream")
        if stream is not None and not isinstance(stream, bool):
            raise BadRequest("field 'stream' must be true or false")
        return model, stream is True

    def conversation(self, body: dict[str, Any]) -> list[Message]:
        out: list[Message] = []
        instructions = body.get("instructions")
        if isinstance(instructions, str) and instructions:
            out.append(Message("system", instructions))
        inp = body.get("input")
        if isinstance(inp, str):
            out.append(Message("user", inp))
            return out
        for item in inp if isinstance(inp, list) else ():
            if isinstance(item, str):
                out.append(Message("user", item))
                continue
            if not isinstance(item, dict):
                continue
            kind = item.get("type")
            if kind in (None, "message"):
                role = item.get("role")
                role = role if role in _INPUT_ROLES else "user"
                out.append(Message(role, text_of(item.get("content"))))
            elif kind == "function_call":
                out.append(Message("assistant", f"function_call {_str(item.get('name'))}: "
                                                f"{_str(item.get('arguments'))}"))
            elif kind == "custom_tool_call":
                out.append(Message("assistant", f"custom_tool_call {_str(item.get('name'))}: "
                                                f"{_str(item.get('input'))}"))
            elif kind in ("local_shell_call", "shell_call"):
                action = item.get("action") if isinstance(item.get("action"), dict) else {}
                command = action.get("command", action.get("commands"))
                shown = shlex.join(command) if isinstance(command, list) and \
                    all(isinstance(c, str) for c in command) else _str(command)
                out.append(Message("assistant", f"{kind}: {shown}"))
            elif kind == "reasoning":
                summary = text_of(item.get("summary"))
                if summary:
                    out.append(Message("assistant", summary))
            elif isinstance(kind, str) and kind.endswith("_output"):
                output = item.get("output")
                out.append(Message("tool", output if isinstance(output, str) else text_of(output)))
            else:
                out.append(Message("assistant", text_of([item])))
        return out

    def opening(self, body: dict[str, Any]) -> Any:
        items = body.get("input")
        return [body.get("instructions"), items[:1] if isinstance(items, list) else items]

    def parse_response(self, body: dict[str, Any]) -> Response:
        response = Response(status=200, model=_str(body.get("model")), body=body)
        output = body.get("output")
        for i, item in enumerate(output if isinstance(output, list) else ()):
            if isinstance(item, dict) and item.get("type") in CALL_TYPES:
                response.tool_calls.append(tool_call_of(item, i))
        response.text = output_text_of(output)
        response.finish_reason = _finish_reason(body.get("status"), bool(response.tool_calls))
        response.usage = _usage_of(body.get("usage"))
        return response

    def apply(self, body: dict[str, Any], calls: list[ToolCall]) -> dict[str, Any]:
        by_id = {c.id: c for c in calls}
        output = body.get("output")
        if not isinstance(output, list):
            return body
        changed = False
        for i, item in enumerate(output):
            if not isinstance(item, dict) or item.get("type") not in CALL_TYPES:
                continue
            call = by_id.get(_call_id(item, i))
            if call is None:
                continue
            if call.blocked_reason:
                output[i] = blocked_item(call)
                changed = True
            elif call.new_raw_arguments is not None:
                rewrite_item(item, call)
        if changed and "output_text" in body:
            body["output_text"] = output_text_of(output)
        return body

    # --- writing responses (mock provider, translation) ---

    def _items(self, response: Response, response_id: str) -> list[dict[str, Any]]:
        base = response_id[5:] if response_id.startswith("resp_") else response_id
        items: list[dict[str, Any]] = []
        if response.text:
            items.append({"type": "message", "id": f"msg_{base}", "status": "completed", "role": "assistant",
                          "content": [{"type": "output_text", "text": response.text, "annotations": []}]})
        for i, call in enumerate(response.tool_calls):
            if call.kind == "shell":
                args = call.arguments if isinstance(call.arguments, dict) else _parse_args(call.raw_arguments)
                args = args if isinstance(args, dict) else {}
                action: dict[str, Any] = {"type": "exec", "command": args.get("command") or [],
                                          "env": args.get("env") or {}}
                for field in _LOCAL_SHELL_FIELDS[2:]:
                    if args.get(field) is not None:
                        action[field] = args[field]
                items.append({"type": "local_shell_call", "id": f"lsh_{base}_{i}", "call_id": call.id,
                              "action": action, "status": "completed"})
            else:
                items.append({"type": "function_call", "id": f"fc_{base}_{i}", "call_id": call.id,
                              "name": call.name, "arguments": call.raw_arguments, "status": "completed"})
        return items

    def _response_object(self, response: Response, response_id: str, created: int) -> dict[str, Any]:
        incomplete = response.finish_reason in ("incomplete", "length", "max_output_tokens")
        usage = response.usage
        return {
            "id": response_id, "object": "response", "created_at": created,
            "status": "incomplete" if incomplete else "completed",
            "error": None,
            "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
            "instructions": None, "max_output_tokens": None, "model": response.model,
            "output": self._items(response, response_id),
            "parallel_tool_calls": True, "previous_response_id": None,
            "reasoning": {"effort": None, "summary": None}, "store": False, "temperature": 1.0,
            "text": {"format": {"type": "text"}}, "tool_choice": "auto", "tools": [], "top_p": 1.0,
            "truncation": "disabled",
            "usage": {"input_tokens": usage.input_tokens, "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens": usage.output_tokens, "output_tokens_details": {"reasoning_tokens": 0},
                      "total_tokens": usage.input_tokens + usage.output_tokens},
            "user": None, "metadata": {},
        }

    def build_response(self, response: Response, response_id: str) -> dict[str, Any]:
        return self._response_object(response, response_id, int(time.time()))

    def build_stream(self, response: Response, response_id: str) -> list[bytes]:
        final = self._response_object(response, response_id, int(time.time()))
        start = {**final, "status": "in_progress", "incomplete_details": None, "output": [], "usage": None}
        events: list[dict[str, Any]] = [
            {"type": "response.created", "response": start},
            {"type": "response.in_progress", "response": start},
        ]
        for index, item in enumerate(final["output"]):
            if item["type"] == "message":
                text = item["content"][0]["text"]
                events += _message_events(item, index, split_arguments(text, 4))
            else:
                events += _call_events(item, index, pieces=3)
        end = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
        events.append({"type": end, "response": final})
        out = []
        for seq, obj in enumerate(events):
            obj["sequence_number"] = seq
            out.append(_encode(obj))
        return out

    def stream_codec(self) -> ResponsesStreamCodec:
        return ResponsesStreamCodec()

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return {"error": {"message": message, "type": error_type(status), "param": None, "code": None}}
