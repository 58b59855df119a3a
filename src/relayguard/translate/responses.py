"""translate_response: an upstream's non-streaming answer in the client's dialect.

The body is checked against its dialect first (an upstream is not trusted to
send what it should), read with the source adapter's ``parse_response``, and
written with the target adapter's ``build_response``.  Content the client
could not act on is refused, not dropped: a built-in tool call (web search,
a shell OpenAI runs) has no place in a function-calling client, and a tool
call whose arguments an Anthropic client cannot hold as an object would reach
it as ``{}``, a different call.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

from relayguard.dialects import adapter_for
from relayguard.errors import UpstreamUnavailable
from relayguard.exchange import Dialect, Response, ToolCall, Usage
from relayguard.translate.model import NAMES, normal_finish, sane_usage, target_finish


def _fail(source: Dialect, what: str) -> UpstreamUnavailable:
    return UpstreamUnavailable(f"the {NAMES[source]} upstream sent a response that does not fit its "
                               f"format: {what}")


def _error_message(body: dict[str, Any]) -> str | None:
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    return None


def token_count(value: Any) -> int:
    """A token count an upstream reported (anything else counts as 0)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _check_usage(source: Dialect, usage: Any) -> None:
    if usage is None:
        return
    if not isinstance(usage, dict):
        raise _fail(source, "'usage' is not an object")
    for key in ("prompt_tokens", "completion_tokens", "input_tokens", "output_tokens"):
        value = usage.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise _fail(source, f"'usage.{key}' is not a token count")


def anthropic_input_tokens(usage: dict[str, Any]) -> int:
    """Anthropic counts cached prompt tokens apart; OpenAI's input count includes them."""
    return sum(token_count(usage.get(k)) for k in
               ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))


