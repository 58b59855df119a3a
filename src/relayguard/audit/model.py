"""The auditor's data: planned steps, call results, findings.

Everything here is plain data that round-trips through JSON, so a run's state
file can hold it and a resumed run can judge calls made before it started.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

ROUTER, REFERENCE, REFERENCE_AGAIN = "router", "reference", "reference-again"

# The check names a finding can carry (the JSON report's "check").
FIDELITY = "tool-call-fidelity"
SCREENING = "screening"
REQUEST_INTEGRITY = "request-integrity"
RESPONSE_INTEGRITY = "response-integrity"
ENVELOPE_STRIPPED = "envelope-stripped"
ENVELOPE_UNVERIFIED = "envelope-unverified"
CANARY_USED = "canary-used"
MODEL_SUBSTITUTION = "model-substitution"
MODEL_LABEL = "model-label"


@dataclass(frozen=True)
class Step:
    """One planned request, sent to each of ``targets`` with the same bytes."""

    index: int
    phase: str  # "warm-up" | "battery" | "probe"
    dialect: str
    persona: str  # fingerprints.PERSONAS key
    project: str  # fingerprints.PROJECTS key, or "" for none
    tool: str  # the shell tool's name as declared
    task: str  # battery.TASKS key, or a probe id ("probe:whoami", ...)
    stream: bool
    targets: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "targets": list(self.targets)}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "Step":
        return cls(**{**obj, "targets": tuple(obj["targets"])})


@dataclass
class ToolUse:
    name: str
    arguments_raw: str
    arguments: Any  # parsed JSON, None when the text is not JSON


@dataclass
class CallResult:
    """What one call to one target came back with (bounded; see transport.MAX_TEXT)."""

    step: int
    target: str
    order: int  # 1-based position among all calls of the run
    sent_at: float
    elapsed_ms: int
    request_sha256: str  # digest of the bytes the auditor sent
    ok: bool = False
    status: int = 0
    error: str = ""
    model: str = ""
    text: str = ""
    tool_calls: list[ToolUse] = field(default_factory=list)
    finish_reason: str = ""
    tokens: int = 0  # input + output, from the reply's usage or an estimate
    reported_sha256: str | None = None  # the provider's digest of what it received, when it reports one
    envelope: str = "absent"  # absent | verified | unchecked | an envelope error code
    envelope_detail: str = ""
    screening: list[dict[str, Any]] = field(default_factory=list)  # per tool call: verdict, rules, message

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "CallResult":
        calls = [ToolUse(**c) for c in obj.get("tool_calls") or []]
        return cls(**{**obj, "tool_calls": calls})


@dataclass
class Hit:
    """A request the canary listener received."""

    ts: float
    method: str
    path: str
    token: str  # the canary token in the path, "" when none
    user_agent: str
    remote: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Finding:
    """One kind of evidence, with every call it was seen in.

    ``proof``: the finding alone proves the router dishonest (verdict malicious);
    otherwise it keeps the verdict from "clean" (inconclusive)."""

    check: str
    evidence: str
    proof: bool
    instances: list[dict[str, Any]] = field(default_factory=list)  # {"call": order, "step": i, "detail": str}
    first_call: int | None = None  # how many calls the run had made when this was first seen

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
