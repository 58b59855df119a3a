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
