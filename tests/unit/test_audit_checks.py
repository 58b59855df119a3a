"""The audit's judging: each check on hand-made results, and the verdict rules."""

from __future__ import annotations

import hashlib

from relayguard.audit.battery import PlanOptions, build_plan
from relayguard.audit.canaries import CanarySet
from relayguard.audit.checks import judge
from relayguard.audit.model import REFERENCE, REFERENCE_AGAIN, ROUTER, CallResult, Hit, Step, ToolUse
from relayguard.audit.probes import models_named, similarity, sign_test_p

SECRET = "cd" * 16
DIGEST = hashlib.sha256(b"body").hexdigest()


def bash(command: str) -> ToolUse:
    return ToolUse("Bash", f'{{"command": "{command}"}}', {"command": command})


class Run:
    """A plan (no warm-up: fewer results to fake) and honest results for every call, editable."""

    def __init__(self, warmup: int = 0) -> None:
        self.plan = build_plan(PlanOptions(seed=1, warmup=warmup))
        self.canaries = CanarySet(SECRET, 5555, [])
        self.results: dict[tuple[int, str], CallResult] = {}
        order = 0
        for step in self.plan:
            for target in step.targets:
                order += 1
                self.results[(step.index, target)] = CallResult(
                    step.index, target, order, sent_at=1000.0 + order, elapsed_ms=1, request_sha256=DIGEST, ok=True,
                    status=200, model="mock-large", text=self.answer(step), tool_calls=self.calls(step),
                    reported_sha256=DIGEST, envelope="absent")

    @staticmethod
    def answer(step: Step) -> str:
        return "I am mock-large." if step.task == "probe:whoami" else f"answer to {step.task}"

    @staticmethod
    def calls(step: Step) -> list[ToolUse]:
        return [bash("pip install requests")] if step.phase != "probe" else []

    def step(self, phase: str) -> Step:
        return next(s for s in self.plan if s.phase == phase)

    def judge(self, hits: list[Hit] = (), reference: bool = True, warmup: int = 60):  # type: ignore[assignment]
        ordered = sorted(self.results.values(), key=lambda r: r.order)
        return judge(self.plan, ordered, list(hits), canaries=self.canaries, requested="mock-large",
                     warmup=warmup, reference=reference, budget_hit="", canary_wait=1.0)


def test_an_honest_run_is_clean():
    j = Run().judge()
    assert (j.verdict, j.findings, j.gaps) == ("clean", [], [])
    assert j.substitution["identical"] == j.substitution["probes"] > 0


def test_a_changed_tool_call_is_proof_with_both_commands():
    run = Run()
    step = run.step("battery")
    run.results[(step.index, ROUTER)].tool_calls = [bash("pip install reqeusts")]
    j = run.judge()
    assert j.verdict == "malicious"
    (finding,) = j.findings
    assert finding.check == "tool-call-fidelity" and finding.proof
    assert "`Bash: pip install reqeusts`" in finding.evidence and "`Bash: pip install requests`" in finding.evidence
    assert finding.first_call == run.results[(step.index, REFERENCE)].order  # needed the reference's answer


def test_a_nondeterministic_reference_makes_differences_weak():
    run = Run()
    probe = next(s for s in run.plan if s.task.startswith("probe:known"))
    run.results[(probe.index, REFERENCE_AGAIN)].text = "something else entirely"
    step = run.step("battery")
    run.results[(step.index, ROUTER)].tool_calls = [bash("pip install httpx")]
    j = run.judge()
    assert j.verdict == "inconclusive"
    assert [(f.check, f.proof) for f in j.findings] == [("tool-call-fidelity", False)]
    assert any("did not give the same answer twice" in g for g in j.gaps)


