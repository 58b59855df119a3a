"""Undo obfuscation before any rule runs.

``relayguard.shell`` already removes quoting (``c''url``, ``"cu"rl``,
``\\c\\u\\r\\l``), ANSI-C strings, ``$IFS`` and literal variable indirection
(``a=cu; b=rl; $a$b``).  This module adds what a parser cannot know:

* invisible characters (zero-width, bidi controls, soft hyphen) are removed
  from a script and counted, so ``cu\\u200brl`` reads ``curl`` and the trick
  itself can be reported;
* homoglyphs: :func:`skeleton` maps lookalike letters (Cyrillic ``а``, Greek
  ``ο``, fullwidth, accented) to ASCII, so a non-ASCII host, package or
  command name can be recognised for what it imitates;
* shell expansions a static parser leaves unresolved: ``${VAR:-default}``
  (read as its default, the value the author meant) and brace expansion
  (``{curl,-s,x}`` is ``curl -s x``), as extra *variants* of the script: the
  screen judges the original and every variant;
* encoded payloads: base64, hex (``\\x63``, ``63 75``), rot13.

Everything here runs on attacker-controlled text: regular expressions are
RE2 (linear time) and every output is bounded.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import unicodedata
from functools import lru_cache

import re2

__all__ = [
    "decode_base64", "decode_hex", "has_homoglyph", "rot13", "shell_variants", "skeleton",
    "strip_invisible",
]

# Zero-width and formatting characters that render as nothing, bidi controls
# that reorder what is shown, and the soft hyphen.
_INVISIBLE = frozenset(
    [0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E, 0x3164, 0xFEFF, 0xFFA0]
    + list(range(0x200B, 0x2010)) + list(range(0x202A, 0x202F)) + list(range(0x2060, 0x2070))
    + list(range(0xFE00, 0xFE10)) + list(range(0xE0000, 0xE0080))
)
_INVISIBLE_TABLE = {cp: None for cp in _INVISIBLE}


def strip_invisible(text: str) -> tuple[str, int]:
    """``text`` without invisible characters, and how many were removed."""
    if text.isascii():
        return text, 0
    cleaned = text.translate(_INVISIBLE_TABLE)
    return cleaned, len(text) - len(cleaned)


# Letters that look like ASCII ones (the common part of Unicode's confusables
# list: Cyrillic, Greek, Armenian, Latin extensions).  NFKC handles fullwidth
# and mathematical letters; accents are dropped after NFKD.
_CONFUSABLE = str.maketrans({
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "ԑ": "e", "г": "r", "һ": "h", "і": "i", "ї": "i",
    "ј": "j", "к": "k", "ӏ": "l", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "ѕ": "s",
    "т": "t", "у": "y", "х": "x", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ь": "b", "ү": "y", "ɡ": "g",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J", "Ү": "Y", "Ԛ": "Q", "Ԝ": "W",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "ω": "w", "γ": "y", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z",
    "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y",
    "Χ": "X",
    # Armenian and Latin extensions
    "օ": "o", "ս": "u", "ց": "g", "հ": "h", "ո": "n", "ı": "i", "ɑ": "a", "ɩ": "i", "ʟ": "l",
    "ǀ": "l", "ℓ": "l", "ꓲ": "l", "ɪ": "i", "ʀ": "r", "ᴅ": "d", "ꜱ": "s", "ᴠ": "v", "ᴡ": "w",
    "–": "-", "‐": "-", "‑": "-", "‒": "-", "—": "-", "−": "-", "．": ".", "。": ".", "／": "/",
})


@lru_cache(maxsize=4096)
def skeleton(text: str) -> str:
    """What ``text`` looks like, in ASCII where a lookalike exists."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKC", text).translate(_CONFUSABLE)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def has_homoglyph(word: str) -> bool:
    """True when ``word`` is not ASCII but its lookalike skeleton has ASCII letters
    in the places that matter: it imitates an ASCII name."""
    if word.isascii():
        return False
    sk = skeleton(word)
    return sk != word and sum(c.isascii() for c in sk) * 2 >= len(sk)


# --- shell expansions a static parser leaves open ----------------------------------------

_DEFAULT = re2.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?[-=]([^{}$`'\"]*)\}")
_BRACE_ITEM = r"""(?:[^\s'"{}()|;&<>,]|'[^']*'|"[^"]*")*"""
_BRACE_WORD = re2.compile(r"[^\s'\"{}()|;&<>]*\{" + _BRACE_ITEM + r"(?:," + _BRACE_ITEM + r")+\}"
                          r"[^\s'\"{}()|;&<>]*")
_MAX_VARIANT = 64 * 1024
_MAX_BRACE_ITEMS = 16


def _expand_brace(word: str) -> str:
    """One level of brace expansion, as the shell does it: ``a{b,c}d`` -> ``abd acd``."""
    open_ = word.find("{")
    close = word.rfind("}")
    if open_ < 0 or close < 0:
        return word
    items: list[str] = []
    cur: list[str] = []
    quote = ""
    for ch in word[open_ + 1:close]:  # split on commas outside quotes
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == ",":
            items.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    items = (items + ["".join(cur)])[:_MAX_BRACE_ITEMS]
    head, tail = word[:open_], word[close + 1:]
    return " ".join(head + item + tail for item in items)


def shell_variants(script: str) -> list[str]:
    """Readings of ``script`` with ``${VAR:-default}`` replaced by its default and
    brace words expanded; empty when there is nothing to expand."""
    out: list[str] = []
    text = script
    if "${" in text:
        text = _DEFAULT.sub(lambda m: m.group(1), text)
    if "{" in text and "," in text:
        text = _BRACE_WORD.sub(lambda m: _expand_brace(m.group(0)), text)
    if text != script and len(text) <= _MAX_VARIANT:
        out.append(text)
    return out


# --- encoded payloads ----------------------------------------------------------------------

_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_")
_HEX_CHARS = frozenset("0123456789abcdefABCDEF")
MAX_DECODED = 64 * 1024


def _texty(data: bytes) -> str | None:
    """``data`` as text when it is mostly printable (a script, not a binary);
    UTF-16-LE is tried too (PowerShell's -EncodedCommand)."""
    if not data:
        return None
    for encoding in ("utf-8", "utf-16-le"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        printable = sum(c.isprintable() or c in "\n\r\t" for c in text)
        if printable >= 0.9 * len(text):
            return text
    return None


def decode_base64(text: str) -> str | None:
    """Decode base64 (standard or URL-safe, whitespace ignored) to text, or None."""
    s = "".join(text.split())
    if len(s) < 4 or len(s) > 4 * MAX_DECODED // 3 or not all(c in _B64_CHARS for c in s):
        return None
    s = s.replace("-", "+").replace("_", "/").rstrip("=")
    s += "=" * (-len(s) % 4)
    try:
        raw = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        return None
    return _texty(raw)


def decode_hex(text: str) -> str | None:
    """Decode ``63757266``, ``63 75 72``, ``\\x63\\x75`` or ``0x63,0x75`` to text, or None."""
    s = text.replace("\\x", "").replace("0x", "").replace("\\X", "")
    s = "".join(c for c in s if c not in " \t\r\n,:")
    if len(s) < 4 or len(s) % 2 or len(s) > 2 * MAX_DECODED or not all(c in _HEX_CHARS for c in s):
        return None
    return _texty(bytes.fromhex(s))


def rot13(text: str) -> str:
    return codecs.decode(text[:MAX_DECODED], "rot13")
