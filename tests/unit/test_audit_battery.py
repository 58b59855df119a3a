"""The audit's plan and request bodies: coverage by construction, and answers a mock
reference gives that relayguard's screening passes (no false alarms without a reference)."""

from __future__ import annotations

import itertools

import orjson
import pytest

from relayguard.audit.battery import TASKS, PlanOptions, build_plan
from relayguard.audit.canaries import CanarySet
from relayguard.audit.fingerprints import KEYWORDS, PERSONAS, PROJECTS, TOOL_NAMES, YOLO_PERSONAS
from relayguard.audit.model import REFERENCE, REFERENCE_AGAIN, ROUTER
from relayguard.audit.shapes import Shaper
from relayguard.dialects import adapter_for
from relayguard.exchange import DIALECTS, Exchange, Request, ToolCall
from relayguard.presets import check_pipeline
from relayguard.testing.client import command_of
from relayguard.testing.mock_provider import plan_reply

SECRET = "ab" * 16


def shaper(seed: int = 1) -> Shaper:
    return Shaper("mock-large", CanarySet(SECRET, 4321, []), SECRET, seed)


def test_plan_is_deterministic_per_seed_and_varies_across_seeds():
    assert build_plan(PlanOptions(seed=3)) == build_plan(PlanOptions(seed=3))
    assert build_plan(PlanOptions(seed=3)) != build_plan(PlanOptions(seed=4))


def test_warm_up_comes_first_and_only_goes_to_the_router():
    plan = build_plan(PlanOptions(seed=1, warmup=60))
    assert [s.phase for s in plan[:60]] == ["warm-up"] * 60
    assert all(s.targets == (ROUTER,) for s in plan[:60])
    assert all(s.phase != "warm-up" for s in plan[60:])
    assert {s.persona for s in plan[:60]} == set(PERSONAS)


def test_every_auto_approve_persona_meets_every_project_with_an_installer_and_an_install():
    plan = build_plan(PlanOptions(seed=2))
    seen = {(s.persona, s.project, TASKS[s.task].kind) for s in plan if s.phase == "battery"}
    for persona, project, kind in itertools.product(YOLO_PERSONAS, PROJECTS, ("installer", "install")):
        assert (persona, project, kind) in seen
    tools = {(s.tool, TASKS[s.task].kind) for s in plan if s.phase == "battery"}
    for tool, kind in itertools.product(TOOL_NAMES, ("installer", "install")):
        assert (tool, kind) in tools
    assert all(s.targets == (ROUTER, REFERENCE) for s in plan if s.phase == "battery")
    assert all(s.targets == (ROUTER, REFERENCE, REFERENCE_AGAIN) for s in plan if s.phase == "probe")
    assert {s.dialect for s in plan} == set(DIALECTS) and {s.stream for s in plan} == {True, False}


def test_one_dialect_and_no_reference():
    plan = build_plan(PlanOptions(seed=2, dialect="anthropic-messages", reference=False))
    assert {s.dialect for s in plan} == {"anthropic-messages"}
    assert all(s.targets == (ROUTER,) for s in plan)
    assert {s.task for s in plan if s.phase == "probe"} == {"probe:whoami"}


@pytest.mark.parametrize("seed", [1, 2])
def test_a_mock_reference_answers_every_task_with_its_command_on_the_declared_tool(seed):
    s = shaper(seed)
    for step in build_plan(PlanOptions(seed=seed)):
        body = orjson.loads(s.body(step))
        reply = plan_reply(adapter_for(step.dialect).conversation(body), body["tools"])
        task = TASKS.get(step.task)
        if task is None:  # probes and warm-up questions: text only
            assert reply.tool_calls == [], (step, reply)
            continue
        (call,) = reply.tool_calls
        if task.kind == "edit":
            assert call.name == PERSONAS[step.persona].edit_tool.name
        else:
            assert (call.name, command_of(call.arguments)) == (step.tool, task.command), step


def test_battery_requests_carry_the_fingerprints_and_the_canaries():
    s = shaper()
    for step in build_plan(PlanOptions(seed=1)):
        if step.phase != "battery":
            continue
        text = s.body(step).decode()
        assert PROJECTS[step.project].manifest in text
        assert all(word in text.lower() for word in KEYWORDS)
        assert s.canaries.url(step.index) in text and s.canaries.aws_key_id in text
        assert s.canaries.github_token in text


def test_the_batterys_honest_answers_pass_relayguards_screening():
    """Without a reference, a screening block is the proof: honest answers must never be blocked."""
    pipeline, s = check_pipeline(), shaper()
    for seed in (1, 2, 3):
        for step in build_plan(PlanOptions(seed=seed)):
            if step.task not in TASKS:
                continue
            body = orjson.loads(s.body(step))
            reply = plan_reply(adapter_for(step.dialect).conversation(body), body["tools"])
            exchange = Exchange("x", Request(step.dialect, "/", body, b"", [], "mock-large", False))  # type: ignore[arg-type]
            for call in reply.tool_calls:
                pipeline.run_tool_call(exchange, ToolCall("c", call.name, call.raw_arguments, call.arguments))
            assert exchange.verdict().value != "block", (step.task, [f.message for f in exchange.findings])
