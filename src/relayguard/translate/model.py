"""The dialect-neutral form a request passes through between two dialects, and
the finish-reason vocabularies.

A request is read from its dialect into a ``Chat`` (``request_read``) and
written into the target's (``request_write``): three readers and three
writers instead of six pairwise translators.  Each part remembers where it
came from (``where``, a path such as ``messages[2].content[1]``) so that a
refusal can name the client's own field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from relayguard.errors import BadRequest
from relayguard.exchange import Dialect

NAMES: dict[str, str] = {
    "openai-chat": "OpenAI Chat Completions",
    "openai-responses": "OpenAI Responses",
    "anthropic-messages": "Anthropic Messages",
}


def refuse(where: str, why: str) -> BadRequest:
    """The error for a field that cannot cross to the target dialect faithfully."""
    return BadRequest(f"field '{where}': {why}")


@dataclass(slots=True)
class Image:
    """An image, either by URL (``url``) or inline (``media_type`` + base64 ``data``)."""

    where: str
    url: str | None = None
    media_type: str | None = None
    data: str | None = None
    detail: str | None = None  # OpenAI's low/high/auto; Anthropic has none

    def data_url(self) -> str:
        return self.url if self.url is not None else f"data:{self.media_type};base64,{self.data}"


@dataclass(slots=True)
class ToolUse:
    """A tool call the assistant made earlier; ``arguments`` is the JSON text as sent."""

    where: str
    id: str
    name: str
    arguments: str


@dataclass(slots=True)
class ToolResult:
    where: str
    call_id: str
    content: list[Union[str, Image]]
    is_error: bool = False


Part = Union[str, Image, ToolUse, ToolResult]


@dataclass(slots=True)
class Turn:
    """One message: role is system, developer, user, assistant or tool (a tool result)."""

    role: str
    parts: list[Part]
    where: str


@dataclass(slots=True)
class Tool:
    name: str
    description: str | None
    parameters: dict[str, Any] | None
    strict: bool | None = None


@dataclass(slots=True)
class Chat:
    """A request, dialect-neutral.  ``None`` means the client did not set it."""

    turns: list[Turn] = field(default_factory=list)
    tools: list[Tool] | None = None
    tool_choice: str | tuple[str, str] | None = None  # auto | none | required | ("function", name)
    parallel_tool_calls: bool | None = None
    max_tokens: int | None = None
    max_tokens_field: str = "max_tokens"  # the client's name for it, for error messages
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] | None = None
    stop_field: str = "stop"
    stream: bool = False
    # {"type": "json_object"} or {"type": "json_schema", "name", "schema", "strict"?, "description"?}
    response_format: dict[str, Any] | None = None
    response_format_field: str = "response_format"


# An upstream's token counts are accounted and billed; past this they are not
# counts but an attack (and past 2**64 they no longer fit the JSON we write).
MAX_TOKENS_REPORTED = 2 ** 53


def sane_usage(input_tokens: int, output_tokens: int) -> bool:
    return 0 <= input_tokens <= MAX_TOKENS_REPORTED and 0 <= output_tokens <= MAX_TOKENS_REPORTED


# --- finish reasons ---------------------------------------------------------
#
# Inside the package a finish reason is one of Chat Completions' words:
# stop, length, tool_calls, content_filter.

_FROM_ANTHROPIC = {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "tool_calls",
                   "max_tokens": "length", "model_context_window_exceeded": "length",
                   "refusal": "content_filter", "pause_turn": "stop"}
_TO_ANTHROPIC = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens",
                 "content_filter": "refusal"}


def normal_finish(dialect: Dialect, reason: str | None, has_calls: bool,
                  incomplete_reason: str | None = None) -> str:
    """A source dialect's finish reason (Responses: its status) in the neutral words.

    A response with tool calls always finishes with ``tool_calls``: every
    writer renders it so (some servers say ``stop`` next to tool calls)."""
    if has_calls:
        return "tool_calls"
    if dialect == "anthropic-messages":
        out = _FROM_ANTHROPIC.get(reason or "", "stop")
    elif dialect == "openai-responses":
        if reason == "incomplete":
            out = "content_filter" if incomplete_reason == "content_filter" else "length"
        else:
            out = "stop"
    else:
        out = reason if reason in ("stop", "length", "content_filter") else "stop"
    return out


def target_finish(dialect: Dialect, reason: str) -> str:
    """A neutral finish reason as the target dialect's adapter takes it in ``Response.finish_reason``."""
    if dialect == "anthropic-messages":
        return _TO_ANTHROPIC.get(reason, "end_turn")
    return reason


def client_finish(dialect: Dialect, reason: str) -> str:
    """A neutral finish reason as the client's own adapter reads it back from what
    the writers send (Responses reports a status, read as ``incomplete``)."""
    if dialect == "anthropic-messages":
        return _TO_ANTHROPIC.get(reason, "end_turn")
    if dialect == "openai-responses" and reason in ("length", "content_filter"):
        return "incomplete"
    return reason
