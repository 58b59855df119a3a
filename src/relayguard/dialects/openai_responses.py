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

The codec holds every event of a tool-call item (keyed by its output index)
until ``output_item.done``, and keeps what the client sees coherent:

* replaced or re-rendered events are numbered from one counter, so the
  sequence stays gap-free (events that need no change pass as their raw bytes);
* the final ``response.completed`` output is rewritten to the items the
  client actually saw, so a router cannot stream a harmless call and put a
  different one in the final object;
* a call whose deltas, ``arguments.done`` and ``output_item.done`` disagree is
  re-rendered from the version that was inspected;
* a call that appears only in ``response.completed`` (never streamed as an
  item) is inspected there: the event is held until it is decided.
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass
from typing import Any, Hashable

import orjson

from relayguard.dialects.base import (
    PASS, DialectAdapter, Op, StreamCodec, block_text, error_type, split_arguments, text_of,
)
from relayguard.errors import BadRequest, StreamError
from relayguard.exchange import Message, Response, ToolCall, Usage
from relayguard.sse import SSEEvent, encode

# Output item types the client executes: each is one ToolCall.
CALL_TYPES = frozenset({"function_call", "custom_tool_call", "local_shell_call", "shell_call",
                        "apply_patch_call"})
# Item types whose payload is a streamed string field.
_TEXT_FIELD = {"function_call": "arguments", "custom_tool_call": "input"}
_PAYLOAD_FIELD = {"function_call": "arguments", "custom_tool_call": "input",
                  "local_shell_call": "action", "shell_call": "action", "apply_patch_call": "operation"}
_DELTA_TYPE = {"function_call": "response.function_call_arguments.delta",
               "custom_tool_call": "response.custom_tool_call_input.delta"}
_DONE_TYPE = {"function_call": "response.function_call_arguments.done",
              "custom_tool_call": "response.custom_tool_call_input.done"}
_ARG_DELTAS = frozenset(_DELTA_TYPE.values())
_ARG_DONES = {v: _TEXT_FIELD[k] for k, v in _DONE_TYPE.items()}
_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
_LOCAL_SHELL_FIELDS = ("command", "env", "working_directory", "timeout_ms", "user")
_INPUT_ROLES = frozenset({"user", "system", "developer", "assistant"})


def _parse_args(raw: str) -> Any:
    if not raw:
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _call_id(item: dict[str, Any], index: int) -> str:
    cid = item.get("call_id") or item.get("id")
    return cid if isinstance(cid, str) and cid else f"call_{index}"


def _script_of(commands: Any) -> str:
    if isinstance(commands, list):
        return "\n".join(c if isinstance(c, str) else _str(c) for c in commands)
    return _str(commands)


def tool_call_of(item: dict[str, Any], index: int) -> ToolCall:
    """The ToolCall of one executable output item.

    ``raw_arguments`` is always JSON text (what a rewriter edits and the
    pipeline parses): a function call's own arguments; for the other item
    types the JSON of ``arguments``.  Built-in shell calls are kind "shell"
    with their argv in ``arguments["command"]``.
    """
    kind = item.get("type")
    cid = _call_id(item, index)
    if kind == "function_call":
        raw = _str(item.get("arguments"))
        return ToolCall(cid, _str(item.get("name")), raw, _parse_args(raw))
    if kind == "custom_tool_call":
        args: dict[str, Any] = {"input": _str(item.get("input"))}
        return ToolCall(cid, _str(item.get("name")), _dumps(args), args)
    if kind == "apply_patch_call":
        op = item.get("operation")
        args = op if isinstance(op, dict) else {"operation": op}
        return ToolCall(cid, "apply_patch", _dumps(args), args)
    action = item.get("action")
    action = action if isinstance(action, dict) else {}
    if kind == "shell_call":
        commands = action.get("commands")
        args = {"command": ["bash", "-lc", _script_of(commands)], "commands": commands}
        for field in ("timeout_ms", "max_output_length"):
            if action.get(field) is not None:
                args[field] = action[field]
        return ToolCall(cid, "shell", _dumps(args), args, kind="shell")
    # local_shell_call
    args = {"command": action.get("command")}
    for field in _LOCAL_SHELL_FIELDS[1:]:
        if action.get(field) is not None:
            args[field] = action[field]
    return ToolCall(cid, "local_shell", _dumps(args), args, kind="shell")