def _check_chat(body: dict[str, Any]) -> tuple[str | None, bool]:
    choices = body.get("choices")
    if not isinstance(choices, list) or len(choices) != 1 or not isinstance(choices[0], dict):
        raise _fail("openai-chat", "'choices' must hold exactly one choice (the request asked for one)")
    choice = choices[0]
    msg = choice.get("message")
    if not isinstance(msg, dict):
        raise _fail("openai-chat", "'choices[0].message' is not an object")
    if msg.get("content") is not None and not isinstance(msg["content"], str):
        raise _fail("openai-chat", "'choices[0].message.content' is not a string")
    calls = msg.get("tool_calls")
    if calls is not None and not isinstance(calls, list):
        raise _fail("openai-chat", "'choices[0].message.tool_calls' is not a list")
    for i, tc in enumerate(calls or ()):
        fn = tc.get("function") if isinstance(tc, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or \
                not isinstance(fn.get("arguments", ""), str) or not isinstance(tc.get("id", ""), (str, type(None))) \
                or tc.get("type", "function") != "function":
            raise _fail("openai-chat", f"tool call {i} is not a function call with a name and string arguments")
    finish = choice.get("finish_reason")
    if finish is not None and not isinstance(finish, str):
        raise _fail("openai-chat", "'finish_reason' is not a string")
    _check_usage("openai-chat", body.get("usage"))
    refusal = msg.get("refusal")
    return (refusal if isinstance(refusal, str) and refusal and not msg.get("content") else None), bool(calls)


def _check_anthropic(body: dict[str, Any]) -> None:
    content = body.get("content")
    if body.get("type", "message") != "message" or not isinstance(content, list):
        raise _fail("anthropic-messages", "it is not a message with a list of content blocks")
    for i, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text" and isinstance(block.get("text"), str):
            continue
        if kind == "tool_use" and isinstance(block.get("id"), str) and isinstance(block.get("name"), str) \
                and isinstance(block.get("input"), dict):
            continue
        if kind in ("thinking", "redacted_thinking"):
            continue  # Anthropic-only reasoning: no other dialect can carry it back
        raise _fail("anthropic-messages", f"content block {i} ({str(kind)[:40]!r}) is not text or a client tool call")
    if body.get("stop_reason") is not None and not isinstance(body["stop_reason"], str):
        raise _fail("anthropic-messages", "'stop_reason' is not a string")
    _check_usage("anthropic-messages", body.get("usage"))


def _text_part(part: Any) -> bool:
    """An output_text or refusal part of a Responses message item."""
    if not isinstance(part, dict):
        return False
    kind = part.get("type")
    field = {"output_text": "text", "refusal": "refusal"}.get(kind) if isinstance(kind, str) else None
    return field is not None and isinstance(part.get(field), str)


def _check_responses(body: dict[str, Any]) -> str | None:
    status = body.get("status")
    if status == "failed":
        raise UpstreamUnavailable(f"the {NAMES['openai-responses']} upstream failed: "
                                  f"{_error_message(body) or 'no reason given'}")
    if status not in ("completed", "incomplete") or not isinstance(body.get("output"), list):
        raise _fail("openai-responses", "it is not a completed or incomplete response with an output list")
    for i, item in enumerate(body["output"]):
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "message":
            parts = item.get("content")
            if isinstance(parts, list) and all(_text_part(p) for p in parts):
                continue
        elif kind == "function_call" and isinstance(item.get("call_id"), str) and \
                isinstance(item.get("name"), str) and isinstance(item.get("arguments"), str):
            continue
        elif kind == "reasoning":
            continue  # OpenAI-only reasoning: no other dialect can carry it back
        raise _fail("openai-responses", f"output item {i} ({str(kind)[:40]!r}) is not a message or a function call")
    details = body.get("incomplete_details")
    _check_usage("openai-responses", body.get("usage"))
    return details.get("reason") if isinstance(details, dict) else None


def read_upstream(body: Any, source: Dialect, response_id: str) -> Response:
    """The upstream's answer, checked, with the finish reason in the neutral words."""
    if not isinstance(body, dict):
        raise _fail(source, "the body is not a JSON object")
    message = _error_message(body)
    if message is not None and source != "openai-responses":
        raise UpstreamUnavailable(f"the {NAMES[source]} upstream answered with an error: {message}")
    refusal, incomplete = None, None
    if source == "openai-chat":
        refusal, _ = _check_chat(body)
    elif source == "anthropic-messages":
        _check_anthropic(body)
    else:
        incomplete = _check_responses(body)
    response = adapter_for(source).parse_response(body)
    if refusal:
        response.text = refusal
    raw_ids = [tc.get("id") for tc in body["choices"][0]["message"].get("tool_calls") or ()] \
        if source == "openai-chat" else [c.id for c in response.tool_calls]
    for i, (call, raw_id) in enumerate(zip(response.tool_calls, raw_ids)):
        if not raw_id:  # some local servers send none: mint one unique to this answer
            call.id = f"call_{response_id}_{i}"
    if source == "anthropic-messages":
        usage = body.get("usage") or {}
        response.usage = Usage(anthropic_input_tokens(usage), token_count(usage.get("output_tokens")))
    if source == "openai-responses":
        # parse_response reads only the status: "incomplete" says nothing of why.
        reason = "incomplete" if body.get("status") == "incomplete" else response.finish_reason
    else:
        reason = response.finish_reason
    response.finish_reason = normal_finish(source, reason, bool(response.tool_calls), incomplete)
    if not sane_usage(response.usage.input_tokens, response.usage.output_tokens):
        raise _fail(source, "its usage reports an impossible number of tokens")
    return response


def check_anthropic_input(call: ToolCall, error: type[Exception]) -> None:
    """An Anthropic client holds a tool call's input as an object: refuse anything else."""
    raw = call.raw_arguments
    try:
        value = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise error(f"the upstream's tool call {call.id!r} ({call.name!r}) has arguments that are not a "
                    "JSON object, which an Anthropic client cannot receive")
    call.arguments = value


def translate_response(body: dict[str, Any], source: Dialect, target: Dialect, model: str,
                       response_id: str) -> dict[str, Any]:
    """A non-streaming upstream response (in ``source``) as the client's dialect ``target``,
    reporting ``model``.  Raises UpstreamUnavailable when the body does not fit its format."""
    adapter = adapter_for(target)
    response = read_upstream(body, source, response_id)
    if source == target:
        out = copy.deepcopy(body)
        out["model"] = model
        return out
    if target == "anthropic-messages":
        for call in response.tool_calls:
            check_anthropic_input(call, UpstreamUnavailable)
    reason = response.finish_reason
    response.model = model
    response.finish_reason = target_finish(target, reason)
    out = adapter.build_response(response, response_id)
    if target == "openai-responses" and reason == "content_filter":
        out["status"], out["incomplete_details"] = "incomplete", {"reason": "content_filter"}
    return out

