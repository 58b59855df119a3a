"""The one typed object every stage of the pipeline reads: an Exchange.

A dialect adapter builds it at the edge; nothing past the adapters knows which
API dialect the client spoke.  This module does no I/O and imports nothing from
the package, so inspectors, tests and tools can all depend on it.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Any, Literal

Dialect = Literal["openai-chat", "openai-responses", "anthropic-messages"]
DIALECTS: tuple[Dialect, ...] = ("openai-chat", "openai-responses", "anthropic-messages")

Severity = Literal["info", "warn", "block"]


class Verdict(str, enum.Enum):
    ALLOW = "allow"
    WARN = "warn"
    BLOCK = "block"
    ERROR = "error"


@dataclass(slots=True, frozen=True)
class Finding:
    """What an inspector found.  Only severity "block" stops a tool call."""

    rule: str
    severity: Severity
    message: str
    tool_call: str | None = None  # the ToolCall.id it is about, None for the whole exchange

    def as_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity, "message": self.message,
                "tool_call": self.tool_call}


@dataclass(slots=True)
class ToolCall:
    """One tool call as the model produced it, whatever the dialect.

    ``arguments`` is the parsed JSON object (``None`` when the raw text is not
    valid JSON: inspectors must treat that as suspicious, not as empty).
    ``kind`` distinguishes ordinary function calls from built-in shell calls
    (OpenAI Responses ``local_shell_call``) whose argv lives in ``arguments["command"]``.
    """

    id: str
    name: str
    raw_arguments: str
    arguments: Any = None
    kind: Literal["function", "shell"] = "function"
    # Set by a rewriting stage (the vault restoring secrets, the red-team router);
    # the dialect adapter renders the tool call again with these arguments.
    new_raw_arguments: str | None = None
    # Set by the pipeline when the verdict on this call is block.
    blocked_reason: str | None = None


@dataclass(slots=True)
class Message:
    """One turn of the conversation, flattened to text for inspectors.

    ``role`` is user, assistant, system, tool (a tool result) or developer.
    Tool calls an assistant made earlier appear as text too, so grounding can
    see everything the conversation already named.
    """

    role: str
    text: str


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(slots=True)
class Request:
    """The client's request.  ``body`` is the parsed JSON and the source of truth;
    ``raw`` is forwarded as-is unless a request stage changed ``body``."""

    dialect: Dialect
    path: str
    body: dict[str, Any]
    raw: bytes
    headers: list[tuple[bytes, bytes]]
    model: str
    stream: bool
    body_changed: bool = False
    sent: bytes = b""  # the bytes actually sent upstream (after request stages)
    nonce: str = ""  # the envelope nonce sent upstream with them, when envelopes are checked
    _conversation: list[Message] | None = None
    _tool_names: list[str] | None = None

    # The conversation is only flattened when an inspector asks for it: the
    # guard's hot path should not pay for context it does not use.
    def conversation(self) -> list[Message]:
        if self._conversation is None:
            from relayguard.dialects import adapter_for  # local: keeps this module import-free

            self._conversation = adapter_for(self.dialect).conversation(self.body)
        return self._conversation

    def header(self, name: bytes) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode("latin-1")
        return None


@dataclass(slots=True)
class Response:
    """The upstream's answer, whole (a stream is assembled into the same shape)."""

    status: int = 0
    model: str = ""
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str = ""
    usage: Usage = field(default_factory=Usage)
    body: dict[str, Any] | None = None  # non-streaming only
    raw: bytes = b""  # non-streaming body bytes, or the concatenated SSE stream
    envelope: str | None = None  # the signed envelope's transport string, when the upstream sent one


@dataclass(slots=True)
class Timing:
    started: float = field(default_factory=time.time)
    upstream_started: float = 0.0
    upstream_first_byte: float = 0.0
    finished: float = 0.0


@dataclass(slots=True)
class Exchange:
    id: str
    request: Request
    response: Response = field(default_factory=Response)
    findings: list[Finding] = field(default_factory=list)
    upstream: str = ""
    session: str = ""
    timing: Timing = field(default_factory=Timing)

    @property
    def dialect(self) -> Dialect:
        return self.request.dialect

    def verdict(self) -> Verdict:
        return verdict_of(self.findings)


def verdict_of(findings: list[Finding]) -> Verdict:
    """The single place a verdict is computed from findings."""
    verdict = Verdict.ALLOW
    for finding in findings:
        if finding.severity == "block":
            return Verdict.BLOCK
        if finding.severity == "warn":
            verdict = Verdict.WARN
    return verdict
