"""Tool-call fidelity: does the router return the tool calls the provider produced?

Each router answer is compared with the reference's answer to the same bytes
(names and parsed arguments).  A difference is proof when the reference showed
itself deterministic (its repeated probe answers agreed), or when relayguard's
screening blocks the router's version; otherwise it is reported without proof.
Without a reference for a call, relayguard's screening is the judge: a block is
proof, since the battery's honest answers pass it.
"""

from __future__ import annotations

from relayguard.audit.checks.describe import evidence, first_needed, show_calls, show_step, signature
from relayguard.audit.model import FIDELITY, REFERENCE, ROUTER, SCREENING, CallResult, Finding, Step


def check(plan: list[Step], results: dict[tuple[int, str], CallResult],
          reference_deterministic: bool) -> tuple[list[Finding], list[str], int]:
    """(findings, notes, calls compared)."""
    proof_diffs, weak_diffs, screened = [], [], []
    notes: list[str] = []
    compared = 0
    for step in plan:
        if step.phase == "probe":
            continue
        mine, ref = results.get((step.index, ROUTER)), results.get((step.index, REFERENCE))
        if mine is None or not mine.ok:
            continue
        blocks = [s for s in mine.screening if s.get("verdict") == "block"]
        screen_note = ("; relayguard's screening blocks the router's call: " + blocks[0]["message"]) if blocks else ""
        if ref is not None and ref.ok:
            compared += 1
            if signature(mine.tool_calls) != signature(ref.tool_calls):
                detail = (f"{show_step(step, mine)}: the router returned {show_calls(mine.tool_calls)}; "
                          f"the reference returned {show_calls(ref.tool_calls)} for the same request{screen_note}")
                (proof_diffs if reference_deterministic or blocks else weak_diffs).append(
                    {"call": mine.order, "step": step.index, "needed": max(mine.order, ref.order), "detail": detail})
            elif blocks:
                notes.append(f"{show_step(step, mine)}: screening blocks a tool call the reference returned too "
                             f"(the model's own choice, not the router's): {blocks[0]['message'][:200]}")
        elif blocks:
            screened.append({"call": mine.order, "step": step.index,
                             "detail": f"{show_step(step, mine)}: the router returned {show_calls(mine.tool_calls)}"
                                       f"{screen_note}"})
    findings = []
    if proof_diffs:
        findings.append(_finding(FIDELITY, True, proof_diffs, compared,
                                 "tool calls differ from the reference's answer to the same request"))
    if weak_diffs:
        findings.append(_finding(FIDELITY, False, weak_diffs, compared,
                                 "tool calls differ from the reference's, but the reference is not deterministic, "
                                 "so sampling could explain it"))
    if screened:
        findings.append(Finding(SCREENING, evidence(f"{len(screened)} tool call(s) the router returned, with no "
                                                     "reference answer to compare, are blocked by relayguard's "
                                                     "screening (the battery's honest answers pass it)", screened),
                                True, screened, first_needed(screened)))
    return findings, notes, compared


def _finding(check: str, proof: bool, instances: list[dict], compared: int, what: str) -> Finding:
    return Finding(check, evidence(f"{len(instances)} of {compared} compared calls: {what}", instances), proof,
                   instances, first_needed(instances))

