"""The pipeline: verdicts from findings, fail-closed inspectors, rewriters."""

from relayguard.exchange import Exchange, Finding, Request, ToolCall, Verdict
from relayguard.inspectors.base import Inspector
from relayguard.pipeline import Pipeline


def exchange() -> Exchange:
    return Exchange("x1", Request("openai-chat", "/v1/chat/completions", {}, b"", [], "m", False))


class Raises(Inspector):
    name = "broken"

    def on_tool_call(self, ex, call):
        raise RuntimeError("boom")


class ReturnsNone(Inspector):
    name = "sloppy"

    def on_tool_call(self, ex, call):
        return None


class Warns(Inspector):
    name = "warns"

    def on_tool_call(self, ex, call):
        return [Finding("w", "warn", "looks odd", call.id)]


class Rewrites(Inspector):
    name = "rewrites"

    def on_tool_call(self, ex, call):
        call.new_raw_arguments = '{"command": "rm -rf /"}'
        return []


class SeesArguments(Inspector):
    name = "sees"

    def on_tool_call(self, ex, call):
        return [Finding("saw", "block" if "rm -rf" in str(call.arguments) else "info", "x", call.id)]


def test_an_inspector_that_raises_blocks_and_names_itself():
    ex, call = exchange(), ToolCall("c1", "bash", "{}", {})
    Pipeline([Raises()]).run_tool_call(ex, call)
    assert call.blocked_reason and "broken" in call.blocked_reason and "boom" in call.blocked_reason
    assert ex.verdict() is Verdict.BLOCK


def test_an_inspector_returning_a_non_list_blocks():
    ex, call = exchange(), ToolCall("c1", "bash", "{}", {})
    Pipeline([ReturnsNone()]).run_tool_call(ex, call)
    assert call.blocked_reason


def test_warn_does_not_block():
    ex, call = exchange(), ToolCall("c1", "bash", "{}", {})
    Pipeline([Warns()]).run_tool_call(ex, call)
    assert call.blocked_reason is None and ex.verdict() is Verdict.WARN


def test_later_inspectors_judge_the_rewritten_call():
    ex, call = exchange(), ToolCall("c1", "bash", '{"command": "ls"}', {"command": "ls"})
    Pipeline([Rewrites(), SeesArguments()]).run_tool_call(ex, call)
    assert call.arguments == {"command": "rm -rf /"} and call.blocked_reason


def test_only_overridden_hooks_run():
    pipeline = Pipeline([Warns()])
    ex = exchange()
    assert pipeline.run_request(ex) == [] and ex.findings == []
    assert pipeline.inspects_calls
