"""``relayguard secrets scan [PATH|-]``: report secrets line by line as JSON Lines.

Reads text (a file, or standard input for ``-``), streaming, and writes one line per input line:
``{"line": n, "findings": [{"kind": str, "start": int, "end": int}]}`` with character offsets
into that line (without its line break) and ``n`` counting from 1. Secret values are never
written.

Lines are scanned in batches, not one by one: a private key block spans many lines and is
only recognisable whole, and one scan per batch is much cheaper than one per line. A secret
that spans lines is reported on each line it covers, clipped to that line. Batches overlap by
a tail of whole lines so a secret crossing a batch boundary is seen whole in the next batch.
Memory is bounded: a line longer than ``MAX_LINE`` characters is read and scanned in pieces
(reported under its one line number).
"""

from __future__ import annotations

import codecs
import sys
from collections.abc import Iterator
from typing import IO

import orjson

from .detect import detector

BATCH = 256 * 1024  # characters scanned at once
TAIL = 64 * 1024  # findings starting in the last TAIL characters wait for the next batch
MAX_LINE = 1024 * 1024  # a longer line is read in pieces of this many bytes/characters


class _Segment:
    """A piece of one input line: the whole line, or a part of a very long one."""

    __slots__ = ("line", "col", "text", "last", "found")

    def __init__(self, line: int, col: int, text: str, last: bool) -> None:
        self.line = line  # 1-based line number
        self.col = col  # column of text[0] within the line
        self.text = text
        self.last = last  # the line ends with this piece
        self.found: list[tuple[int, int, str]] = []  # line-relative findings


def _segments(stream: IO) -> Iterator[_Segment]:
    """Split a binary or text stream into bounded pieces of lines (only \\n ends a line)."""
    binary = hasattr(stream, "buffer") or isinstance(stream.read(0), bytes)
    raw_stream = getattr(stream, "buffer", stream) if binary else stream
    decoder = codecs.getincrementaldecoder("utf-8")("replace") if binary else None
    line = 1
    col = 0
    while True:
        raw = raw_stream.readline(MAX_LINE)
        if not raw:
            break
        text = decoder.decode(raw) if decoder is not None else raw
        if text.endswith("\n"):
            text = text[:-1]
            if text.endswith("\r"):
                text = text[:-1]
            yield _Segment(line, col, text, True)
            line += 1
            col = 0
        else:  # a piece of a long line, or the last line without a line break
            yield _Segment(line, col, text, False)
            col += len(text)
    if decoder is not None:
        rest = decoder.decode(b"", final=True)
        if rest:
            yield _Segment(line, col, rest, False)
            col += len(rest)
    if col:  # the last line had no line break
        yield _Segment(line, col, "", True)


class _Writer:
    def __init__(self, out: IO, flush_each: bool) -> None:
        self.out = out
        self.flush_each = flush_each
        self.line = 0
        self.found: list[tuple[int, int, str]] = []

    def add(self, seg: _Segment) -> None:
        self.found.extend(seg.found)
        if seg.last:
            self.found.sort()
            record = {"line": seg.line,
                      "findings": [{"kind": k, "start": s, "end": e} for s, e, k in self.found]}
            self.out.write(orjson.dumps(record).decode() + "\n")
            if self.flush_each:
                self.out.flush()
            self.found = []


def _scan_batch(segs: list[_Segment], final: bool, carried: list[tuple[int, int]], base: int,
                writer: _Writer) -> tuple[list[_Segment], list[tuple[int, int]], int]:
    """Scan ``segs`` (global offset ``base``), emit what is settled, return what carries over."""
    starts = []
    parts = []
    pos = 0
    for seg in segs:
        starts.append(pos)
        parts.append(seg.text)
        pos += len(seg.text)
        if seg.last:
            parts.append("\n")
            pos += 1
    text = "".join(parts)
    cut = len(text)
    if not final:
        limit = len(text) - TAIL
        k = next((i for i, st in enumerate(starts) if st >= limit and i > 0), len(segs))
        cut = starts[k] if k < len(segs) else len(text)
    keep = len(segs)
    for i, st in enumerate(starts):
        if st >= cut:
            keep = i
            break
    new_carried: list[tuple[int, int]] = []
    for m in detector().scan(text):
        s, e = m.start, m.end
        if s >= cut:
            continue  # seen again, whole, in the next batch
        gs, ge = base + s, base + e
        if any(cs < ge and gs < ce for cs, ce in carried):
            continue  # the previous batch already reported this stretch
        if e > cut:
            new_carried.append((gs, ge))
        for i, seg in enumerate(segs):
            ss = starts[i]
            se = ss + len(seg.text)
            lo, hi = max(s, ss), min(e, se)
            if lo < hi:
                seg.found.append((lo - ss + seg.col, hi - ss + seg.col, m.kind))
    for seg in segs[:keep]:
        writer.add(seg)
    carried = [(cs, ce) for cs, ce in carried + new_carried if ce > base + cut]
    return segs[keep:], carried, base + cut


def run_scan(path: str | None = "-") -> int:
    """Scan ``path`` (``-`` or None: standard input) and write JSON Lines to standard output."""
    if path in (None, "", "-"):
        stream: IO = sys.stdin
        close = False
    else:
        try:
            stream = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            print(f"relayguard secrets scan: {exc}", file=sys.stderr)
            return 2
        close = True
    writer = _Writer(sys.stdout, flush_each=not close)
    try:
        pending: list[_Segment] = []
        size = 0
        carried: list[tuple[int, int]] = []
        base = 0
        for seg in _segments(stream):
            pending.append(seg)
            size += len(seg.text) + 1
            if size >= BATCH:
                pending, carried, base = _scan_batch(pending, False, carried, base, writer)
                size = sum(len(s.text) + 1 for s in pending)
        if pending:
            _scan_batch(pending, True, carried, base, writer)
    finally:
        if close:
            stream.close()
    sys.stdout.flush()
    return 0
