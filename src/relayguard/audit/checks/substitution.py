"""Model substitution: is the model answering the one requested?

Every probe went to the router once and to the reference twice.  Under the
hypothesis that the router serves the requested model, its answer is just
another sample of the reference's model, so it is as likely to look less like
the first reference answer than the second reference answer does as more like
it (they are exchangeable).  Counting the probes where it looks clearly less
alike gives a sign test; its p-value is the chance of seeing that many by luck,
and one minus it is the confidence reported that another model answered.

Proof, besides a sign test with p < 0.01: a known-answer probe the reference
answered identically twice and the router answered otherwise, or, with no
reference, a self-identification naming another model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import mean
from typing import Any

from relayguard.audit.checks.describe import clip, evidence, first_needed, show_step
from relayguard.audit.model import (
    MODEL_LABEL, MODEL_SUBSTITUTION, REFERENCE, REFERENCE_AGAIN, ROUTER, CallResult, Finding, Step,
)
from relayguard.audit.probes import models_named, similarity, sign_test_p

MARGIN = 0.05  # a router answer is "less alike" only beyond this much similarity
PROOF_P = 0.01


@dataclass
class Summary:
    probes: int = 0  # probes with a router answer and two reference answers
    less_alike: int = 0
    p_value: float | None = None
    confidence_substituted: float | None = None
    reference_deterministic: bool = False
    identical: int = 0  # router answers equal to the reference's
    similarity_router: float | None = None  # mean router/reference similarity
    similarity_reference: float | None = None  # mean reference/reference similarity
    length_ratio: float | None = None  # mean router length / reference length
    whoami: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def check(plan: list[Step], results: dict[tuple[int, str], CallResult], requested: str) -> tuple[list[Finding], Summary]:
    summary = Summary()
    known_diffs, whoami_diffs, labels = [], [], []
    sims_router, sims_ref, ratios = [], [], []
    deterministic = True
    for step in plan:
        mine = results.get((step.index, ROUTER))
        if mine is None or not mine.ok:
            continue
        ref, again = results.get((step.index, REFERENCE)), results.get((step.index, REFERENCE_AGAIN))
        ref = ref if ref is not None and ref.ok else None
        again = again if again is not None and again.ok else None
        if ref is not None and mine.model and ref.model and mine.model != ref.model:
            labels.append({"call": mine.order, "step": step.index,
                           "detail": f"{show_step(step, mine)}: the router's answer is labelled "
                                     f"{clip(mine.model, 60)!r}, the reference's {clip(ref.model, 60)!r}"})
        if step.phase != "probe":
            continue
        where = show_step(step, mine)
        if step.task == "probe:whoami":
            named = models_named(mine.text)
            summary.whoami.append(clip(mine.text, 120))
            wanted = requested.lower()
            own = models_named(ref.text) if ref is not None else []
            # names another model: not the requested id, nor a prefix of it ("gpt-4o" for "gpt-4o-2024-08-06"),
            # nor (with a reference) what the requested model calls itself
            if named and wanted not in mine.text.lower() and not any(n in wanted for n in named) \
                    and (ref is None or (own and not set(named) & set(own))):
                whoami_diffs.append({"call": mine.order, "step": step.index,
                                     "needed": max(mine.order, ref.order if ref is not None else 0),
                                     "detail": f"{where}: asked which model it is, the answer names "
                                               f"{', '.join(named)}, not the requested {requested!r}: "
                                               f"{clip(mine.text, 160)!r}"})
        if ref is None or again is None:
            continue
        summary.probes += 1
        s_ref, s_router = similarity(ref.text, again.text), similarity(mine.text, ref.text)
        sims_ref.append(s_ref)
        sims_router.append(s_router)
        ratios.append(len(mine.text) / max(1, len(ref.text)))
        summary.identical += mine.text == ref.text
        summary.less_alike += s_router < s_ref - MARGIN
        if ref.text != again.text:
            deterministic = False
        elif not step.task.startswith("probe:generic") and mine.text != ref.text:
            known_diffs.append({"call": mine.order, "step": step.index, "needed": max(mine.order, ref.order, again.order),
                                "detail": f"{where}: the reference answered {clip(ref.text, 100)!r} twice; the "
                                          f"router answered {clip(mine.text, 100)!r}"})
    summary.reference_deterministic = deterministic and summary.probes > 0
    if summary.probes:
        summary.p_value = sign_test_p(summary.less_alike, summary.probes)
        summary.confidence_substituted = round(1.0 - summary.p_value, 6)
        summary.similarity_router, summary.similarity_reference = round(mean(sims_router), 3), round(mean(sims_ref), 3)
        summary.length_ratio = round(mean(ratios), 3)
    findings = []
    if known_diffs:
        findings.append(Finding(MODEL_SUBSTITUTION, evidence(
            f"{len(known_diffs)} known-answer probe(s) answered differently from the requested model "
            f"{requested!r} (the reference gave the same answer twice)", known_diffs), True, known_diffs,
            first_needed(known_diffs)))
    if whoami_diffs:
        findings.append(Finding(MODEL_SUBSTITUTION, evidence(
            "the model answering names itself as another model", whoami_diffs), True, whoami_diffs,
            first_needed(whoami_diffs)))
    if summary.p_value is not None and summary.p_value < PROOF_P:
        last = max(results[(s.index, ROUTER)].order for s in plan
                   if s.phase == "probe" and (s.index, ROUTER) in results)
        findings.append(Finding(MODEL_SUBSTITUTION, (
            f"{summary.less_alike} of {summary.probes} probe answers from the router are clearly less like the "
            f"reference's than the reference's two answers are like each other (sign test p = "
            f"{summary.p_value:.2g}; confidence another model answered {100 * summary.confidence_substituted:.2f}%; "
            f"mean similarity router/reference {summary.similarity_router}, reference/reference "
            f"{summary.similarity_reference}; mean length ratio {summary.length_ratio})."), True, [], last))
    if labels:
        findings.append(Finding(MODEL_LABEL, evidence(
            f"{len(labels)} answer(s) carry another model label than the reference's answer to the same request",
            labels), False, labels, first_needed(labels)))
    return findings, summary
