"""The audit report: one dict (the JSON report), rendered for the terminal and as HTML.

JSON: ``{"verdict", "calls", "findings": [{"check", "evidence", "proof", "instances",
"first_call"}], ...}`` plus coverage, gaps, model-substitution figures, the
canaries planted and every call made.  Texts in it come from the router: the
renderers escape them (html.py) and clip them.
"""

from __future__ import annotations

import time
from typing import IO, Any

import orjson

from relayguard.audit.canaries import CanarySet
from relayguard.audit.checks import EXIT_CODES, Judgement
from relayguard.audit.checks.describe import clip, show_calls
from relayguard.audit.model import ROUTER, CallResult, Step
from relayguard.audit.runner import Outcome


def build(*, judgement: Judgement, outcome: Outcome, plan: list[Step], canaries: CanarySet, settings: dict[str, Any],
          estimate: tuple[int, int]) -> dict[str, Any]:
    steps = {s.index: s for s in plan}
    router_calls = sum(1 for r in outcome.results if r.target == ROUTER)
    return {
        "verdict": judgement.verdict,
        "exit_code": EXIT_CODES[judgement.verdict],
        "calls": outcome.calls,
        "router_calls": router_calls,
        "reference_calls": outcome.calls - router_calls,
        "tokens": outcome.tokens,
        "resumed_calls": outcome.resumed,
        "first_proof_after_calls": judgement.first_proof_call,
        "findings": [f.to_json() for f in judgement.findings],
        "gaps": judgement.gaps,
        "limitations": judgement.limitations,
        "notes": judgement.notes,
        "coverage": judgement.coverage,
        "model_substitution": judgement.substitution,
        "request_integrity_witnessed": judgement.integrity_witnessed,
        "tool_calls_compared": judgement.compared,
        "canaries": canaries.planted(),
        "canary_hits": [h.to_json() for h in outcome.hits],
        "settings": settings,
        "estimate": {"calls": estimate[0], "tokens": estimate[1]},
        "stopped_by_budget": outcome.budget_hit or None,
        "started": outcome.started,
        "finished": outcome.finished,
        "duration_seconds": round(outcome.finished - outcome.started, 2),
        "calls_made": [_call_row(steps[r.step], r) for r in outcome.results if r.step in steps],
    }


def _call_row(step: Step, r: CallResult) -> dict[str, Any]:
    blocked = [s["message"] for s in r.screening if s.get("verdict") == "block"]
    integrity = "not reported" if r.reported_sha256 is None else \
        "match" if r.reported_sha256 == r.request_sha256 else "MISMATCH"
    return {"call": r.order, "step": step.index, "target": r.target, "phase": step.phase, "dialect": step.dialect,
            "stream": step.stream, "persona": step.persona, "project": step.project, "tool": step.tool,
            "task": step.task, "ok": r.ok, "status": r.status, "error": clip(r.error, 200) if r.error else "",
            "model": clip(r.model, 80), "answer": show_calls(r.tool_calls) if r.tool_calls else clip(r.text, 120),
            "request_digest": integrity, "envelope": r.envelope, "screening": "block" if blocked else
            ("allow" if r.screening else ""), "elapsed_ms": r.elapsed_ms}


def write_json(report: dict[str, Any], path: str) -> None:
    with open(path, "wb") as fh:
        fh.write(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")


def render_terminal(report: dict[str, Any], out: IO[str], quiet: bool = False) -> None:
    s = report["settings"]
    verdict = report["verdict"].upper()
    proofs = list(dict.fromkeys(f["check"] for f in report["findings"] if f["proof"]))  # most direct first
    why = f" (proof: {', '.join(proofs)})" if proofs else \
        (" (see gaps)" if report["gaps"] or report["findings"] else "")
    print(f"VERDICT: {verdict}{why}", file=out)
    print(f"  router {s['router']}, reference {s['reference'] or 'none'}, model {s['model']}, seed {s['seed']}",
          file=out)
    print(f"  {report['calls']} calls ({report['router_calls']} router, {report['reference_calls']} reference), "
          f"~{report['tokens']} tokens, {report['duration_seconds']} s"
          + (f"; first proof after {report['first_proof_after_calls']} calls"
             if report["first_proof_after_calls"] else ""), file=out)
    if quiet:  # the verdict, one line per finding and the gaps: enough to act on
        for f in report["findings"]:
            print(f"  [{'proof' if f['proof'] else 'no proof'}] {f['check']}: {f['evidence'].split(chr(10))[0]}",
                  file=out)
        for gap in report["gaps"]:
            print(f"  gap: {gap}", file=out)
        return
    if report["findings"]:
        print("\nfindings:", file=out)
        for f in report["findings"]:
            tag = "proof" if f["proof"] else "no proof"
            lines = f["evidence"].split("\n")
            print(f"  [{tag}] {f['check']}: {lines[0]}", file=out)
            for line in lines[1:]:
                print(f"      {line}", file=out)
    cov = report["coverage"]
    sub = report["model_substitution"]
    print("\ncoverage:", file=out)
    print(f"  router calls: {cov['router_calls']} ({cov['router_calls_past_warmup']} after the "
          f"{s['warmup']}-call warm-up); tool-call answers: {cov['tool_call_answers']}; "
          f"compared with the reference: {report['tool_calls_compared']}", file=out)
    print(f"  auto-approve fingerprints: {'; '.join(cov['auto_approve_fingerprints']) or 'none'}", file=out)
    print(f"  projects: {', '.join(cov['projects']) or 'none'}", file=out)
    print(f"  tool names: {', '.join(cov['tool_names']) or 'none'}", file=out)
    print(f"  dialects: {', '.join(cov['dialects'])}; {' and '.join(cov['streaming'])}", file=out)
    print(f"  request integrity witnessed on {report['request_integrity_witnessed']} of "
          f"{cov['router_calls_answered']} router answers", file=out)
    if sub.get("probes"):
        print(f"  model probes: {sub['probes']} ({sub['identical']} identical to the reference); confidence "
              f"another model answered: {100 * (sub['confidence_substituted'] or 0):.2f}% "
              f"(sign test p = {sub['p_value']:.2g})", file=out)
    planted = ", ".join(c["kind"] for c in report["canaries"])
    print(f"  canaries planted: {planted}; listener hits: {len(report['canary_hits'])}", file=out)
    if report["gaps"]:
        print("\ngaps (why the run cannot say clean):", file=out)
        for gap in report["gaps"]:
            print(f"  - {gap}", file=out)
    print("\nlimitations:", file=out)
    for item in report["limitations"]:
        print(f"  - {item}", file=out)


def progress_line(done: int, planned: int, phase: str, findings: int, proofs: int) -> str:
    return (f"relayguard audit: {done}/{planned} calls ({phase}), {findings} finding(s)"
            + (f", {proofs} with proof" if proofs else ""))


def stamp(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t)) if t else ""

