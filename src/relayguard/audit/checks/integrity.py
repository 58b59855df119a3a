"""Request and response integrity: did the provider receive the auditor's bytes,
and did the auditor receive what the provider signed?

Two witnesses, both from the provider's side of the router:

* a request digest the provider reports (the mock provider's
  ``x-mock-request-sha256`` header): an honest relay forwards the auditor's
  bytes unchanged (relayguard's own proxy does), so any other digest means the
  request was altered on the way up (injected instructions, a swapped model,
  a dropped system prompt; a router that re-serialises JSON shows here too);
* a signed envelope (docs/envelope.md) verified against trusted keys: it binds
  the request digest, the nonce and the response.

A router can strip an unsigned header, so a call without either witness is a
coverage gap, never a pass.
"""

from __future__ import annotations

from relayguard.audit.checks.describe import evidence, first_needed, show_step
from relayguard.audit.model import (
    ENVELOPE_STRIPPED, ENVELOPE_UNVERIFIED, REFERENCE, REFERENCE_AGAIN, REQUEST_INTEGRITY, RESPONSE_INTEGRITY,
    ROUTER, CallResult, Finding, Step,
)

_RESPONSE_CODES = {"envelope-content-mismatch", "envelope-bad-signature", "envelope-nonce-mismatch"}
_WITNESSED = {"verified", "envelope-request-mismatch"} | _RESPONSE_CODES


def check(plan: list[Step], results: dict[tuple[int, str], CallResult]) -> tuple[list[Finding], int, int]:
    """(findings, router calls with a witness, router calls answered)."""
    groups: dict[tuple[str, bool], dict[int, dict]] = {}  # (check, proof) -> call -> instance
    witnessed = answered = 0

    def add(check: str, proof: bool, result: CallResult, step: Step, detail: str, needed: int = 0) -> None:
        calls = groups.setdefault((check, proof), {})
        if result.order in calls:  # both witnesses saw it: one instance, both details
            calls[result.order]["detail"] += "; " + detail
        else:
            calls[result.order] = {"call": result.order, "step": step.index, "needed": max(needed, result.order),
                                   "detail": f"{show_step(step, result)}: {detail}"}

    references = [r for (_, target), r in results.items() if target != ROUTER and r.ok]
    # A provider that signed every answer it gave the auditor signs the router's too.
    signs_always = bool(references) and all(r.envelope != "absent" for r in references)
    first_signed = min((r.order for r in references), default=0)
    for step in plan:
        mine = results.get((step.index, ROUTER))
        if mine is None or not mine.ok:
            continue
        answered += 1
        refs = [results.get((step.index, t)) for t in (REFERENCE, REFERENCE_AGAIN)]
        signed = [r.order for r in refs if r is not None and r.ok and r.envelope != "absent"]
        signed_this = bool(signed)
        if mine.reported_sha256 is not None or mine.envelope in _WITNESSED:
            witnessed += 1
        if mine.reported_sha256 is not None and mine.reported_sha256 != mine.request_sha256:
            add(REQUEST_INTEGRITY, True, mine, step, f"the auditor sent a body with SHA-256 "
                f"{mine.request_sha256[:16]}…, the provider reports receiving {mine.reported_sha256[:16]}…")
        if mine.envelope == "envelope-request-mismatch":
            add(REQUEST_INTEGRITY, True, mine, step, "the provider's signed envelope names another request "
                "digest than the body the auditor sent")
        elif mine.envelope in _RESPONSE_CODES:
            add(RESPONSE_INTEGRITY, True, mine, step, f"{mine.envelope}: {mine.envelope_detail[:300]}")
        elif mine.envelope == "absent" and (signed_this or signs_always):
            add(ENVELOPE_STRIPPED, True, mine, step, "the router's answer carries no envelope; the provider signed "
                + ("its answer to this same request" if signed_this else
                   f"every one of the {len(references)} answers it gave the auditor directly"),
                min(signed) if signed else first_signed)
        elif mine.envelope not in ("absent", "unchecked", "verified"):
            add(ENVELOPE_UNVERIFIED, False, mine, step, f"{mine.envelope}: {mine.envelope_detail[:300]}")
    summaries = {
        REQUEST_INTEGRITY: "router calls reached the provider altered: what it received is not what the "
                           "auditor sent",
        RESPONSE_INTEGRITY: "router answers differ from what the provider signed",
        ENVELOPE_STRIPPED: "router answers arrived without the signed envelope the provider attaches",
        ENVELOPE_UNVERIFIED: "router answers carry envelopes that do not verify against the trusted keys",
    }
    findings = []
    for (check, proof), calls in groups.items():
        items = sorted(calls.values(), key=lambda i: i["call"])
        findings.append(Finding(check, evidence(f"{len(items)} of {answered} {summaries[check]}", items), proof,
                                items, first_needed(items)))
    return findings, witnessed, answered
