"""Word text: program names, quote removal, escapes, ANSI-C strings, field splitting."""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=2048)
def program_name(word: str) -> str:
    """``/usr/bin/Python3.exe`` -> ``python3``: basename, lower case, no .exe."""
    slash = max(word.rfind("/"), word.rfind("\\"))
    name = word[slash + 1:].lower() if slash >= 0 else word.lower()
    if name.endswith(".exe"):
        name = name[:-4]
    return name


_UNQUOTED_ESCAPE = re.compile(r"\\(.)", re.S)
_DQ_ESCAPE = re.compile(r'\\([$`"\\\n])')
_GLOB_CHARS = re.compile(r"[*?\[{]")


def _unescape_unquoted(text: str) -> str:
    if "\\" not in text:
        return text
    return _UNQUOTED_ESCAPE.sub(lambda m: "" if m.group(1) == "\n" else m.group(1), text)


def _unescape_dq(text: str) -> str:
    if "\\" not in text:
        return text
    return _DQ_ESCAPE.sub(lambda m: "" if m.group(1) == "\n" else m.group(1), text)


_ANSI_SIMPLE = {"a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n",
                "r": "\r", "t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}


def decode_ansi_c(text: str) -> str:
    """Decode the escapes of a ``$'...'`` string (also printf / echo -e)."""
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        e = text[i + 1]
        i += 2
        if e in _ANSI_SIMPLE:
            out.append(_ANSI_SIMPLE[e])
        elif e in "01234567":
            j = i
            while j < n and j < i + 2 and text[j] in "01234567":
                j += 1
            out.append(chr(int(text[i - 1:j], 8) & 0xFF))
            i = j
        elif e in "xuU":
            limit = {"x": 2, "u": 4, "U": 8}[e]
            j = i
            while j < n and j < i + limit and text[j] in "0123456789abcdefABCDEF":
                j += 1
            if j == i:
                out.append("\\" + e)
            else:
                code = int(text[i:j], 16)
                out.append(chr(code) if code <= 0x10FFFF else "\ufffd")
            i = j
        elif e == "c" and i < n:
            out.append(chr(ord(text[i]) & 0x1F))
            i += 1
        else:
            out.append("\\" + e)
    return "".join(out)


def _only_continuations(src: bytes, start: int, end: int) -> bool:
    """Is src[start:end] one or more backslash-newlines and nothing else?"""
    gap = end - start
    if gap < 2 or gap % 2:
        return False
    return src[start:end] == b"\\\n" * (gap // 2)


class _Fields:
    """Accumulates the fields one shell word expands to."""

    __slots__ = ("fields", "parts", "have", "unresolved", "glob")

    def __init__(self) -> None:
        self.fields: list[str] = []
        self.parts: list[str] = []
        self.have = False
        self.unresolved = False
        self.glob = False

    def lit(self, text: str) -> None:
        self.parts.append(text)
        self.have = True

    def finish(self) -> None:
        if self.have:
            self.fields.append("".join(self.parts))
        self.parts = []
        self.have = False

    def split(self, text: str) -> None:
        """Unquoted expansion result: field-split on whitespace."""
        if not text:
            return
        pieces = text.split()
        if not pieces:
            self.finish()
            return
        if text[0].isspace():
            self.finish()
        self.lit(pieces[0])
        for piece in pieces[1:]:
            self.finish()
            self.lit(piece)
        if text[-1].isspace():
            self.finish()

    def done(self) -> list[str]:
        self.finish()
        return self.fields
