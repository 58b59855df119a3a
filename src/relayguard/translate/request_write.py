"""The neutral ``Chat`` written as each dialect's request body.

What a target cannot hold (a system message in the middle of an Anthropic
conversation, an image in a Chat Completions tool result, stop sequences for
the Responses API) is refused with the client's field named, never dropped.
"""

from __future__ import annotations

from typing import Any

import orjson

from relayguard.translate.model import Chat, Image, Tool, ToolResult, ToolUse, Turn, refuse

ANTHROPIC_DEFAULT_MAX_TOKENS = 4096


def _empty_schema() -> dict[str, Any]:
    """The schema of a tool without parameters (fresh each time: callers may edit bodies)."""
    return {"type": "object", "properties": {}}


# --- OpenAI Chat Completions --------------------------------------------------

def _chat_text(parts: list[Any]) -> str:
    """Text-only content as one string: many OpenAI-compatible servers (and their
    chat templates) take nothing else, and Claude Code sends its system prompt in
    several blocks.  Joined with newlines, as the blocks read to a model."""
    return "\n".join(parts)


def _chat_user_content(parts: list[Any]) -> Any:
    if not any(isinstance(p, Image) for p in parts):
        return _chat_text(parts)
    out = []
    for p in parts:
        if isinstance(p, Image):
            image: dict[str, Any] = {"url": p.data_url()}
            if p.detail:
                image["detail"] = p.detail
            out.append({"type": "image_url", "image_url": image})
        else:
            out.append({"type": "text", "text": p})
    return out


def _chat_messages(chat: Chat) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for turn in chat.turns:
        if turn.role in ("system", "developer"):
            # "developer" is newer than most OpenAI-compatible servers; OpenAI reads
            # "system" as "developer" for the models that have the distinction.
            messages.append({"role": "system", "content": _chat_text(turn.parts)})
        elif turn.role == "user":
            messages.append({"role": "user", "content": _chat_user_content(turn.parts)})
        elif turn.role == "tool":
            result = turn.parts[0]
            assert isinstance(result, ToolResult)
            for p in result.content:
                if isinstance(p, Image):
                    raise refuse(p.where, "OpenAI Chat Completions tool messages carry text only, "
                                          "so an image in a tool result cannot be sent")
            messages.append({"role": "tool", "tool_call_id": result.call_id, "content": _chat_text(result.content)})
        else:
            texts = [p for p in turn.parts if isinstance(p, str)]
            calls = [{"id": p.id, "type": "function", "function": {"name": p.name, "arguments": p.arguments}}
                     for p in turn.parts if isinstance(p, ToolUse)]
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant" and last.get("_merge"):
                # Responses sends a message item and each call as separate items: one Chat message.
                last["_texts"] += texts
                last["tool_calls"] = last.get("tool_calls", []) + calls
            else:
                messages.append({"role": "assistant", "_merge": True, "_texts": texts, "tool_calls": calls})
    for msg in messages:
        if msg.pop("_merge", None):
            texts = msg.pop("_texts")
            msg["content"] = _chat_text(texts) if texts else None
            if not msg["tool_calls"]:
                del msg["tool_calls"]
    return messages


def _openai_choice(choice: Any, nested: bool) -> Any:
    if isinstance(choice, tuple):
        return {"type": "function", "function": {"name": choice[1]}} if nested else \
            {"type": "function", "name": choice[1]}
    return choice


def write_chat(chat: Chat, model: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": _chat_messages(chat)}
    if chat.tools is not None:
        body["tools"] = [{"type": "function", "function": _function(t, strict_default=None)} for t in chat.tools]
    if chat.tool_choice is not None:
        body["tool_choice"] = _openai_choice(chat.tool_choice, nested=True)
    if chat.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = chat.parallel_tool_calls
    if chat.max_tokens is not None:
        # max_tokens, not max_completion_tokens: Ollama and older llama.cpp ignore the newer name.
        body["max_tokens"] = chat.max_tokens
    _sampling(chat, body)
    if chat.stop is not None:
        body["stop"] = chat.stop
    fmt = chat.response_format
    if fmt is not None:
        body["response_format"] = fmt if fmt["type"] == "json_object" else \
            {"type": "json_schema", "json_schema": {k: v for k, v in fmt.items() if k != "type"}}
    if chat.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}  # else the stream carries no usage
    return body


