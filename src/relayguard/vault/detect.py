"""Secret detection engine: a cheap prefilter, then only the rules that may match.

How a scan works (linear in the input):

1. The text is bounded (``MAX_SCAN`` characters) and turned into an ASCII view with
   ``str.encode("ascii", "replace")``: each non-ASCII character becomes one ``?``, so offsets
   in the view are character offsets in the ``str`` and every secret format (all ASCII) is
   unchanged.
2. Prefilter, one pass each: RE2's FilteredRE2 (``re2.Filter``) reduces every rule trigger
   that carries a literal of 3+ characters (``ghp_``, ``sk-ant-``, ``-----BEGIN``, ``wallet``,
   ``token``…) to a case-insensitive literal set; the handful of triggers with no such literal
   (plain runs: 51 base58 characters, a dozen short words, ``SK`` + 32 hex…) form one small
   ``re2.Set``. Text with no candidate ends here.
3. Each rule that may match runs its own compiled RE2 pattern (linear; literal prefixes are
   found with memchr) over the view; each candidate is boundary-checked and confirmed by the
   rule's check (checksums, entropy, placeholder and context tests on a bounded window).
4. Candidates overlapping a vault placeholder are dropped; overlapping candidates are resolved
   (longer wins, then the more specific rule, then the rule listed first); allowed kinds are
   removed last, so allowing a kind never lets a less specific rule report the same bytes.

The compiled rules are shared by every detector; RE2 objects are thread-safe.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass

import re2

from .rules import KINDS, RULES, Rule

__all__ = [
    "KINDS",
    "MAX_SCAN",
    "PLACEHOLDER_RE",
    "SecretDetector",
    "SecretMatch",
    "detector",
    "make_placeholder",
]

MAX_SCAN = 16 * 1024 * 1024  # characters; larger input raises ValueError

# Placeholders the vault puts in place of a secret: RG_SECRET_<KIND>_<8 hex>, e.g.
# RG_SECRET_OPENAI_PROJECT_KEY_3f9a1c2b. Plain ASCII identifier characters, so models copy them
# verbatim and shells, JSON and URLs carry them unquoted; the kind is upper case and the digest
# lower-case hex, so the two never blur.
# An RE2 pattern (linear on model output): group 1 is the kind, group 2 the digest.
PLACEHOLDER_RE = re2.compile(r"RG_SECRET_([A-Z0-9]+(?:_[A-Z0-9]+)*)_([0-9a-f]{8})")
_PLACEHOLDER_RE2 = PLACEHOLDER_RE
_PLACEHOLDER_MARK = "RG_SECRET_"
_HEX = frozenset("0123456789abcdef")


def make_placeholder(kind: str, digest8: str) -> str:
    """The placeholder for a secret of ``kind`` whose digest starts with ``digest8``."""
    if not kind or not all(c.isascii() and (c.isalnum() or c == "_") for c in kind):
        raise ValueError(f"bad kind for a placeholder: {kind!r}")
    if len(digest8) != 8 or not set(digest8) <= _HEX:
        raise ValueError("digest8 must be 8 lower-case hex digits")
    parts = kind.upper().split("_")
    if any(not p for p in parts):
        raise ValueError(f"bad kind for a placeholder: {kind!r}")
    return f"RG_SECRET_{'_'.join(parts)}_{digest8}"


@dataclass(frozen=True, slots=True)
class SecretMatch:
    kind: str
    start: int  # character offset into the scanned str
    end: int
    value: str


_SET_OPTIONS = re2.Options()
_SET_OPTIONS.max_mem = 64 << 20  # DFA cache of the small run set (RE2 resets it when full)
_RULE_OPTIONS = re2.Options()
_RULE_OPTIONS.max_mem = 32 << 20


class _Compiled:
    """Compiled form of the rule table, shared by every detector.

    Prefilter, two cheap passes: RE2's FilteredRE2 (``re2.Filter``) reduces every trigger that
    carries a literal of 3+ characters to a substring test and runs all those literals as one
    case-insensitive literal set (a small trie DFA); the few triggers without such a literal
    (plain runs such as 51 base58 characters, short prefixes such as 'SK') go into one
    ``re2.Set``. A rule's own pattern runs only when one of its triggers may match.
    """

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules
        self.regexes = [re2.compile(rule.pattern, _RULE_OPTIONS) for rule in rules]
        # '=' before a value is an assignment, never part of a token (base64 pads at the end)
        self.left_edges = [rule.edge - {"="} for rule in rules]
        flt = re2.Filter()
        entries: list[tuple[int, str]] = []  # (rule index, trigger) in filter order
        for i, rule in enumerate(rules):
            for trigger in rule.triggers:
                flt.Add(trigger, _RULE_OPTIONS)
                entries.append((i, trigger))
        flt.Compile()
        unfiltered = set(flt.Match(b"", True) or ())  # triggers with no literal atom
        self.filter = flt
        self.filter_rule = [-1 if k in unfiltered else i for k, (i, _) in enumerate(entries)]
        self.runs = re2.Set.SearchSet(_SET_OPTIONS)
        self.run_rule: list[int] = []
        for i, trigger in (entries[k] for k in sorted(unfiltered)):
            self.runs.Add(trigger)
            self.run_rule.append(i)
        self.runs.Compile()

    def fired(self, view: bytes) -> set[int]:
        out = {self.filter_rule[k] for k in self.filter.Match(view, True) or ()}
        out.discard(-1)
        for k in self.runs.Match(view) or ():
            out.add(self.run_rule[k])
        return out


_COMPILED: _Compiled | None = None
_LOCK = threading.Lock()


def _compiled() -> _Compiled:
    global _COMPILED
    if _COMPILED is None:
        with _LOCK:
            if _COMPILED is None:
                _COMPILED = _Compiled(RULES)
    return _COMPILED


class SecretDetector:
    """Find credentials in text. ``allow_kinds`` are kinds never reported."""

    def __init__(self, allow_kinds: frozenset[str] = frozenset()) -> None:
        unknown = set(allow_kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown secret kinds: {sorted(unknown)}")
        self.allow_kinds = frozenset(allow_kinds)
        self._c = _compiled()

    def may_contain(self, text: str | bytes) -> bool:
        """The prefilter alone: False means ``scan(text)`` certainly finds nothing.
        It costs one pass over the text, so callers can test many strings joined
        (joining can only add prefilter hits, never hide one)."""
        if len(text) > MAX_SCAN:
            raise ValueError(f"text too long to scan: {len(text)} > {MAX_SCAN} characters")
        view = text if isinstance(text, bytes) else text.encode("ascii", "replace")
        return len(view) >= 8 and bool(self._c.fired(view))

    def scan(self, text: str) -> list[SecretMatch]:
        if not isinstance(text, str):
            raise TypeError("scan() needs a str")
        n = len(text)
        if n > MAX_SCAN:
            raise ValueError(f"text too long to scan: {n} > {MAX_SCAN} characters")
        if n < 8:
            return []
        view = text.encode("ascii", "replace")
        fired = self._c.fired(view)
        if not fired:
            return []
        rules = self._c.rules
        regexes = self._c.regexes
        left_edges = self._c.left_edges
        # (start, end, specificity, rule index, kind)
        cands: list[tuple[int, int, int, int, str]] = []
        for i in sorted(fired):
            rule = rules[i]
            group = rule.group
            edge = rule.edge
            left = left_edges[i]
            check = rule.check
            for m in regexes[i].finditer(view):
                s, e = m.span(group)
                if s < 0 or e <= s:
                    continue
                if edge and ((s > 0 and text[s - 1] in left) or (e < n and text[e] in edge)):
                    continue
                for cs, ce in check(text, m, s, e):
                    cands.append((cs, ce, rule.specificity, i, rule.kind))
        if not cands:
            return []
        if _PLACEHOLDER_MARK in text:
            cands = _drop_placeholders(view, cands)
        chosen = _resolve(cands)
        allow = self.allow_kinds
        return [SecretMatch(kind, s, e, text[s:e]) for s, e, kind in chosen if kind not in allow]


def _drop_placeholders(view: bytes, cands: list[tuple[int, int, int, int, str]]):
    spans = [m.span() for m in _PLACEHOLDER_RE2.finditer(view)]
    if not spans:
        return cands
    starts = [s for s, _ in spans]
    kept = []
    for c in cands:
        s, e = c[0], c[1]
        k = bisect.bisect_left(starts, e)  # placeholders starting before the candidate's end
        if k and spans[k - 1][1] > s:
            continue
        kept.append(c)
    return kept


def _resolve(cands: list[tuple[int, int, int, int, str]]) -> list[tuple[int, int, str]]:
    """Non-overlapping choice: within each cluster of overlapping candidates, longest first,
    then most specific, then earliest rule."""
    cands.sort(key=lambda c: (c[0], -c[1]))
    out: list[tuple[int, int, str]] = []
    i = 0
    total = len(cands)
    while i < total:
        j = i + 1
        cluster_end = cands[i][1]
        while j < total and cands[j][0] < cluster_end:
            if cands[j][1] > cluster_end:
                cluster_end = cands[j][1]
            j += 1
        if j == i + 1:
            s, e, _, _, kind = cands[i]
            out.append((s, e, kind))
        else:
            base = cands[i][0]
            taken = bytearray(cluster_end - base)
            cluster = sorted(cands[i:j], key=lambda c: (c[0] - c[1], -c[2], c[3], c[0]))
            picked = []
            for s, e, _, _, kind in cluster:
                if taken.find(1, s - base, e - base) != -1:
                    continue
                taken[s - base:e - base] = b"\x01" * (e - s)
                picked.append((s, e, kind))
            picked.sort()
            out.extend(picked)
        i = j
    return out


_DEFAULT: SecretDetector | None = None


def detector() -> SecretDetector:
    """The shared default detector (nothing allowed)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = SecretDetector()  # a race only builds a second, identical instance
    return _DEFAULT
