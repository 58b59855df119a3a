"""OpenAI Responses output items: which ones are tool calls, reading and rewriting
them, and the stream events that render an item (see ``openai_responses``)."""

from __future__ import annotations

import shlex
from typing import Any

import orjson

from relayguard.dialects.base import block_text, split_arguments
from relayguard.exchange import ToolCall, Usage
from relayguard.sse import encode

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
