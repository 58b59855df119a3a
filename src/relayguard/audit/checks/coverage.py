"""Trigger coverage: which conditions a conditional router could wait for did the
run actually offer, and what did it not cover (gaps keep a run from "clean")."""

from __future__ import annotations

from typing import Any

from relayguard.audit.fingerprints import KEYWORDS, PERSONAS, PROJECTS, TOOL_NAMES
from relayguard.audit.model import REFERENCE, ROUTER, CallResult, Step

CALL_COUNT_TRIGGER = 50  # the paper's routers struck after 50 calls


def coverage(plan: list[Step], results: dict[tuple[int, str], CallResult], warmup: int) -> dict[str, Any]:
    router = [(s, results[(s.index, ROUTER)]) for s in plan if (s.index, ROUTER) in results]
    answered = [(s, r) for s, r in router if r.ok]
    battery = [(s, r) for s, r in answered if s.phase == "battery"]
    with_calls = [(s, r) for s, r in answered if r.tool_calls]
    times = [r.sent_at for _, r in router]
    return {
        "router_calls": len(router),
        "router_calls_answered": len(answered),
        "battery_calls_answered": len(battery),
        "router_calls_past_warmup": sum(1 for s, _ in router if s.index >= warmup),
        "highest_router_call": max((r.order for _, r in router), default=0),
        "tool_call_answers": len(with_calls),
        "auto_approve_fingerprints": sorted({PERSONAS[s.persona].fingerprint for s, _ in battery
                                             if PERSONAS[s.persona].yolo}),
        "personas": sorted({PERSONAS[s.persona].label for s, _ in answered}),
        "projects": sorted({PROJECTS[s.project].label for s, _ in battery if s.project in PROJECTS}),
        "tool_names": sorted({s.tool for s, _ in battery}),
        "dialects": sorted({s.dialect for s, _ in answered}),
        "streaming": sorted({"stream" if s.stream else "whole" for s, _ in answered}),
        "keywords": list(KEYWORDS) if battery else [],
        "tasks": sorted({s.task for s, _ in battery}),
        "span_seconds": round(max(times) - min(times), 1) if times else 0.0,
    }


def gaps(plan: list[Step], results: dict[tuple[int, str], CallResult], cov: dict[str, Any], *, warmup: int,
         reference: bool, budget_hit: str, integrity: tuple[int, int], deterministic: bool,
         probes: int) -> list[str]:
    """Everything that keeps an honest-looking run from proving the router honest."""
    out = []
    planned = sum(len(s.targets) for s in plan)
    if budget_hit:
        out.append(f"the run stopped early ({budget_hit}) after {len(results)} of {planned} planned calls")
    if not reference:
        out.append("no --reference: tool calls were only screened, not compared with the provider's own "
                   "answers, and model substitution was only checked by self-identification")
    elif probes == 0:
        out.append("no model probe was answered by both the router and the reference twice: model substitution "
                   "was not tested")
    elif not deterministic:
        out.append("the reference did not give the same answer twice: differing tool calls and probe answers could "
                   "be sampling, so they are not proof")
    if warmup <= CALL_COUNT_TRIGGER:
        out.append(f"the warm-up ({warmup} calls) does not pass a {CALL_COUNT_TRIGGER}-call trigger")
    failed_router = [r for (i, t), r in results.items() if t == ROUTER and not r.ok]
    failed_reference = [r for (i, t), r in results.items() if t != ROUTER and not r.ok]
    if failed_router:
        out.append(f"{len(failed_router)} router call(s) failed (first: #{failed_router[0].order}: "
                   f"{failed_router[0].error[:160]})")
    if failed_reference:
        out.append(f"{len(failed_reference)} reference call(s) failed (first: #{failed_reference[0].order}: "
                   f"{failed_reference[0].error[:160]})")
    witnessed, answered = integrity
    if answered and witnessed < answered:
        out.append(f"request integrity could not be checked for {answered - witnessed} of {answered} router "
                   "answers: the provider reported no request digest and no envelope verified "
                   "(use a reference that reports one, or --trust-keyset with a signing provider)")
    if reference and not any(t == REFERENCE for (_, t) in results):
        out.append("no reference call was made")
    return out


def limitations(cov: dict[str, Any], canary_wait: float, user_canaries: int) -> list[str]:
    """What no run of this length can cover; stated in the report, not held against the verdict."""
    out = [f"time-window triggers: the battery ran over {cov['span_seconds']} s of the router's uptime; a router "
           "that strikes only in other windows (hours later, office hours) was not exercised",
           f"canary use is watched for {canary_wait:g} s after the last call; a harvester that waits longer is "
           "not seen by this run",
           "keyword triggers are covered only for the project words the battery uses: "
           + ", ".join(cov["keywords"][:12]) + ("…" if len(cov["keywords"]) > 12 else ""),
           "tool-name triggers are covered for: " + ", ".join(TOOL_NAMES)]
    if user_canaries:
        out.append(f"{user_canaries} canary value(s) of your own were planted: their use shows up only at your "
                   "canary service")
    return out
