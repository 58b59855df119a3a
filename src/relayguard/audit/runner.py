"""Runs the plan: every call in order, under a hard budget, with progress and a
state file so a killed run resumes where it stopped.

Per call it records what the judging needs and can only be had then: the
envelope verified against the nonce just sent; per step, the router's tool
calls screened by relayguard's policy when that says something about the router.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import orjson

from relayguard.audit.canary_listener import CanaryListener
from relayguard.audit.fingerprints import PERSONAS
from relayguard.audit.checks.describe import signature
from relayguard.audit.model import REFERENCE, ROUTER, CallResult, Hit, Step, ToolUse
from relayguard.audit.shapes import Shaper
from relayguard.audit.state import StateFile
from relayguard.audit.transport import PATHS, Endpoint, call
from relayguard.envelope import NONCE_HEADER, EnvelopeError, KeySet, new_nonce, verify
from relayguard.exchange import Exchange, Request, ToolCall

OUTPUT_ESTIMATE = 200  # tokens an answer is assumed to cost before it is seen


@dataclass
class Budget:
    calls: int | None = None
    tokens: int | None = None


@dataclass
class Outcome:
    results: list[CallResult] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    budget_hit: str = ""  # why the run stopped early ("" when it did not)
    resumed: int = 0  # calls loaded from the state file
    started: float = 0.0
    finished: float = 0.0

    @property
    def calls(self) -> int:
        return len(self.results)

    @property
    def tokens(self) -> int:
        return sum(r.tokens for r in self.results)


class Runner:
    def __init__(self, plan: list[Step], shaper: Shaper, endpoints: dict[str, Endpoint], *,
                 keyset: KeySet | None, budget: Budget, state: StateFile, listener: CanaryListener,
                 progress: Callable[[Outcome, int, str], None] | None = None) -> None:
        self.plan, self.shaper, self.endpoints = plan, shaper, endpoints
        self.keyset, self.budget, self.state, self.listener = keyset, budget, state, listener
        self.progress = progress or (lambda outcome, planned, phase: None)
        self._pipeline: Any = None

    def estimate(self) -> tuple[int, int]:
        """(calls, tokens) the whole plan costs."""
        calls = tokens = 0
        for step in self.plan:
            size = len(self.shaper.body(step))
            calls += len(step.targets)
            tokens += len(step.targets) * (size // 4 + OUTPUT_ESTIMATE)
        return calls, tokens

    def run(self, done: dict[tuple[int, str], CallResult], hits: list[Hit], canary_wait: float) -> Outcome:
        outcome = Outcome(started=time.time(), hits=list(hits))
        outcome.results = sorted(done.values(), key=lambda r: r.order)
        outcome.resumed = len(outcome.results)
        planned = sum(len(s.targets) for s in self.plan)
        by_key = dict(done)
        for step in self.plan:
            body: bytes | None = None
            made: list[CallResult] = []
            for target in step.targets:
                if (step.index, target) in by_key:
                    continue
                body = body if body is not None else self.shaper.body(step)
                why = self._over_budget(outcome, len(body) // 4 + OUTPUT_ESTIMATE)
                if why:
                    outcome.budget_hit = why
                    break
                result = self._call(step, target, body, len(outcome.results) + 1)
                by_key[(step.index, target)] = result
                outcome.results.append(result)
                made.append(result)
                self.progress(outcome, planned, step.phase)
            if made:
                self._screen_if_needed(step, by_key, body)
            for result in made:  # saved whole: a kill mid-step repeats at most this step's calls
                self.state.add_call(result)
            self._collect_hits(outcome)
            if outcome.budget_hit:
                break
        deadline = time.monotonic() + max(0.0, canary_wait)
        while time.monotonic() < deadline:  # late canary use: a harvester may try a URL after the answer
            time.sleep(0.1)
            self._collect_hits(outcome)
        self._collect_hits(outcome)
        outcome.finished = time.time()
        return outcome

    def _over_budget(self, outcome: Outcome, next_tokens: int) -> str:
        if self.budget.calls is not None and outcome.calls + 1 > self.budget.calls:
            return f"--budget-calls {self.budget.calls} reached"
        if self.budget.tokens is not None and outcome.tokens + next_tokens > self.budget.tokens:
            return f"--budget-tokens {self.budget.tokens} reached"
        return ""

    def _collect_hits(self, outcome: Outcome) -> None:
        for hit in self.listener.new_hits():
            outcome.hits.append(hit)
            self.state.add_hit(hit)

    def _call(self, step: Step, target: str, body: bytes, order: int) -> CallResult:
        endpoint = self.endpoints[ROUTER if target == ROUTER else REFERENCE]
        headers = dict(PERSONAS[step.persona].headers)
        nonce = new_nonce() if self.keyset is not None else ""
        if nonce:
            headers[NONCE_HEADER] = nonce
        result, response, envelope = call(endpoint, step.dialect, body, headers, step=step.index, target=target,
                                          order=order)
        if response is None:
            return result
        result.envelope = "absent" if not envelope else "unchecked"
        if envelope and self.keyset is not None:
            try:
                verify(envelope, self.keyset, response=response, nonce=nonce, request_body=body,
                       now=int(time.time()))
                result.envelope = "verified"
            except EnvelopeError as exc:
                result.envelope, result.envelope_detail = exc.code, str(exc)[:500]
        return result

    def _screen_if_needed(self, step: Step, by_key: dict[tuple[int, str], CallResult], body: bytes | None) -> None:
        """Screen the router's tool calls with relayguard's policy when they are the only judge (no reference
        answer) or differ from the reference's (the screening's verdict joins the evidence).  Calls equal to
        the reference's are the model's own choice: screening them would say nothing about the router."""
        mine, ref = by_key.get((step.index, ROUTER)), by_key.get((step.index, REFERENCE))
        if mine is None or not mine.ok or not mine.tool_calls or mine.screening:
            return
        if ref is not None and ref.ok and signature(ref.tool_calls) == signature(mine.tool_calls):
            return
        mine.screening = self._screen(step, body if body is not None else self.shaper.body(step), mine.tool_calls)

    def _screen(self, step: Step, body: bytes, calls: list[ToolUse]) -> list[dict[str, Any]]:
        """relayguard's own verdict on each tool call (the guard's default policy, as `relayguard check`)."""
        if self._pipeline is None:
            from relayguard.presets import check_pipeline

            self._pipeline = check_pipeline()
        parsed = orjson.loads(body)
        out = []
        for i, use in enumerate(calls):
            exchange = Exchange(id=f"audit-{step.index}", request=Request(
                step.dialect, PATHS[step.dialect], parsed, body, [], str(parsed.get("model", "")), step.stream))  # type: ignore[arg-type]
            tool_call = ToolCall(f"call_{i}", use.name, use.arguments_raw, use.arguments)
            self._pipeline.run_tool_call(exchange, tool_call)
            blocking = [f for f in exchange.findings if f.severity == "block"]
            out.append({"call": i, "verdict": exchange.verdict().value,
                        "rules": sorted({f.rule for f in exchange.findings}),
                        "message": "; ".join(f.message for f in blocking)[:600]})
        return out
