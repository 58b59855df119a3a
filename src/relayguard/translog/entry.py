"""The log entry: a compact, deterministic binary record of one exchange (format version 1).

An entry holds digests and metadata, never secret values, prompts or finding messages
(a message may quote what it found).  Layout, in order (``uvar`` is unsigned LEB128, minimal;
``str`` is ``uvar`` byte length + UTF-8, at most 255 bytes; ``h32`` is a raw SHA-256 digest)::

    u8    version                  1
    uvar  time_ms                  exchange start, milliseconds since the Unix epoch (UTC)
    str   exchange                 the exchange id
    str   router                   upstream URL, scheme://host[:port]/path (no userinfo, query, fragment)
    str   session
    u8    dialect                  0 openai-chat, 1 openai-responses, 2 anthropic-messages
    str   model                    the model the client asked for
    str   served_model             the model the upstream says it served
    uvar  status                   upstream HTTP status (0: none)
    u8    verdict                  0 allow, 1 warn, 2 block, 3 error
    u8    flags                    bit 0 streamed, bit 1 a request stage changed the body (vault)
    h32   request_sha256
    h32   response_sha256
    uvar  tool call count, then per call:
          str id, str name, u8 flags (bit 0 shell call, bit 1 arguments not JSON (digest of the
          raw text), bit 2 blocked, bit 3 rewritten locally), h32 arguments_sha256
    uvar  finding count, then per finding:
          str rule, u8 severity (0 info, 1 warn, 2 block),
          uvar tool_call (0 none; k in 1..calls: the k-th tool call; calls+1: followed by a str id)

``arguments_sha256`` is SHA-256 of the RFC 8785 canonical JSON of the arguments *as the upstream
returned them* (so it matches a provider-signed envelope), or of the raw text when that is not
JSON.  Decoding is strict (exact length, minimal varints, valid UTF-8, known codes), so one
record has exactly one encoding.
"""

from __future__ import annotations

from hashlib import sha256
import time
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Sequence
from urllib.parse import urlsplit, urlunsplit

import orjson
import rfc8785

from relayguard.exchange import Exchange
from relayguard.translog.errors import EntryError

VERSION = 1
MAX_STR = 255

DIALECT_CODES = {"openai-chat": 0, "openai-responses": 1, "anthropic-messages": 2}
DIALECT_NAMES = {v: k for k, v in DIALECT_CODES.items()}
VERDICT_CODES = {"allow": 0, "warn": 1, "block": 2, "error": 3}
VERDICT_NAMES = {v: k for k, v in VERDICT_CODES.items()}
SEVERITY_CODES = {"info": 0, "warn": 1, "block": 2}
SEVERITY_NAMES = {v: k for k, v in SEVERITY_CODES.items()}

F_STREAM, F_REQUEST_CHANGED = 1, 2
TC_SHELL, TC_RAW, TC_BLOCKED, TC_REWRITTEN = 1, 2, 4, 8


# -- primitives ------------------------------------------------------------------------------------

def uvarint(n: int) -> bytes:
    if not 0 <= n < 1 << 63:
        raise EntryError(f"number {n} out of range for an entry (0 <= n < 2**63)")
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def read_uvarint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, next position); rejects truncated and non-minimal encodings."""
    try:
        b = data[pos]
    except IndexError:
        raise EntryError("entry ends inside a number") from None
    if b < 0x80:
        return b, pos + 1
    value = b & 0x7F
    shift = 7
    pos += 1
    while True:
        try:
            b = data[pos]
        except IndexError:
            raise EntryError("entry ends inside a number") from None
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            if b == 0:
                raise EntryError("non-minimal number in entry")
            if value >= 1 << 63:
                raise EntryError("number too large in entry")
            return value, pos
        shift += 7
        if shift > 63:
            raise EntryError("number too large in entry")


def _utf8(text: str | None) -> bytes:
    """UTF-8 of ``text`` cut to at most MAX_STR bytes at a character boundary."""
    if not text:
        return b""
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        raw = text.encode("utf-8", "replace")
    if len(raw) > MAX_STR:
        raw = raw[:MAX_STR].decode("utf-8", "ignore").encode("utf-8")
    return raw


def clip(text: str | None) -> str:
    """``text`` as an entry stores it: at most 255 UTF-8 bytes, cut at a character boundary."""
    return _utf8(text).decode("utf-8")


_LEN = [bytes((n,)) for n in range(0x80)]


def _str(text: str | None) -> bytes:
    raw = _utf8(text)
    n = len(raw)
    return (_LEN[n] if n < 0x80 else uvarint(n)) + raw


@lru_cache(maxsize=256)
def normalize_router(url: str | None) -> str:
    """The router's URL as the log records it: no userinfo, query or fragment (they can hold keys)."""
    if not url:
        return ""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        if ":" in host:
            host = f"[{host}]"
        netloc = host if parts.port is None else f"{host}:{parts.port}"
        out = urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), "", ""))
    except ValueError:
        out = url.split("?", 1)[0].split("#", 1)[0]
    return clip(out)


