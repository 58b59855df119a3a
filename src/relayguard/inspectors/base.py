"""The inspector interface.

An inspector is a small object with one job.  Its hooks return a list of
findings and nothing else; the verdict is computed from findings in one place
(``relayguard.exchange.verdict_of``).  An inspector that raises blocks: the
pipeline turns the exception into a "block" finding that names the inspector.

Hooks (override only what you need; the pipeline calls only overridden hooks):

    on_request(exchange)          before the upstream call; may edit
                                  exchange.request.body (set body_changed)
    on_tool_call(exchange, call)  each complete tool call, streaming or not
    on_response(exchange)         the whole response, after the last tool call

A *rewriter* (the vault restoring secrets, the red-team router's attacks) sets
``call.new_raw_arguments`` in ``on_tool_call``; the dialect adapter then sends
the tool call with those arguments.
"""

from __future__ import annotations

from relayguard.exchange import Exchange, Finding, ToolCall


class Inspector:
    name = "inspector"

    def on_request(self, exchange: Exchange) -> list[Finding]:
        return []

    def on_tool_call(self, exchange: Exchange, call: ToolCall) -> list[Finding]:
        return []

    def on_response(self, exchange: Exchange) -> list[Finding]:
        return []
