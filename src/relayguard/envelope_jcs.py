"""I-JSON parsing and RFC 8785 (JCS) canonical JSON, as envelopes use them.

``parse`` accepts only I-JSON (RFC 7493) texts: no duplicate member names (a
parser differential an attacker could use: one program reads the first value,
another the last), no NaN/Infinity, no integer literal that a double cannot hold
exactly.  Numbers are normalised so that equal doubles are equal Python values
(``1``, ``1.0`` and ``1e0`` all become ``1``).

``canonical`` is RFC 8785.  The ``rfc8785`` package is the reference; orjson
with sorted keys gives the same bytes, many times faster, when the value has no
non-integral or huge numbers and no member name containing a character at or
above U+E000 (where UTF-16 order, which JCS sorts by, differs from code point
order).  ``parse`` reports whether that fast path applies.

``parse_quick`` is ``parse`` for the signer's hot path: orjson plus a check that
the result is what ``parse`` would give, else ``parse`` itself.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson
import rfc8785

MAX_SAFE = 2**53 - 1
MAX_DEPTH = 64  # arguments nested deeper are not I-JSON here (docs/envelope.md, 3.1)


class NotIJSON(ValueError):
    """The text is not I-JSON as envelopes define it."""


def _reject(token: str) -> Any:
    raise NotIJSON(f"{token} is not a JSON number")


def parse(text: str | bytes, *, exact_integers: bool = True, max_depth: int = MAX_DEPTH) -> tuple[Any, bool]:
    """Parse an I-JSON text: returns (value, simple).  Raises NotIJSON, never
    anything else (deep nesting, bad UTF-8 and surrogates included).

    ``exact_integers`` refuses an integer literal a double cannot hold exactly
    (``9007199254740993``): two programs would read it differently.  Canonical
    output itself writes large doubles as such literals (``23592833240746870``),
    so signed payloads are parsed with ``exact_integers=False``.  Arrays and
    objects nest at most ``max_depth`` levels."""
    simple = True

    def p_int(token: str) -> Any:
        nonlocal simple
        value = int(token)
        if -MAX_SAFE <= value <= MAX_SAFE:
            return value
        as_float = float(value)  # OverflowError beyond the double range
        if exact_integers and int(as_float) != value:
            raise NotIJSON("integer not exactly representable as a double")
        simple = False
        return as_float

    def p_float(token: str) -> Any:
        nonlocal simple
        value = float(token)
        if not math.isfinite(value):
            raise NotIJSON("number out of the double range")
        if value.is_integer() and -MAX_SAFE <= value <= MAX_SAFE:
            return int(value)  # 1.0 -> 1, -0.0 -> 0: one Python value per double
        simple = False
        return value

    def p_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal simple
        obj = dict(pairs)
        if len(obj) != len(pairs):
            raise NotIJSON("duplicate member name")
        if simple:
            for name in obj:
                if name and max(name) >= "\ue000":
                    simple = False
                    break
        return obj

    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        value = json.loads(text, parse_int=p_int, parse_float=p_float, parse_constant=_reject,
                           object_pairs_hook=p_object)
        if (text.count("[") + text.count("{")) > max_depth and _depth(value) > max_depth:
            raise NotIJSON(f"nested deeper than {max_depth} levels")
        _check_strings(value)
    except NotIJSON:
        raise
    except (ValueError, TypeError, RecursionError, OverflowError, MemoryError) as exc:
        raise NotIJSON(str(exc)[:200]) from None
    return value, simple


def parse_quick(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> tuple[Any, bool]:
    """``parse`` with the same result, faster for the common case (the signer's hot path).

    orjson parses in C; the result is used only when a walk over it proves the
    reference parser would return the same value: no float, no integer beyond
    +-(2**53 - 1) (both need ``parse``'s normalisation), nesting within ``max_depth``,
    and no duplicate member name.  orjson keeps the last of duplicate names
    silently, so duplicates are counted instead: every ':' in the text is either
    a member's separator or inside a string, and a string's decoded ':' came from a
    raw ':' unless the text spells one as the escape \\u003a (then: reference path).
    So separators = colons in the text - colons in the decoded strings, and the
    text has a duplicate exactly when that exceeds the members orjson kept.
    Anything orjson refuses (NaN, lone surrogates, bad UTF-8, a BOM) takes the
    reference path too, which raises or returns what it always did."""
    colon, escapes = (":", ("\\u003a", "\\u003A")) if isinstance(text, str) else (b":", (b"\\u003a", b"\\u003A"))
    if escapes[0] in text or escapes[1] in text:
        return parse(text, max_depth=max_depth)
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return parse(text, max_depth=max_depth)
    walked = _walk(value, max_depth)
    if walked is None:
        return parse(text, max_depth=max_depth)
    members, string_colons, simple = walked
    if text.count(colon) - string_colons != members:  # type: ignore[arg-type]
        return parse(text, max_depth=max_depth)  # a duplicate member name: the reference refuses it
    return value, simple


def _walk(value: Any, max_depth: int) -> tuple[int, int, bool] | None:
    """(members, ':' in decoded strings, simple) of an orjson value, or None when only
    the reference parser may judge it (a float, a big integer, too deep)."""
    members = colons = 0
    simple = True
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if type(item) is dict:
            members += len(item)
            for name in item:
                colons += name.count(":")
                # isascii() is a flag check in C: most names skip the max() scan.
                if simple and not name.isascii() and max(name) >= "\ue000":
                    simple = False
            children = item.values()
        elif type(item) is list:
            children = item
        else:
            children = (item,)
            depth -= 1  # a scalar at the top: nothing nests
        depth += 1
        if depth > max_depth:
            return None
        for child in children:
            kind = type(child)
            if kind is str:
                colons += child.count(":")
            elif kind is int:
                if not -MAX_SAFE <= child <= MAX_SAFE:
                    return None
            elif kind is dict or kind is list:
                stack.append((child, depth))
            elif kind is not bool and child is not None:
                return None  # a float (1.0, 1e2, 0.5): the reference normalises or marks it
    return members, colons, simple


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth + 1)
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def _check_strings(value: Any) -> None:
    """Refuse unpaired surrogates (not Unicode, so not I-JSON)."""
    try:
        orjson.dumps(value)
    except orjson.JSONEncodeError:
        raise NotIJSON("unpaired surrogate in a string") from None


def canonical(value: Any, simple: bool = False) -> bytes:
    """RFC 8785 bytes of a parsed value (``simple`` as ``parse`` reported it).
    Raises ValueError for values JCS cannot represent."""
    if simple:
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError as exc:
            raise ValueError(str(exc)) from None
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, RecursionError) as exc:
        raise ValueError(str(exc)[:200]) from None


def canonical_text(text: str | bytes) -> bytes | None:
    """RFC 8785 bytes of a JSON text, or None when it is not I-JSON."""
    try:
        value, simple = parse(text)
        return canonical(value, simple)
    except ValueError:
        return None