# -- encoding --------------------------------------------------------------------------------------

def encode_entry(*, time_ms: int, exchange: str, router: str, session: str, dialect: str,
                 model: str, served_model: str, status: int, verdict: str, stream: bool,
                 request_changed: bool, request_sha256: bytes, response_sha256: bytes,
                 tool_calls: Sequence[tuple[str, str, int, bytes]] = (),
                 findings: Sequence[tuple[str, str, str | None]] = ()) -> bytes:
    """Encode one entry.  ``tool_calls``: (id, name, TC_* flags, arguments_sha256);
    ``findings``: (rule, severity, tool_call id or None).  Strings over 255 UTF-8 bytes are
    cut at a character boundary; a finding's tool call id is stored as a reference when it
    names one of ``tool_calls``.  ``router`` is stored as given (``entry_from_exchange``
    normalises it)."""
    try:
        out = [_VERSION_BYTE, uvarint(time_ms), _str(exchange), _str(router), _str(session),
               _LEN[DIALECT_CODES[dialect]], _str(model), _str(served_model), uvarint(status),
               _LEN[VERDICT_CODES[verdict]],
               _LEN[(F_STREAM if stream else 0) | (F_REQUEST_CHANGED if request_changed else 0)]]
    except KeyError as exc:
        raise EntryError(f"unknown dialect or verdict {exc.args[0]!r}") from None
    if len(request_sha256) != 32 or len(response_sha256) != 32:
        raise EntryError("request and response digests must be 32-byte SHA-256 digests")
    out += (request_sha256, response_sha256, uvarint(len(tool_calls)))
    refs: dict[bytes, int] = {}
    for n, (call_id, name, flags, digest) in enumerate(tool_calls, 1):
        if len(digest) != 32 or not 0 <= flags < 16:
            raise EntryError("a tool call needs flags in 0..15 and a 32-byte arguments digest")
        raw_id = _str(call_id)
        out += (raw_id, _str(name), _LEN[flags], digest)
        refs.setdefault(raw_id, n)
    out.append(uvarint(len(findings)))
    for rule, severity, call_id in findings:
        try:
            out += (_str(rule), _LEN[SEVERITY_CODES[severity]])
        except KeyError:
            raise EntryError(f"unknown severity {severity!r}") from None
        if call_id is None:
            out.append(b"\x00")
        else:
            raw_id = _str(call_id)
            ref = refs.get(raw_id)
            out += (uvarint(ref),) if ref is not None else (uvarint(len(tool_calls) + 1), raw_id)
    return b"".join(out)


_VERSION_BYTE = bytes((VERSION,))


def arguments_digest(raw_arguments: str) -> tuple[bytes, bool]:
    """(SHA-256 of the arguments, whether the raw text was hashed).  The proxy
    hashes the raw text the client received (canonicalising on the hot path cost
    more than the rest of the entry); ``canonical_arguments_digest`` is the
    canonical form, for comparing with a signed envelope offline."""
    return sha256(raw_arguments.encode("utf-8", "surrogatepass")).digest(), True


def canonical_arguments_digest(raw_arguments: str) -> tuple[bytes, bool]:
    """(SHA-256 of the RFC 8785 canonical arguments, or of the raw text when not JSON)."""
    try:
        value = orjson.loads(raw_arguments)
    except orjson.JSONDecodeError:
        value = _RAW
    if value is not _RAW:
        try:
            return sha256(_canonical(value)).digest(), False
        except Exception:  # noqa: BLE001 - e.g. an integer outside the I-JSON range
            pass
    return sha256(raw_arguments.encode("utf-8", "surrogatepass")).digest(), True


_RAW = object()


