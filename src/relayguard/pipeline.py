"""The inspector pipeline: which inspectors run, in what order, and the verdict.

Fail closed: an inspector that raises produces a "block" finding naming the
inspector and the error, so a bug or a crafted input can never wave a tool
call through.
"""

from __future__ import annotations

from typing import Callable

import orjson

from relayguard.exchange import Exchange, Finding, ToolCall
from relayguard.inspectors.base import Inspector


def _overrides(inspector: Inspector, hook: str) -> bool:
    return getattr(type(inspector), hook) is not getattr(Inspector, hook)


def _guarded(inspector: Inspector, hook: Callable[[], list[Finding]], call_id: str | None) -> list[Finding]:
    try:
        findings = hook()
    except Exception as exc:  # noqa: BLE001 - any failure must block, whatever it is
        return [Finding(f"{inspector.name}:error", "block",
                        f"inspector {inspector.name} failed ({type(exc).__name__}: {exc}); "
                        "blocked to stay safe", call_id)]
    if not isinstance(findings, list):
        return [Finding(f"{inspector.name}:error", "block",
                        f"inspector {inspector.name} returned {type(findings).__name__}, not a list; "
                        "blocked to stay safe", call_id)]
    return findings


class Pipeline:
    def __init__(self, inspectors: list[Inspector]) -> None:
        self.inspectors = list(inspectors)
        self._request = [i for i in inspectors if _overrides(i, "on_request")]
        self._call = [i for i in inspectors if _overrides(i, "on_tool_call")]
        self._response = [i for i in inspectors if _overrides(i, "on_response")]

    def run_request(self, exchange: Exchange) -> list[Finding]:
        """Request stage; returns the block findings (empty when the request may go)."""
        new: list[Finding] = []
        for inspector in self._request:
            new += _guarded(inspector, lambda: inspector.on_request(exchange), None)
        exchange.findings += new
        return [f for f in new if f.severity == "block"]

    def run_tool_call(self, exchange: Exchange, call: ToolCall) -> None:
        """Inspect one complete tool call; marks it blocked when any finding blocks."""
        new: list[Finding] = []
        for inspector in self._call:
            before = call.new_raw_arguments
            new += _guarded(inspector, lambda: inspector.on_tool_call(exchange, call), call.id)
            if call.new_raw_arguments is not None and call.new_raw_arguments != before:
                # A rewriter changed the call: later inspectors judge what the client will get.
                try:
                    call.arguments = orjson.loads(call.new_raw_arguments)
                except orjson.JSONDecodeError:
                    call.arguments = None
        exchange.findings += new
        blocking = [f.message for f in new if f.severity == "block"]
        if blocking:
            call.blocked_reason = "; ".join(blocking)

    def run_response(self, exchange: Exchange) -> None:
        """Whole-response stage.  A block finding about one tool call blocks that
        call; one about the whole response (tool_call None) blocks every call."""
        new: list[Finding] = []
        for inspector in self._response:
            new += _guarded(inspector, lambda: inspector.on_response(exchange), None)
        exchange.findings += new
        for finding in new:
            if finding.severity != "block":
                continue
            for call in exchange.response.tool_calls:
                if finding.tool_call in (None, call.id):
                    call.blocked_reason = "; ".join(filter(None, [call.blocked_reason, finding.message]))

    @property
    def needs_whole_response(self) -> bool:
        """Must tool calls wait for the end of a stream (e.g. for its signature)?"""
        return any(getattr(i, "needs_whole_response", False) for i in self._response)

    @property
    def checks_envelopes(self) -> bool:
        return any(getattr(i, "checks_envelopes", False) for i in self.inspectors)

    @property
    def inspects_calls(self) -> bool:
        return bool(self._call)