def blocked_item(call: ToolCall) -> dict[str, Any]:
    """The assistant message item that stands where a blocked call's item was."""
    return {"type": "message", "id": f"msg_rg_{call.id}", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": block_text(call), "annotations": []}]}


def rewrite_item(item: dict[str, Any], call: ToolCall) -> None:
    """Give a call item its rewritten arguments (``call.new_raw_arguments``), in place."""
    new = call.new_raw_arguments
    if new is None:
        return
    kind = item.get("type")
    if kind == "function_call":
        item["arguments"] = new
        return
    parsed = _parse_args(new)
    if not isinstance(parsed, dict):
        return  # not expressible in this item type: the item stays as it was
    if kind == "custom_tool_call":
        if "input" in parsed:
            item["input"] = _str(parsed["input"])
    elif kind == "apply_patch_call":
        item["operation"] = parsed["operation"] if set(parsed) == {"operation"} else parsed
    elif kind == "local_shell_call":
        action = dict(item.get("action") or {})
        for field in _LOCAL_SHELL_FIELDS:
            if field in parsed:
                action[field] = parsed[field]
        action.setdefault("type", "exec")
        item["action"] = action
    elif kind == "shell_call":
        action = dict(item.get("action") or {})
        old = action.get("commands")
        commands = parsed.get("commands")
        argv = parsed.get("command")
        if (commands == old or not isinstance(commands, list)) and isinstance(argv, list) \
                and all(isinstance(a, str) for a in argv):
            if _script_of(old) != (argv[-1] if argv else ""):
                commands = ([argv[2]] if len(argv) == 3 and argv[1] in ("-c", "-lc")
                            else [shlex.join(argv)])
        if isinstance(commands, list):
            action["commands"] = commands
        for field in ("timeout_ms", "max_output_length"):
            if field in parsed:
                action[field] = parsed[field]
        item["action"] = action


def output_text_of(output: Any) -> str:
    """All ``output_text`` of the message items, joined as the SDK's ``output_text`` does."""
    texts = []
    for item in output if isinstance(output, list) else ():
        if isinstance(item, dict) and item.get("type") == "message":
            for part in item.get("content") or ():
                if isinstance(part, dict) and part.get("type") == "output_text" \
                        and isinstance(part.get("text"), str):
                    texts.append(part["text"])
    return "".join(texts)


def _usage_of(usage: Any) -> Usage:
    if not isinstance(usage, dict):
        return Usage()
    return Usage(int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0))


def _finish_reason(status: Any, has_calls: bool) -> str:
    if status in (None, "completed"):
        return "tool_calls" if has_calls else "stop"
    return str(status)


# --- event builders (dicts without sequence_number; the caller numbers them) ---

def _message_events(item: dict[str, Any], index: int, pieces: list[str]) -> list[dict[str, Any]]:
    item_id = item.get("id")
    text = "".join(pieces)
    part = {"type": "output_text", "annotations": [], "text": ""}
    where = {"item_id": item_id, "output_index": index, "content_index": 0}
    events = [
        {"type": "response.output_item.added", "output_index": index,
         "item": {**item, "status": "in_progress", "content": []}},
        {"type": "response.content_part.added", **where, "part": part},
    ]
    events += [{"type": "response.output_text.delta", **where, "delta": p, "logprobs": []} for p in pieces]
    events += [
        {"type": "response.output_text.done", **where, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **where, "part": {**part, "text": text}},
        {"type": "response.output_item.done", "output_index": index, "item": item},
    ]
    return events


def _call_events(item: dict[str, Any], index: int, pieces: int = 1) -> list[dict[str, Any]]:
    kind = item.get("type")
    added = dict(item)
    if "status" in added:
        added["status"] = "in_progress"
    field = _TEXT_FIELD.get(kind)
    events = [{"type": "response.output_item.added", "output_index": index, "item": added}]
    if field is not None:
        text = _str(item.get(field))
        added[field] = ""
        where = {"item_id": item.get("id"), "output_index": index}
        events += [{"type": _DELTA_TYPE[kind], **where, "delta": p} for p in split_arguments(text, pieces)]
        events.append({"type": _DONE_TYPE[kind], **where, field: text})
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return events


def _encode(obj: dict[str, Any]) -> bytes:
    return encode(orjson.dumps(obj), obj["type"])


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


@dataclass(slots=True)
class _Parsed(SSEEvent):
    """An upstream event with its JSON parsed once (by ``feed``)."""

    obj: Any = None