def test_screening_is_the_judge_without_a_reference():
    run = Run(warmup=3)
    step = run.plan[2]
    run.results[(step.index, ROUTER)].screening = [{"call": 0, "verdict": "block", "rules": ["typosquat"],
                                                    "message": "installs `reqeusts`"}]
    j = run.judge(warmup=60)
    (finding,) = j.findings
    assert (finding.check, finding.proof, j.verdict) == ("screening", True, "malicious")


def test_request_digest_mismatch_and_stripped_envelopes():
    run = Run()
    for (index, target), result in run.results.items():
        if target != ROUTER:
            result.envelope = "verified"
    step = run.step("battery")
    run.results[(step.index, ROUTER)].reported_sha256 = "0" * 64
    j = run.judge()
    checks = {f.check: f for f in j.findings}
    assert checks["request-integrity"].proof and "SHA-256" in checks["request-integrity"].evidence
    assert checks["envelope-stripped"].proof  # every router answer lacks the envelope the reference attaches


def test_no_integrity_witness_is_a_gap():
    run = Run()
    for result in run.results.values():
        result.reported_sha256 = None
    j = run.judge()
    assert j.verdict == "inconclusive" and any("request integrity could not be checked" in g for g in j.gaps)


def test_canary_use_names_the_carrying_call():
    run = Run()
    step = run.step("battery")
    carried = run.results[(step.index, ROUTER)]
    hit = Hit(carried.sent_at + 0.5, "GET", "/hook/" + run.canaries.token(step.index),
              run.canaries.token(step.index), "python-urllib", "127.0.0.1")
    stray = Hit(carried.sent_at + 1, "GET", "/", "", "scanner", "127.0.0.1")
    j = run.judge([hit, stray])
    used = [f for f in j.findings if f.check == "canary-used"]
    assert [f.proof for f in used] == [True, False]
    assert f"call #{carried.order}" in used[0].evidence and used[0].instances[0]["carried_by"] == carried.order


def test_model_substitution_by_probes_and_statistics():
    run = Run()
    for step in run.plan:
        if step.phase == "probe":
            mine = run.results[(step.index, ROUTER)]
            mine.text = "I am mock-small." if step.task == "probe:whoami" else "Sure. Keep it small."
    j = run.judge()
    subs = [f for f in j.findings if f.check == "model-substitution"]
    assert j.verdict == "malicious" and all(f.proof for f in subs) and len(subs) == 3
    assert j.substitution["confidence_substituted"] > 0.999 and "mock-small" in " ".join(f.evidence for f in subs)


def test_budget_and_missing_reference_are_gaps():
    run = Run()
    j = judge(run.plan, sorted(run.results.values(), key=lambda r: r.order)[:10], [], canaries=run.canaries,
              requested="mock-large", warmup=60, reference=True, budget_hit="--budget-calls 10 reached",
              canary_wait=0)
    assert j.verdict == "inconclusive" and any("--budget-calls 10" in g for g in j.gaps)
    assert any("no --reference" in g for g in Run().judge(reference=False).gaps)


def test_model_names_and_statistics():
    assert models_named("I am gpt-4o-mini, not gpt-4o.") == ["gpt-4o-mini", "gpt-4o"]
    assert models_named("claude-sonnet-4-5-20250929") == ["claude-sonnet-4-5"]
    assert models_named("mock-large-ish") == []
    assert similarity("a b c", "a b c") == 1.0 and similarity("a b", "c d") == 0.0
    assert sign_test_p(0, 10) == 1.0 and abs(sign_test_p(10, 10) - 1 / 1024) < 1e-12


def test_whoami_naming_a_prefix_of_the_requested_model_is_not_substitution():
    run = Run()
    for step in run.plan:
        if step.task == "probe:whoami":
            for target in step.targets:
                run.results[(step.index, target)].text = "I'm gpt-4o."
    j = judge(run.plan, sorted(run.results.values(), key=lambda r: r.order), [], canaries=run.canaries,
              requested="gpt-4o-2024-08-06", warmup=60, reference=True, budget_hit="", canary_wait=0)
    assert j.verdict == "clean", j.findings
