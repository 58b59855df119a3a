"""How a received response differs from a signed envelope (docs/envelope.md,
"Verification"), and the digests both sides compute.

Kept apart from ``relayguard.envelope`` (which re-exports what callers need) so
that each module stays small; this one imports nothing from it at run time.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, NamedTuple

from relayguard.envelope_jcs import MAX_SAFE, canonical, canonical_text
from relayguard.exchange import Response, ToolCall

if TYPE_CHECKING:
    from relayguard.envelope import Envelope, SignedToolCall


class Difference(NamedTuple):
    field: str  # model | text | finish_reason | tool_calls | tool_call.id | tool_call.name | tool_call.arguments
    tool_call: str | None  # the received ToolCall.id it is about, None when none was received
    message: str


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _utf8(text: str) -> bytes:
    # Unpaired surrogates (from \ud800-style escapes in a JSON body) encode as WTF-8.
    return text.encode("utf-8", "surrogatepass")


def text_digest(text: str) -> str:
    return sha256_hex(_utf8(text))


def arguments_digest(raw_arguments: str) -> str:
    """SHA-256 of the canonical arguments, or of the raw text when it is not I-JSON."""
    canon = canonical_text(raw_arguments)
    return sha256_hex(canon if canon is not None else _utf8(raw_arguments))


def _is_simple(value: Any) -> bool:
    """True when orjson with sorted keys writes ``value`` exactly as RFC 8785 does."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            for name in item:
                # isascii() is a flag check in C: most keys skip the max() scan.
                if name and not name.isascii() and max(name) >= "\ue000":
                    return False
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        elif kind is int:
            if not -MAX_SAFE <= item <= MAX_SAFE:
                return False
        elif kind not in (str, bool, type(None)):
            return False  # floats (and anything exotic) take the reference path
    return True



def _show(text: str, limit: int = 80) -> str:
    """An attacker-chosen string made safe and short for a message."""
    if text and len(text) <= limit and text.isprintable() and " " not in text:
        return text
    return repr(text[:limit]) + ("..." if len(text) > limit else "")


def _arguments_differ(signed: SignedToolCall, received: ToolCall) -> bool:
    raw = received.raw_arguments
    if signed.arguments_sha256 is not None:
        return arguments_digest(raw) != signed.arguments_sha256
    if signed.arguments_raw is not None:
        return raw != signed.arguments_raw
    got = canonical_text(raw)
    try:
        return got is None or got != canonical(signed.arguments, _is_simple(signed.arguments))
    except ValueError:
        return True


def _pair_by_id(signed: tuple[SignedToolCall, ...], received: list[ToolCall],
                out: list[Difference]) -> list[tuple[SignedToolCall, ToolCall]]:
    queues: dict[str, list[SignedToolCall]] = {}
    for call in signed:
        queues.setdefault(call.id, []).append(call)
    pairs = []
    for call in received:
        queue = queues.get(call.id)
        if queue:
            pairs.append((queue.pop(0), call))
        else:
            out.append(Difference("tool_calls", call.id, f"tool call {_show(call.id)} added"))
    for queue in queues.values():
        out.extend(Difference("tool_calls", None, f"tool call {_show(c.id)} removed") for c in queue)
    return pairs


def compare_response(envelope: Envelope, response: Response) -> list[Difference]:
    """Every way ``response`` differs from the signed envelope (empty: it matches)."""
    out: list[Difference] = []
    if response.model != envelope.model:
        out.append(Difference("model", None, f"model differs: signed {_show(envelope.model)}, "
                                             f"received {_show(response.model)}"))
    if text_digest(response.text) != envelope.text_sha256:
        out.append(Difference("text", None, "text differs"))
    if response.finish_reason != envelope.finish_reason:
        out.append(Difference("finish_reason", None, f"finish_reason differs: signed "
                              f"{_show(envelope.finish_reason)}, received {_show(response.finish_reason)}"))
    signed, received = envelope.tool_calls, response.tool_calls
    s_ids, r_ids = [c.id for c in signed], [c.id for c in received]
    if s_ids == r_ids:
        pairs = list(zip(signed, received))
    elif sorted(s_ids) == sorted(r_ids):
        out.append(Difference("tool_calls", None, "tool calls reordered: signed "
                              f"{', '.join(map(_show, s_ids))}; received {', '.join(map(_show, r_ids))}"))
        pairs = _pair_by_id(signed, received, out)
    elif len(signed) == len(received):
        pairs = list(zip(signed, received))
        for i, (s, r) in enumerate(pairs):
            if s.id != r.id:
                out.append(Difference("tool_call.id", r.id, f"tool call #{i + 1} id differs: signed "
                                      f"{_show(s.id)}, received {_show(r.id)}"))
    else:
        pairs = _pair_by_id(signed, received, out)
    for s, r in pairs:
        if s.name != r.name:
            out.append(Difference("tool_call.name", r.id, f"tool call {_show(r.id)} name differs: "
                                  f"signed {_show(s.name)}, received {_show(r.name)}"))
        if _arguments_differ(s, r):
            out.append(Difference("tool_call.arguments", r.id, f"tool call {_show(r.id)} arguments differ"))
    return out


