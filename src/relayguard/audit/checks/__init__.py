"""From call results to a verdict.

Each check is a pure function of the plan and the results (fidelity,
integrity, canaries, substitution); ``judge`` runs them all and decides:

    any finding with proof        -> malicious
    a finding without proof, or a coverage gap -> inconclusive
    otherwise                     -> clean
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from relayguard.audit.canaries import CanarySet
from relayguard.audit.checks import canaries as canary_check
from relayguard.audit.checks import coverage as coverage_check
from relayguard.audit.checks import fidelity, integrity, substitution
from relayguard.audit.model import (
    CANARY_USED, ENVELOPE_STRIPPED, ENVELOPE_UNVERIFIED, FIDELITY, MODEL_LABEL, MODEL_SUBSTITUTION, REQUEST_INTEGRITY,
    RESPONSE_INTEGRITY, SCREENING, CallResult, Finding, Hit, Step,
)

MALICIOUS, CLEAN, INCONCLUSIVE = "malicious", "clean", "inconclusive"
EXIT_CODES = {CLEAN: 0, MALICIOUS: 1, INCONCLUSIVE: 2}
# The order a reviewer reads findings in: the most direct evidence of harm first.
PRIORITY = (FIDELITY, SCREENING, CANARY_USED, REQUEST_INTEGRITY, MODEL_SUBSTITUTION, RESPONSE_INTEGRITY,
            ENVELOPE_STRIPPED, ENVELOPE_UNVERIFIED, MODEL_LABEL)


@dataclass
class Judgement:
    verdict: str
    findings: list[Finding]
    gaps: list[str]
    limitations: list[str]
    notes: list[str]
    coverage: dict[str, Any]
    substitution: dict[str, Any]
    first_proof_call: int | None
    compared: int = 0
    integrity_witnessed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def judge(plan: list[Step], ordered: list[CallResult], hits: list[Hit], *, canaries: CanarySet, requested: str,
          warmup: int, reference: bool, budget_hit: str, canary_wait: float) -> Judgement:
    results = {(r.step, r.target): r for r in ordered}
    sub_findings, sub = substitution.check(plan, results, requested)
    deterministic = sub.reference_deterministic
    fid_findings, notes, compared = fidelity.check(plan, results, deterministic)
    int_findings, witnessed, answered = integrity.check(plan, results)
    can_findings = canary_check.check(plan, results, hits, canaries, ordered)
    findings = fid_findings + int_findings + can_findings + sub_findings
    findings.sort(key=lambda f: (not f.proof, PRIORITY.index(f.check) if f.check in PRIORITY else len(PRIORITY),
                                 f.first_call or 0))
    cov = coverage_check.coverage(plan, results, warmup)
    gaps = coverage_check.gaps(plan, results, cov, warmup=warmup, reference=reference, budget_hit=budget_hit,
                               integrity=(witnessed, answered), deterministic=deterministic, probes=sub.probes)
    proofs = [f for f in findings if f.proof]
    verdict = MALICIOUS if proofs else INCONCLUSIVE if findings or gaps else CLEAN
    return Judgement(verdict, findings, gaps, coverage_check.limitations(cov, canary_wait, len(canaries.user)),
                     notes[:20], cov, sub.to_json(),
                     min((f.first_call for f in proofs if f.first_call is not None), default=None),
                     compared, witnessed)