def _canonical(value: Any) -> bytes:
    return rfc8785.dumps(value)


def entry_from_exchange(exchange: Exchange, *, request_sha256: bytes | None = None,
                        response_sha256: bytes | None = None, time_ms: int | None = None) -> bytes:
    """The log entry for one finished exchange.

    Defaults: ``request_sha256`` is SHA-256 of the request bytes the client sent
    (``exchange.request.raw``; pass the digest of the bytes actually forwarded when a request
    stage rewrote them), ``response_sha256`` of ``exchange.response.raw`` (the body, or the
    whole SSE stream, as the upstream sent it), ``time_ms`` the exchange's start time.
    """
    req, resp = exchange.request, exchange.response
    calls = []
    for call in resp.tool_calls:
        digest, raw = arguments_digest(call.raw_arguments)
        flags = ((TC_SHELL if call.kind == "shell" else 0) | (TC_RAW if raw else 0)
                 | (TC_BLOCKED if call.blocked_reason is not None else 0)
                 | (TC_REWRITTEN if call.new_raw_arguments is not None else 0))
        calls.append((call.id, call.name, flags, digest))
    findings = [(f.rule, f.severity if f.severity in SEVERITY_CODES else "info", f.tool_call)
                for f in exchange.findings]
    started = exchange.timing.started or time.time()
    return encode_entry(
        time_ms=round(started * 1000) if time_ms is None else time_ms,
        exchange=exchange.id, router=normalize_router(exchange.upstream), session=exchange.session,
        dialect=req.dialect, model=req.model, served_model=resp.model, status=max(0, int(resp.status or 0)),
        verdict=exchange.verdict().value, stream=bool(req.stream), request_changed=bool(req.body_changed),
        request_sha256=request_sha256 or sha256(req.raw).digest(),
        response_sha256=response_sha256 or sha256(resp.raw).digest(),
        tool_calls=calls, findings=findings)


# -- decoding --------------------------------------------------------------------------------------

class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def u8(self) -> int:
        try:
            b = self.data[self.pos]
        except IndexError:
            raise EntryError("entry is truncated") from None
        self.pos += 1
        return b

    def uvar(self) -> int:
        value, self.pos = read_uvarint(self.data, self.pos)
        return value

    def str(self) -> str:
        n = self.uvar()
        if n > MAX_STR:
            raise EntryError("string too long in entry")
        end = self.pos + n
        if end > len(self.data):
            raise EntryError("entry is truncated")
        try:
            text = self.data[self.pos:end].decode("utf-8")
        except UnicodeDecodeError:
            raise EntryError("string in entry is not UTF-8") from None
        self.pos = end
        return text

    def h32(self) -> bytes:
        end = self.pos + 32
        if end > len(self.data):
            raise EntryError("entry is truncated")
        value = self.data[self.pos:end]
        self.pos = end
        return value

    def code(self, names: dict[int, str], what: str) -> str:
        code = self.u8()
        try:
            return names[code]
        except KeyError:
            raise EntryError(f"unknown {what} code {code} in entry") from None