def _function(tool: Tool, strict_default: bool | None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        out["description"] = tool.description
    out["parameters"] = tool.parameters if tool.parameters is not None else _empty_schema()
    strict = tool.strict if tool.strict is not None else strict_default
    if strict is not None:
        out["strict"] = strict
    return out


def _sampling(chat: Chat, body: dict[str, Any]) -> None:
    if chat.temperature is not None:
        body["temperature"] = chat.temperature
    if chat.top_p is not None:
        body["top_p"] = chat.top_p


# --- Anthropic Messages -------------------------------------------------------

def _anthropic_image(p: Image) -> dict[str, Any]:
    if p.url is not None:
        return {"type": "image", "source": {"type": "url", "url": p.url}}
    return {"type": "image", "source": {"type": "base64", "media_type": p.media_type, "data": p.data}}


def _anthropic_blocks(parts: list[Any]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for p in parts:
        if isinstance(p, str):
            if p:  # Anthropic rejects empty text blocks
                blocks.append({"type": "text", "text": p})
        elif isinstance(p, Image):
            blocks.append(_anthropic_image(p))
        elif isinstance(p, ToolUse):
            try:
                value = orjson.loads(p.arguments) if p.arguments else {}
            except orjson.JSONDecodeError:
                value = None
            if not isinstance(value, dict):
                raise refuse(f"{p.where}.arguments", "Anthropic Messages needs a tool call's arguments as a "
                                                     "JSON object, and these are not one")
            blocks.append({"type": "tool_use", "id": p.id, "name": p.name, "input": value})
        else:
            content = p.content
            block: dict[str, Any] = {"type": "tool_result", "tool_use_id": p.call_id}
            if content:
                block["content"] = content[0] if len(content) == 1 and isinstance(content[0], str) else \
                    [{"type": "text", "text": c} if isinstance(c, str) else _anthropic_image(c) for c in content]
            if p.is_error:
                block["is_error"] = True
            blocks.append(block)
    return blocks


def _anthropic_system(chat: Chat) -> tuple[list[str], list[Turn]]:
    system: list[str] = []
    turns = list(chat.turns)
    while turns and turns[0].role in ("system", "developer"):
        system += [p for p in turns.pop(0).parts if isinstance(p, str) and p]
    for turn in turns:
        if turn.role in ("system", "developer"):
            raise refuse(turn.where, "Anthropic Messages takes system instructions only before the "
                                     "conversation, not between its messages")
    return system, turns


def write_anthropic(chat: Chat, model: str) -> dict[str, Any]:
    system, turns = _anthropic_system(chat)
    messages: list[dict[str, Any]] = []
    for turn in turns:
        role = "assistant" if turn.role == "assistant" else "user"
        blocks = _anthropic_blocks(turn.parts)
        if not blocks:
            continue
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"] += blocks  # Anthropic merges them anyway; tool results must be adjacent
        else:
            messages.append({"role": role, "content": blocks})
    if messages and messages[-1]["role"] == "assistant" and \
            not any(b["type"] == "tool_use" for b in messages[-1]["content"]):
        raise refuse(turns[-1].where, "a conversation ending in an assistant message would make Anthropic "
                                      "continue that message (a prefill) instead of answering it")
    body: dict[str, Any] = {"model": model, "messages": messages,
                            "max_tokens": chat.max_tokens if chat.max_tokens is not None
                            else ANTHROPIC_DEFAULT_MAX_TOKENS}
    if system:
        body["system"] = system[0] if len(system) == 1 else [{"type": "text", "text": s} for s in system]
    if chat.tools is not None:
        body["tools"] = [_anthropic_tool(t) for t in chat.tools]
    choice = _anthropic_choice(chat)
    if choice is not None:
        body["tool_choice"] = choice
    if chat.temperature is not None and not 0 <= chat.temperature <= 1:
        raise refuse("temperature", f"Anthropic accepts 0 to 1, not {chat.temperature}")
    _sampling(chat, body)
    if chat.stop is not None:
        body["stop_sequences"] = chat.stop
    if chat.response_format is not None:
        raise refuse(chat.response_format_field, "Anthropic Messages has no JSON output mode to translate it to")
    if chat.stream:
        body["stream"] = True
    return body


def _anthropic_tool(tool: Tool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        out["description"] = tool.description
    out["input_schema"] = tool.parameters if tool.parameters is not None else _empty_schema()
    return out


def _anthropic_choice(chat: Chat) -> dict[str, Any] | None:
    choice = chat.tool_choice
    if choice is None and chat.parallel_tool_calls is not False:
        return None
    if isinstance(choice, tuple):
        out: dict[str, Any] = {"type": "tool", "name": choice[1]}
    else:
        out = {"type": {"required": "any", "none": "none"}.get(choice or "auto", "auto")}
    if chat.parallel_tool_calls is False and out["type"] != "none":
        out["disable_parallel_tool_use"] = True
    return out


# --- OpenAI Responses ----------------------------------------------------------

def _responses_parts(parts: list[Any]) -> list[dict[str, Any]]:
    out = []
    for p in parts:
        if isinstance(p, Image):
            out.append({"type": "input_image", "image_url": p.data_url(), "detail": p.detail or "auto"})
        else:
            out.append({"type": "input_text", "text": p})
    return out


def _responses_input(chat: Chat) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for turn in chat.turns:
        if turn.role == "tool":
            result = turn.parts[0]
            assert isinstance(result, ToolResult)
            content = result.content
            output: Any = content[0] if len(content) == 1 and isinstance(content[0], str) else \
                _responses_parts(content) if content else ""
            items.append({"type": "function_call_output", "call_id": result.call_id, "output": output})
        elif turn.role == "assistant":
            texts: list[str] = []
            for p in turn.parts + [None]:
                if isinstance(p, str):
                    if p:  # an empty text next to tool calls is no message
                        texts.append(p)
                    continue
                if texts:
                    items.append({"type": "message", "role": "assistant",
                                  "content": [{"type": "output_text", "text": t, "annotations": []} for t in texts]})
                    texts = []
                if isinstance(p, ToolUse):
                    items.append({"type": "function_call", "call_id": p.id, "name": p.name,
                                  "arguments": p.arguments})
        else:
            items.append({"type": "message", "role": turn.role, "content": _responses_parts(turn.parts)})
    return items


def write_responses(chat: Chat, model: str) -> dict[str, Any]:
    # store=false: the client's dialect has no stored responses, so nothing should stay at OpenAI.
    body: dict[str, Any] = {"model": model, "input": _responses_input(chat), "store": False}
    if chat.tools is not None:
        # Responses makes function tools strict unless told otherwise; the other dialects do not.
        body["tools"] = [{"type": "function", **_function(t, strict_default=False)} for t in chat.tools]
    if chat.tool_choice is not None:
        body["tool_choice"] = _openai_choice(chat.tool_choice, nested=False)
    if chat.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = chat.parallel_tool_calls
    if chat.max_tokens is not None:
        body["max_output_tokens"] = chat.max_tokens
    _sampling(chat, body)
    if chat.stop is not None:
        raise refuse(chat.stop_field, "the OpenAI Responses API has no stop sequences")
    if chat.response_format is not None:
        body["text"] = {"format": chat.response_format}
    if chat.stream:
        body["stream"] = True
    return body


WRITERS = {"openai-chat": write_chat, "anthropic-messages": write_anthropic, "openai-responses": write_responses}
