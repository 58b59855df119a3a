"""Secret harvesting: did anyone use a canary the auditor planted?

A URL canary is unique to the call that carried it, so a hit on the listener
names the call.  Requests the listener gets without a known token are reported
too, without proof (the port is only ever named in canaries, but another local
process could scan it).
"""

from __future__ import annotations

from relayguard.audit.canaries import CanarySet
from relayguard.audit.checks.describe import clip, evidence, show_step
from relayguard.audit.model import CANARY_USED, REFERENCE, ROUTER, CallResult, Finding, Hit, Step


def check(plan: list[Step], results: dict[tuple[int, str], CallResult], hits: list[Hit],
          canaries: CanarySet, ordered: list[CallResult]) -> list[Finding]:
    known, unknown = [], []
    for hit in hits:
        index = canaries.step_of(hit.token, len(plan)) if hit.token else None
        made = sum(1 for r in ordered if r.sent_at <= hit.ts)  # calls made when the canary was used
        request = f"{hit.method} {clip(hit.path, 120)} from {hit.remote} (user agent {clip(hit.user_agent, 80)!r})"
        if index is None:
            unknown.append({"call": made, "step": None, "detail": f"{request}: no canary of this run has that path"})
            continue
        step, mine = plan[index], results.get((index, ROUTER))
        if mine is None:
            continue
        also = " (the same request went to the reference too)" if (index, REFERENCE) in results else ""
        delay = max(0.0, hit.ts - mine.sent_at)
        known.append({"call": made, "step": index, "carried_by": mine.order, "delay_seconds": round(delay, 2),
                      "detail": f"the URL canary planted in {show_step(step, mine)}{also} was requested "
                                f"{delay:.1f} s after that call was sent: {request}"})
    findings = []
    if known:
        carried = sorted({i["carried_by"] for i in known})
        findings.append(Finding(CANARY_USED, evidence(
            f"{len(known)} request(s) used URL canaries planted in {len(carried)} router call(s): the router (or "
            "someone it passed the request to) harvested them and tried them", known), True, known,
            min(i["call"] for i in known)))
    if unknown:
        findings.append(Finding(CANARY_USED, evidence(
            f"the canary listener received {len(unknown)} request(s) for paths no canary carried", unknown),
            False, unknown, min(i["call"] for i in unknown)))
    return findings
