"""translate_request: a client's request body as another dialect's.

Three kinds of top-level fields: those translated (the conversation, tools,
tool_choice, token limit, sampling, stop sequences, stream, JSON output
mode), those refused when set (they would change the answer and the target
has no equivalent: ``n`` > 1, logprobs, penalties, server-side state such as
``previous_response_id``), and everything else, which is dropped (per-provider
hints such as ``store``, ``metadata``, ``reasoning``, ``thinking``,
``prompt_cache_key``; docs/translation.md lists them).
"""

from __future__ import annotations

import copy
from typing import Any, Callable

from relayguard.dialects import adapter_for
from relayguard.errors import BadRequest
from relayguard.exchange import Dialect
from relayguard.translate.model import NAMES, Chat, refuse
from relayguard.translate.request_read import READERS
from relayguard.translate.request_write import WRITERS


def _set(value: Any) -> bool:
    return value is not None


def _truthy(value: Any) -> bool:
    return bool(value)


def _nonzero(value: Any) -> bool:
    return value not in (None, 0, 0.0)


# field -> (is it set in a way that matters, why it cannot be translated)
_REFUSED: dict[str, dict[str, tuple[Callable[[Any], bool], str]]] = {
    "openai-chat": {
        "n": (lambda v: v not in (None, 1), "asks for several answers; the other dialects give one"),
        "logprobs": (_truthy, "log probabilities are not translated"),
        "top_logprobs": (_nonzero, "log probabilities are not translated"),
        "logit_bias": (_truthy, "the target has no logit bias"),
        "frequency_penalty": (_nonzero, "the target has no frequency penalty"),
        "presence_penalty": (_nonzero, "the target has no presence penalty"),
        "functions": (_set, "legacy function calling is not translated; use 'tools'"),
        "function_call": (_set, "legacy function calling is not translated; use 'tool_choice'"),
        "audio": (_set, "audio output is not translated"),
        "modalities": (lambda v: v not in (None, ["text"]), "only text output is translated"),
        "prediction": (_set, "predicted outputs are not translated"),
        "web_search_options": (_set, "web search runs at OpenAI only"),
    },
    "anthropic-messages": {
        "top_k": (_set, "OpenAI dialects have no top_k"),
        "container": (_set, "code execution containers exist at Anthropic only"),
        "mcp_servers": (_set, "MCP servers Anthropic connects to exist at Anthropic only"),
        "output_format": (_set, "structured output is not translated from Anthropic"),
    },
    "openai-responses": {
        "previous_response_id": (_set, "the earlier turns are stored at OpenAI, out of the target's reach; "
                                       "send the whole conversation in 'input' (store=false clients do)"),
        "conversation": (_set, "the conversation is stored at OpenAI, out of the target's reach; "
                               "send the whole conversation in 'input'"),
        "prompt": (_set, "stored prompt templates exist at OpenAI only"),
        "background": (_truthy, "background responses need OpenAI's server-side storage"),
        "top_logprobs": (_nonzero, "log probabilities are not translated"),
    },
}


def translate_request(body: dict[str, Any], source: Dialect, target: Dialect, model: str) -> dict[str, Any]:
    """The client's request body (in ``source``) as a request body for an upstream
    speaking ``target``, asking for ``model``.  Raises BadRequest naming the
    field when something cannot be translated faithfully.  ``body`` is not
    changed; the result may share nested values with it (tool schemas, image data)."""
    adapter_for(target)  # unknown dialect names fail here, before any work
    adapter_for(source).request_info(body)  # the basic shape, with the source's own messages
    if source == target:
        out = copy.deepcopy(body)
        out["model"] = model
        return out
    for name, (matters, why) in _REFUSED[source].items():
        if name in body and matters(body[name]):
            raise refuse(name, f"{why}, so it cannot be sent to an {NAMES[target]} upstream")
    chat = READERS[source](body)
    _PARAMS[source](body, chat)
    return WRITERS[target](chat, model)


# --- sampling and limits ---------------------------------------------------------

def _int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadRequest(f"field '{name}' must be a positive integer")
    return value


def _number(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise BadRequest(f"field '{name}' must be a number")
    return value


def _stream(body: dict[str, Any]) -> bool:
    value = body.get("stream")
    if value is not None and not isinstance(value, bool):
        raise BadRequest("field 'stream' must be true or false")
    return value is True


def _parallel(body: dict[str, Any], chat: Chat) -> None:
    value = body.get("parallel_tool_calls")
    if value is not None and not isinstance(value, bool):
        raise BadRequest("field 'parallel_tool_calls' must be true or false")
    chat.parallel_tool_calls = value


def _stops(value: Any, name: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise BadRequest(f"field '{name}' must be a string or a list of strings")
    return value or None


def _common(body: dict[str, Any], chat: Chat) -> None:
    chat.temperature = _number(body, "temperature")
    chat.top_p = _number(body, "top_p")
    chat.stream = _stream(body)


def _format(fmt: Any, name: str, nested: bool) -> dict[str, Any] | None:
    """A JSON output mode, as ``{"type": "json_object"}`` or a flat json_schema format."""
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if fmt is None or kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        spec = fmt.get("json_schema") if nested else fmt
        if isinstance(spec, dict) and isinstance(spec.get("name"), str) and isinstance(spec.get("schema"), dict):
            out = {"type": "json_schema", "name": spec["name"], "schema": spec["schema"]}
            for key in ("strict", "description"):
                if spec.get(key) is not None:
                    out[key] = spec[key]
            return out
    raise refuse(name, "only text, json_object or a json_schema with a name and a schema are translated")


def _chat_params(body: dict[str, Any], chat: Chat) -> None:
    _common(body, chat)
    for name in ("max_completion_tokens", "max_tokens"):
        if body.get(name) is not None:
            chat.max_tokens, chat.max_tokens_field = _int(body, name), name
            break
    chat.stop = _stops(body.get("stop"), "stop")
    _parallel(body, chat)
    chat.response_format = _format(body.get("response_format"), "response_format", nested=True)


def _anthropic_params(body: dict[str, Any], chat: Chat) -> None:
    _common(body, chat)
    chat.max_tokens = _int(body, "max_tokens")
    chat.stop, chat.stop_field = _stops(body.get("stop_sequences"), "stop_sequences"), "stop_sequences"


def _responses_params(body: dict[str, Any], chat: Chat) -> None:
    _common(body, chat)
    chat.max_tokens, chat.max_tokens_field = _int(body, "max_output_tokens"), "max_output_tokens"
    _parallel(body, chat)
    text = body.get("text")
    if text is not None and not isinstance(text, dict):
        raise BadRequest("field 'text' must be an object")
    chat.response_format = _format((text or {}).get("format"), "text.format", nested=False)
    chat.response_format_field = "text.format"


_PARAMS = {"openai-chat": _chat_params, "anthropic-messages": _anthropic_params,
           "openai-responses": _responses_params}