def iso_time(time_ms: int) -> str | None:
    """ISO 8601 UTC with milliseconds; None for a time no datetime can hold."""
    try:
        stamp = datetime.fromtimestamp(time_ms / 1000, timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def decode_entry(data: bytes, pos: int = 0) -> dict[str, Any]:
    """The entry as a JSON-ready dict (digests in lower-case hex)."""
    r = _Reader(data, pos)
    version = r.u8()
    if version != VERSION:
        raise EntryError(f"unknown entry format version {version}")
    time_ms = r.uvar()
    out: dict[str, Any] = {"time": iso_time(time_ms), "time_ms": time_ms,
                           "exchange": r.str(), "router": r.str(), "session": r.str(),
                           "dialect": r.code(DIALECT_NAMES, "dialect"), "model": r.str(),
                           "served_model": r.str(), "status": r.uvar(),
                           "verdict": r.code(VERDICT_NAMES, "verdict")}
    flags = r.u8()
    if flags & ~(F_STREAM | F_REQUEST_CHANGED):
        raise EntryError("unknown entry flags")
    out["stream"] = bool(flags & F_STREAM)
    out["request_changed"] = bool(flags & F_REQUEST_CHANGED)
    out["request_sha256"] = r.h32().hex()
    out["response_sha256"] = r.h32().hex()
    calls = []
    for _ in range(r.uvar()):
        call_id, name, cflags = r.str(), r.str(), r.u8()
        if cflags > 15:
            raise EntryError("unknown tool call flags")
        calls.append({"id": call_id, "name": name, "kind": "shell" if cflags & TC_SHELL else "function",
                      "arguments_sha256": r.h32().hex(), "arguments_json": not cflags & TC_RAW,
                      "blocked": bool(cflags & TC_BLOCKED), "rewritten": bool(cflags & TC_REWRITTEN)})
    findings = []
    for _ in range(r.uvar()):
        rule, severity, ref = r.str(), r.code(SEVERITY_NAMES, "severity"), r.uvar()
        if ref == 0:
            call = None
        elif ref <= len(calls):
            call = calls[ref - 1]["id"]
        elif ref == len(calls) + 1:
            call = r.str()
            if any(c["id"] == call for c in calls):
                raise EntryError("finding names a tool call by id instead of by reference")
        else:
            raise EntryError("finding refers to a tool call the entry does not have")
        findings.append({"rule": rule, "severity": severity, "tool_call": call})
    if r.pos != len(data):
        raise EntryError("trailing bytes after entry")
    out["tool_calls"] = calls
    out["findings"] = findings
    return out


def _skip_str(data: bytes, pos: int) -> tuple[str, int]:
    """(string, next position): ``_Reader.str`` in one call, for ``check_entry``'s speed."""
    try:
        n = data[pos]
    except IndexError:
        raise EntryError("entry is truncated") from None
    if n < 0x80:
        pos += 1
    else:
        n, pos = read_uvarint(data, pos)
        if n > MAX_STR:
            raise EntryError("string too long in entry")
    end = pos + n
    if end > len(data):
        raise EntryError("entry is truncated")
    try:
        return data[pos:end].decode("utf-8"), end
    except UnicodeDecodeError:
        raise EntryError("string in entry is not UTF-8") from None


def _byte(data: bytes, pos: int) -> int:
    try:
        return data[pos]
    except IndexError:
        raise EntryError("entry is truncated") from None


def check_entry(data: bytes, pos: int = 0) -> tuple[int, str]:
    """Validate an entry as strictly as ``decode_entry`` without building it; (time_ms, router).

    (What ``append`` and ``verify()`` run on every entry, so it is written for speed.)
    """
    if _byte(data, pos) != VERSION:
        raise EntryError(f"unknown entry format version {data[pos]}")
    time_ms, pos = read_uvarint(data, pos + 1)
    _, pos = _skip_str(data, pos)  # exchange
    router, pos = _skip_str(data, pos)
    _, pos = _skip_str(data, pos)  # session
    if _byte(data, pos) not in DIALECT_NAMES:
        raise EntryError(f"unknown dialect code {data[pos]} in entry")
    _, pos = _skip_str(data, pos + 1)  # model
    _, pos = _skip_str(data, pos)  # served model
    _, pos = read_uvarint(data, pos)  # status
    if _byte(data, pos) not in VERDICT_NAMES:
        raise EntryError(f"unknown verdict code {data[pos]} in entry")
    if _byte(data, pos + 1) & ~(F_STREAM | F_REQUEST_CHANGED):
        raise EntryError("unknown entry flags")
    pos += 66  # flags, two digests
    ncalls, pos = read_uvarint(data, pos)
    ids = []
    for _ in range(ncalls):
        call_id, pos = _skip_str(data, pos)
        ids.append(call_id)
        _, pos = _skip_str(data, pos)
        if _byte(data, pos) > 15:
            raise EntryError("unknown tool call flags")
        pos += 33
    nfindings, pos = read_uvarint(data, pos)
    for _ in range(nfindings):
        _, pos = _skip_str(data, pos)
        if _byte(data, pos) not in SEVERITY_NAMES:
            raise EntryError(f"unknown severity code {data[pos]} in entry")
        ref, pos = read_uvarint(data, pos + 1)
        if ref == ncalls + 1:
            call_id, pos = _skip_str(data, pos)
            if call_id in ids:
                raise EntryError("finding names a tool call by id instead of by reference")
        elif ref > ncalls:
            raise EntryError("finding refers to a tool call the entry does not have")
    if pos != len(data):
        raise EntryError("trailing bytes after entry" if pos < len(data) else "entry is truncated")
    return time_ms, router