class _Call:
    """One executable item of the stream."""

    __slots__ = ("key", "index", "added", "final", "deltas", "done_text", "call", "item",
                 "consistent", "first_seq", "rerender")

    def __init__(self, key: Hashable, index: int, call: ToolCall, first_seq: Any) -> None:
        self.key = key
        self.index = index
        self.added: dict[str, Any] | None = None  # the item of output_item.added
        self.final: Any = None  # the item of output_item.done (or of response.completed)
        self.deltas: list[str] = []
        self.done_text: str | None = None  # from ...arguments.done / ...input.done
        self.call = call
        self.item: dict[str, Any] | None = None  # the version inspected (set by finish_call)
        self.consistent = False
        self.first_seq = first_seq if type(first_seq) is int else None
        # Set when the held events cannot be released as they are: the call was closed
        # by the final event (no output_item.done), or its events were not the usual ones.
        self.rerender = False


class ResponsesStreamCodec(StreamCodec):
    def __init__(self) -> None:
        super().__init__()
        self.complete = False
        self._open: dict[int, _Call] = {}  # output index -> the call item still streaming there
        self._states: dict[Hashable, _Call] = {}
        self._text: list[str] = []
        self._next: int | None = None  # the next sequence number the client gets
        self._final_event: _Parsed | None = None
        self._final_map: dict[int, _Call] = {}  # index in response.output -> its call
        self._final_hold: Hashable = None  # key the final event is held under, if any
        self._final_dirty = False

    # --- classification ---

    def feed(self, event: SSEEvent) -> list[tuple[SSEEvent, list[Op]]]:
        data = event.data
        if data == "[DONE]":  # not part of this API, but some routers add it
            return [(event, [PASS])]
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise StreamError("upstream sent a Responses stream event that is not JSON") from None
        if not isinstance(obj, dict):
            raise StreamError("upstream sent a Responses stream event that is not a JSON object")
        ev = _Parsed(event.event, data, event.raw, obj)
        kind = obj.get("type")
        if event.event is not None and event.event != kind:
            # Clients dispatch on one or the other: both must name the same event.
            raise StreamError(f"upstream sent an event named {event.event!r} whose type is {kind!r}")
        index = obj.get("output_index")
        if type(index) is int:
            st = self._open.get(index)
            if st is not None:
                return [(ev, self._in_call(st, kind, obj))]
            if kind in _ARG_DELTAS or kind in _ARG_DONES or (
                    kind in ("response.output_item.added", "response.output_item.done")
                    and isinstance(obj.get("item"), dict) and obj["item"].get("type") in CALL_TYPES):
                return [(ev, self._in_call(self._start(index, obj), kind, obj))]
        elif kind in _ARG_DELTAS or kind in _ARG_DONES or (
                kind in ("response.output_item.added", "response.output_item.done")
                and isinstance(obj.get("item"), dict) and obj["item"].get("type") in CALL_TYPES):
            raise StreamError(f"upstream sent {kind} for a tool call without an integer output_index")
        if kind == "response.output_text.delta":
            delta = obj.get("delta")
            if isinstance(delta, str):
                self._text.append(delta)
        elif kind in _TERMINAL:
            return [(ev, self._terminal(ev, obj))]
        elif kind in ("response.created", "response.in_progress"):
            resp = obj.get("response")
            if isinstance(resp, dict) and isinstance(resp.get("model"), str):
                self.response.model = resp["model"]
        elif kind == "error":
            self.complete = True
            self.response.finish_reason = "error"
            self.response.text = "".join(self._text)
        elif _smuggles_calls(obj):
            raise StreamError(f"upstream sent tool calls inside a {kind!r} event, outside the events that define them")
        return [(ev, [PASS])]

    def _start(self, index: int, obj: dict[str, Any]) -> _Call:
        key: Hashable = index if index not in self._states else ("again", index, len(self._states))
        call = ToolCall("", "", "")
        st = _Call(key, index, call, obj.get("sequence_number"))
        self._open[index] = st
        self._states[key] = st
        self.calls[key] = call
        self.response.tool_calls.append(call)
        return st

    def _in_call(self, st: _Call, kind: Any, obj: dict[str, Any]) -> list[Op]:
        if kind in _ARG_DELTAS:
            st.deltas.append(_str(obj.get("delta")))
        elif kind in _ARG_DONES:
            st.done_text = _str(obj.get(_ARG_DONES[kind]))
        elif kind == "response.output_item.added" and st.added is None and isinstance(obj.get("item"), dict):
            item = obj["item"]
            st.added = item
            st.call.id = _call_id(item, st.index)
            st.call.name = _str(item.get("name"))
        elif kind == "response.output_item.done":
            st.final = obj.get("item")
            del self._open[st.index]
            return [("hold", st.key), ("done", st.key)]
        else:
            # A second added, text inside a call, an event type this codec does not
            # know: the client gets the call re-rendered from what was inspected.
            st.rerender = True
        return [("hold", st.key)]

    def _terminal(self, ev: _Parsed, obj: dict[str, Any]) -> list[Op]:
        if self._final_event is not None:
            raise StreamError(f"upstream sent {obj.get('type')} after the response had already ended")
        resp = obj.get("response")
        if not isinstance(resp, dict):
            raise StreamError(f"upstream sent {obj.get('type')} without its response object")
        self.complete = True
        self._final_event = ev
        if isinstance(resp.get("model"), str):
            self.response.model = resp["model"]
        self.response.usage = _usage_of(resp.get("usage"))
        output = resp.get("output")
        output = output if isinstance(output, list) else []
        self.response.text = "".join(self._text) if self._text else output_text_of(output)

        by_call_id: dict[str, _Call] = {}
        by_index: dict[int, _Call] = {}
        for st in self._states.values():
            seen = st.final if isinstance(st.final, dict) else st.added or {}
            cid = seen.get("call_id")
            if isinstance(cid, str) and cid:
                by_call_id.setdefault(cid, st)
            by_index.setdefault(st.index, st)

        ops: list[Op] = []
        unseen: list[_Call] = []
        for i, item in enumerate(output):
            if not isinstance(item, dict) or item.get("type") not in CALL_TYPES:
                continue
            cid = item.get("call_id")
            st = by_call_id.get(cid) if isinstance(cid, str) and cid else by_index.get(i)
            if st is None:
                # Never streamed as an item: inspect it here, holding this event meanwhile.
                key = ("final", i)
                call = ToolCall(_call_id(item, i), "", "")
                st = _Call(key, i, call, None)
                st.final = item
                self._states[key] = st
                self.calls[key] = call
                self.response.tool_calls.append(call)
                unseen.append(st)
                self._final_dirty = True
            elif st.index in self._open and self._open[st.index] is st:
                # Still open: the final object completes it.
                st.final = item
                st.rerender = True
                del self._open[st.index]
                ops.append(("done", st.key))
            elif st.item is not None and item != st.item:
                self._final_dirty = True  # differs from what the client saw
            self._final_map[i] = st
        # Calls left open that the final object does not name are dropped by the
        # assembler at close (held, never done): fail closed.
        self.response.finish_reason = _finish_reason(resp.get("status"), bool(self.response.tool_calls))
        if unseen:
            self._final_hold = unseen[-1].key
            ops.append(("hold", self._final_hold))
            ops += [("done", st.key) for st in unseen]
        else:
            ops.append(PASS)
        return ops

    def finish_call(self, key: Hashable) -> ToolCall:
        st = self._states[key]
        item = self._canonical(st)
        fresh = tool_call_of(item, st.index)
        call = st.call
        call.id, call.name, call.kind = fresh.id, fresh.name, fresh.kind
        call.raw_arguments, call.arguments = fresh.raw_arguments, fresh.arguments
        st.item = item
        st.consistent = not st.rerender and self._consistent(st, item)
        return call

    @staticmethod
    def _canonical(st: _Call) -> dict[str, Any]:
        """The version of the call that is inspected and, if it differs, re-sent."""
        if isinstance(st.final, dict) and st.final.get("type") in CALL_TYPES:
            return st.final
        base = dict(st.added) if st.added and st.added.get("type") in CALL_TYPES else \
            {"type": "function_call", "id": f"fc_rg_{st.index}", "call_id": f"call_{st.index}", "name": ""}
        field = _TEXT_FIELD.get(base["type"])
        if field is not None:
            streamed = st.done_text if st.done_text is not None else \
                _str(base.get(field)) + "".join(st.deltas)
            base[field] = streamed
        base["status"] = "completed"
        return base

    @staticmethod
    def _consistent(st: _Call, item: dict[str, Any]) -> bool:
        """Whether every held event agrees with ``item`` (else the client gets a re-render)."""
        if st.final is not item:
            return False
        kind = item.get("type")
        added = st.added
        if added is not None:
            for field in ("type", "id", "call_id", "name"):
                if added.get(field) != item.get(field):
                    return False
        field = _TEXT_FIELD.get(kind)
        if field is None:
            payload = added.get(_PAYLOAD_FIELD[kind]) if added is not None else None
            return not payload or payload == item.get(_PAYLOAD_FIELD[kind])
        text = item.get(field)
        start = _str(added.get(field)) if added is not None else ""
        if st.deltas or start:
            if start + "".join(st.deltas) != text:
                return False
        return st.done_text is None or st.done_text == text

    # --- output ---

    def _take(self, fallback: int | None = None) -> int:
        if self._next is None:
            self._next = fallback if fallback is not None else 0
        seq = self._next
        self._next += 1
        return seq

    def _emit(self, events: list[dict[str, Any]], fallback: int | None) -> list[bytes]:
        out = []
        for obj in events:
            obj["sequence_number"] = self._take(fallback)
            out.append(_encode(obj))
        return out

    def release(self, key: Hashable, events: list[SSEEvent]) -> list[bytes]:
        st = self._states.get(key)
        if st is None or st.consistent or (isinstance(key, tuple) and key[0] == "final"):
            return [self.outgoing(e) for e in events]
        return self._emit(_call_events(st.item, st.index), st.first_seq)

    def replacement(self, key: Hashable) -> list[bytes]:
        st = self._states[key]
        if isinstance(key, tuple) and key[0] == "final":
            # Decided inside response.completed: the (held) final event carries the result.
            if key == self._final_hold and self._final_event is not None:
                return [self.outgoing(self._final_event)]
            return []
        call = st.call
        if call.blocked_reason:
            events = _message_events(blocked_item(call), st.index, [block_text(call)])
        else:
            item = dict(st.item or {})
            rewrite_item(item, call)
            events = _call_events(item, st.index)
        return self._emit(events, st.first_seq)

    def _client_item(self, st: _Call, original: dict[str, Any]) -> dict[str, Any]:
        call = st.call
        if call.blocked_reason:
            return blocked_item(call)
        item = st.item if st.item is not None else original
        if call.new_raw_arguments is not None:
            item = dict(item)
            rewrite_item(item, call)
        return item

    def _fix_final(self, obj: dict[str, Any]) -> bool:
        if not self._final_dirty and not any(
                st.call.blocked_reason or st.call.new_raw_arguments is not None for st in self._final_map.values()):
            return False
        resp = obj.get("response")
        output = resp.get("output") if isinstance(resp, dict) else None
        if not isinstance(output, list):
            return False
        resp["output"] = [self._client_item(self._final_map[i], item) if i in self._final_map else item
                          for i, item in enumerate(output)]
        if "output_text" in resp:
            resp["output_text"] = output_text_of(resp["output"])
        return True

    def outgoing(self, event: SSEEvent) -> bytes:
        obj = event.obj if isinstance(event, _Parsed) else None
        if obj is None:
            try:
                obj = orjson.loads(event.data)
            except orjson.JSONDecodeError:
                return event.raw
            if not isinstance(obj, dict):
                return event.raw
        rewrite = obj.get("type") in _TERMINAL and self._fix_final(obj)
        seq = obj.get("sequence_number")
        if type(seq) is int:
            if self._next is None:
                self._next = seq
            if seq != self._next:
                obj["sequence_number"] = self._next
                rewrite = True
            self._next += 1
        return encode(orjson.dumps(obj), event.event) if rewrite else event.raw

    def error_event(self, message: str) -> bytes:
        if not self.response.text:
            self.response.text = "".join(self._text)
        obj = {"type": "error", "code": "upstream_error", "message": message, "param": None,
               "sequence_number": self._take()}
        return _encode(obj)


def _smuggles_calls(obj: dict[str, Any]) -> bool:
    """Does an event the codec passes unchanged carry tool-call items anyway?"""
    item = obj.get("item")
    if isinstance(item, dict) and item.get("type") in CALL_TYPES:
        return True
    resp = obj.get("response")
    output = resp.get("output") if isinstance(resp, dict) else None
    return isinstance(output, list) and any(isinstance(i, dict) and i.get("type") in CALL_TYPES for i in output)
