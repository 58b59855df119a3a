"""Requests, read from each dialect into the neutral ``Chat`` (see ``model``).

Only the conversation and tools are read here; the sampling parameters are
read in ``requests``.  Anything a reader does not understand is refused with
the client's field named, never skipped: a translation that silently loses a
message or a tool would answer a different question than the one asked.
Content that only the source provider can use is dropped on purpose and
listed in docs/translation.md (thinking blocks, reasoning items).
"""

from __future__ import annotations

from typing import Any

import orjson

from relayguard.errors import BadRequest
from relayguard.translate.model import Chat, Image, Part, Tool, ToolResult, ToolUse, Turn, refuse


def _bad(where: str, what: str) -> BadRequest:
    return BadRequest(f"field '{where}' {what}")


def _str(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise _bad(f"{where}.{key}", "must be a string")
    return value


def _image_from_url(url: Any, where: str, detail: Any = None) -> Image:
    """An image given as a URL, splitting a base64 data URL into its media type and data."""
    if not isinstance(url, str) or not url:
        raise _bad(where, "must hold the image URL as a non-empty string")
    if detail is not None and not isinstance(detail, str):
        raise _bad(f"{where}.detail", "must be a string")
    if url.startswith("data:"):
        header, comma, data = url[5:].partition(",")
        media_type, _, encoding = header.partition(";")
        if not comma or encoding != "base64" or not media_type:
            raise refuse(where, "only base64 data URLs (data:<type>;base64,...) can be translated")
        return Image(where, media_type=media_type, data=data, detail=detail)
    if not url.startswith(("https://", "http://")):
        raise refuse(where, "an image URL must be http(s) or a base64 data URL")
    return Image(where, url=url, detail=detail)


def _tools(tools: Any, read_one) -> list[Tool] | None:
    if tools is None:
        return None
    if not isinstance(tools, list):
        raise _bad("tools", "must be a list")
    return [read_one(tool, f"tools[{i}]") for i, tool in enumerate(tools)]


def _schema(value: Any, where: str) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise _bad(where, "must be a JSON schema object")
    return value


def _description(value: Any, where: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise _bad(where, "must be a string")
    return value


def _strict(value: Any, where: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise _bad(where, "must be true or false")
    return value


# --- OpenAI Chat Completions --------------------------------------------------

def _chat_parts(content: Any, where: str, images: bool) -> list[Part]:
    if content is None:
        return []
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        raise _bad(where, "must be a string or a list of content parts")
    parts: list[Part] = []
    for j, part in enumerate(content):
        at = f"{where}[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            parts.append(_str(part, "text", at))
        elif kind == "refusal":
            parts.append(_str(part, "refusal", at))
        elif kind == "image_url" and images:
            image = part.get("image_url")
            url, detail = (image.get("url"), image.get("detail")) if isinstance(image, dict) else (image, None)
            parts.append(_image_from_url(url, f"{at}.image_url", detail))
        elif kind == "image_url":
            raise refuse(at, "images are only translated in user messages")
        elif kind in ("input_audio", "file"):
            raise refuse(at, f"{kind} content cannot be translated to another dialect")
        else:
            raise refuse(at, f"content part type {kind!r} is not one this gateway translates")
    return parts


def read_chat(body: dict[str, Any]) -> Chat:
    chat = Chat()
    for i, msg in enumerate(body["messages"]):
        where = f"messages[{i}]"
        if not isinstance(msg, dict):
            raise _bad(where, "must be an object")
        role = msg.get("role")
        if role == "function" or msg.get("function_call") is not None:
            raise refuse(where, "legacy function calling (role 'function', 'function_call') is not "
                                "translated; send 'tool_calls' and role 'tool' messages instead")
        content = msg.get("content")
        if role in ("system", "developer"):
            chat.turns.append(Turn(role, _chat_parts(content, f"{where}.content", False), where))
        elif role == "user":
            chat.turns.append(Turn("user", _chat_parts(content, f"{where}.content", True), where))
        elif role == "assistant":
            parts = _chat_parts(content, f"{where}.content", False)
            if isinstance(msg.get("refusal"), str) and msg["refusal"] and not parts:
                parts.append(msg["refusal"])
            calls = msg.get("tool_calls")
            if calls is not None and not isinstance(calls, list):
                raise _bad(f"{where}.tool_calls", "must be a list")
            for j, call in enumerate(calls or ()):
                at = f"{where}.tool_calls[{j}]"
                if not isinstance(call, dict) or call.get("type", "function") != "function" \
                        or not isinstance(call.get("function"), dict):
                    raise refuse(at, "only function tool calls ({'type': 'function', 'function': {...}}) "
                                     "are translated")
                fn = call["function"]
                arguments = fn.get("arguments", "")
                if not isinstance(arguments, str):
                    raise _bad(f"{at}.function.arguments", "must be a string of JSON")
                parts.append(ToolUse(f"{at}.function", _str(call, "id", at), _str(fn, "name", f"{at}.function"),
                                     arguments))
            chat.turns.append(Turn("assistant", parts, where))
        elif role == "tool":
            result = ToolResult(where, _str(msg, "tool_call_id", where),
                                _chat_parts(content, f"{where}.content", False))
            chat.turns.append(Turn("tool", [result], where))
        else:
            raise _bad(f"{where}.role", "must be system, developer, user, assistant or tool")
    chat.tools = _tools(body.get("tools"), _chat_tool)
    chat.tool_choice = _openai_choice(body.get("tool_choice"), nested=True)
    return chat


def _chat_tool(tool: Any, where: str) -> Tool:
    if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(tool.get("function"), dict):
        kind = tool.get("type") if isinstance(tool, dict) else None
        raise refuse(where, f"only function tools are translated, not {kind!r}")
    fn = tool["function"]
    at = f"{where}.function"
    return Tool(_str(fn, "name", at), _description(fn.get("description"), f"{at}.description"),
                _schema(fn.get("parameters"), f"{at}.parameters"), _strict(fn.get("strict"), f"{at}.strict"))


def _openai_choice(choice: Any, nested: bool) -> str | tuple[str, str] | None:
    """tool_choice of both OpenAI dialects (Chat nests the function's name, Responses does not)."""
    if choice is None or choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function":
        holder = choice.get("function") if nested else choice
        if isinstance(holder, dict) and isinstance(holder.get("name"), str):
            return ("function", holder["name"])
    raise refuse("tool_choice", "only 'auto', 'none', 'required' or one named function tool are translated")


# --- Anthropic Messages -------------------------------------------------------

def _anthropic_image(block: dict[str, Any], where: str) -> Image:
    source = block.get("source")
    kind = source.get("type") if isinstance(source, dict) else None
    if kind == "base64":
        return Image(where, media_type=_str(source, "media_type", f"{where}.source"),
                     data=_str(source, "data", f"{where}.source"))
    if kind == "url":
        return _image_from_url(source.get("url"), f"{where}.source.url")
    raise refuse(f"{where}.source", f"image source type {kind!r} exists only at Anthropic; "
                                    "send the image inline (base64) or by URL")


def _anthropic_result_content(content: Any, where: str) -> list[str | Image]:
    if content is None:
        return []
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        raise _bad(where, "must be a string or a list of content blocks")
    out: list[str | Image] = []
    for j, block in enumerate(content):
        at = f"{where}[{j}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            out.append(_str(block, "text", at))
        elif kind == "image":
            out.append(_anthropic_image(block, at))
        else:
            raise refuse(at, f"tool result content of type {kind!r} is not translated")
    return out


def read_anthropic(body: dict[str, Any]) -> Chat:
    chat = Chat()
    system = body.get("system")
    if isinstance(system, str):
        if system:
            chat.turns.append(Turn("system", [system], "system"))
    elif isinstance(system, list):
        texts = []
        for j, block in enumerate(system):
            if not isinstance(block, dict) or block.get("type") != "text":
                raise refuse(f"system[{j}]", "only text blocks are translated in the system prompt")
            texts.append(_str(block, "text", f"system[{j}]"))
        if texts:
            chat.turns.append(Turn("system", list(texts), "system"))
    elif system is not None:
        raise _bad("system", "must be a string or a list of text blocks")
    for i, msg in enumerate(body["messages"]):
        where = f"messages[{i}]"
        if not isinstance(msg, dict) or msg.get("role") not in ("user", "assistant"):
            raise _bad(where, "must be an object with role 'user' or 'assistant'")
        chat.turns.extend(_anthropic_turns(msg["role"], msg.get("content"), where))
    chat.tools = _tools(body.get("tools"), _anthropic_tool)
    choice = body.get("tool_choice")
    if choice is not None:
        kind = choice.get("type") if isinstance(choice, dict) else None
        if kind not in ("auto", "any", "tool", "none"):
            raise refuse("tool_choice", "type must be auto, any, tool or none")
        chat.tool_choice = {"auto": "auto", "any": "required", "none": "none"}.get(kind) or \
            ("function", _str(choice, "name", "tool_choice"))
        disable = choice.get("disable_parallel_tool_use")
        if disable is not None:
            chat.parallel_tool_calls = not _strict(disable, "tool_choice.disable_parallel_tool_use")
    return chat


def _anthropic_turns(role: str, content: Any, where: str) -> list[Turn]:
    if isinstance(content, str):
        return [Turn(role, [content], where)]
    if not isinstance(content, list):
        raise _bad(f"{where}.content", "must be a string or a list of content blocks")
    results: list[Turn] = []  # tool results come first: OpenAI wants them right after the calls
    parts: list[Part] = []
    for j, block in enumerate(content):
        at = f"{where}.content[{j}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            parts.append(_str(block, "text", at))
        elif kind == "image" and role == "user":
            parts.append(_anthropic_image(block, at))
        elif kind == "tool_result" and role == "user":
            is_error = block.get("is_error")
            results.append(Turn("tool", [ToolResult(
                at, _str(block, "tool_use_id", at),
                _anthropic_result_content(block.get("content"), f"{at}.content"),
                _strict(is_error, f"{at}.is_error") or False)], at))
        elif kind == "tool_use" and role == "assistant":
            if not isinstance(block.get("input"), dict):
                raise _bad(f"{at}.input", "must be an object")
            arguments = orjson.dumps(block["input"]).decode()
            parts.append(ToolUse(at, _str(block, "id", at), _str(block, "name", at), arguments))
        elif kind in ("thinking", "redacted_thinking") and role == "assistant":
            continue  # signed for Anthropic only: no other provider can take it back
        else:
            raise refuse(at, f"a {role} content block of type {kind!r} cannot be translated "
                             "(server tools, documents and files exist only at Anthropic)")
    return results + ([Turn(role, parts, where)] if parts or not results else [])


def _anthropic_tool(tool: Any, where: str) -> Tool:
    if not isinstance(tool, dict):
        raise _bad(where, "must be an object")
    kind = tool.get("type")
    if kind not in (None, "custom"):
        raise refuse(where, f"{kind!r} is a tool Anthropic runs or defines itself; "
                            "only client tools with an input_schema are translated")
    return Tool(_str(tool, "name", where), _description(tool.get("description"), f"{where}.description"),
                _schema(tool.get("input_schema"), f"{where}.input_schema"),
                _strict(tool.get("strict"), f"{where}.strict"))


# --- OpenAI Responses ----------------------------------------------------------

_RESPONSES_ROLES = ("user", "system", "developer", "assistant")


def _responses_parts(content: Any, where: str, images: bool) -> list[Part]:
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        raise _bad(where, "must be a string or a list of content parts")
    parts: list[Part] = []
    for j, part in enumerate(content):
        at = f"{where}[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text"):
            parts.append(_str(part, "text", at))
        elif kind == "refusal":
            parts.append(_str(part, "refusal", at))
        elif kind == "input_image" and images:
            if part.get("image_url") is None and part.get("file_id") is not None:
                raise refuse(at, "an image uploaded to OpenAI (file_id) exists only there; "
                                 "send it inline as a data URL")
            parts.append(_image_from_url(part.get("image_url"), f"{at}.image_url", part.get("detail")))
        elif kind == "input_image":
            raise refuse(at, "images are only translated in user messages and tool outputs")
        else:
            raise refuse(at, f"content part type {kind!r} is not one this gateway translates")
    return parts


def read_responses(body: dict[str, Any]) -> Chat:
    chat = Chat()
    instructions = body.get("instructions")
    if isinstance(instructions, str):
        if instructions:
            chat.turns.append(Turn("system", [instructions], "instructions"))
    elif instructions is not None:
        raise _bad("instructions", "must be a string")
    inp = body.get("input")
    if inp is None:
        raise _bad("input", "is required: without previous_response_id the whole conversation travels in it")
    if isinstance(inp, str):
        chat.turns.append(Turn("user", [inp], "input"))
        inp = []
    for i, item in enumerate(inp):
        where = f"input[{i}]"
        if isinstance(item, str):
            chat.turns.append(Turn("user", [item], where))
            continue
        if not isinstance(item, dict):
            raise _bad(where, "must be an object")
        kind = item.get("type")
        if kind in (None, "message"):
            role = item.get("role")
            if role not in _RESPONSES_ROLES:
                raise _bad(f"{where}.role", "must be user, system, developer or assistant")
            chat.turns.append(Turn(role, _responses_parts(item.get("content"), f"{where}.content",
                                                          role == "user"), where))
        elif kind == "function_call":
            arguments = item.get("arguments")
            if not isinstance(arguments, str):
                raise _bad(f"{where}.arguments", "must be a string of JSON")
            call = ToolUse(where, _str(item, "call_id", where), _str(item, "name", where), arguments)
            chat.turns.append(Turn("assistant", [call], where))
        elif kind == "function_call_output":
            output = item.get("output")
            content = [output] if isinstance(output, str) else \
                _responses_parts(output, f"{where}.output", True)
            chat.turns.append(Turn("tool", [ToolResult(where, _str(item, "call_id", where), content)], where))
        elif kind == "reasoning":
            continue  # encrypted for OpenAI only: no other provider can take it back
        else:
            raise refuse(where, f"input item type {kind!r} cannot be translated (built-in tool calls "
                                "and item references exist only at OpenAI)")
    chat.tools = _tools(body.get("tools"), _responses_tool)
    chat.tool_choice = _openai_choice(body.get("tool_choice"), nested=False)
    return chat


def _responses_tool(tool: Any, where: str) -> Tool:
    if not isinstance(tool, dict) or tool.get("type") != "function":
        kind = tool.get("type") if isinstance(tool, dict) else None
        raise refuse(where, f"{kind!r} is a built-in OpenAI tool (or not a tool); "
                            "only function tools are translated")
    return Tool(_str(tool, "name", where), _description(tool.get("description"), f"{where}.description"),
                _schema(tool.get("parameters"), f"{where}.parameters"), _strict(tool.get("strict"), f"{where}.strict"))


READERS = {"openai-chat": read_chat, "anthropic-messages": read_anthropic, "openai-responses": read_responses}
