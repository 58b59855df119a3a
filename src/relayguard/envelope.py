"""Signed response envelopes, version 1 (the specification is docs/envelope.md).

A signer (a provider, or a gateway the client trusts) signs what it answered:
model, tool calls, a digest of the text, finish reason, the client's nonce and a
digest of the request it received.  A verifier (the guard) checks the signature
against a pinned key set and compares the envelope with what reached it.

Signer::

    key = load_signing_key(path)
    transport = sign_response(response, key, provider="example", nonce=nonce,
                              request_body=body_bytes_received)
    headers.append((ENVELOPE_HEADER, transport))     # or sse_comment(transport) in a stream

Verifier::

    envelope = verify(transport, keyset, response=response, nonce=nonce_sent,
                      request_body=body_bytes_sent, now=int(time.time()))

``verify`` returns the verified :class:`Envelope` or raises an
:class:`EnvelopeError` subclass naming what is wrong.  Everything it reads is
attacker-controlled; no other exception escapes it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

import orjson

from relayguard.envelope_compare import (  # noqa: F401  (re-exported)
    Difference, _is_simple, _show, _utf8, arguments_digest, compare_response, sha256_hex, text_digest,
)
from relayguard.envelope_jcs import MAX_DEPTH, MAX_SAFE, NotIJSON, canonical, parse, parse_quick
from relayguard.envelope_keys import (  # noqa: F401  (re-exported: one import for callers)
    KEYSET_WELL_KNOWN, KeyFileError, KeySet, PublicKey, SigningKey, b64u_decode, b64u_encode,
    generate_keys, key_id, load_keyset, load_signing_key,
)
from relayguard.errors import RelayguardError
from relayguard.exchange import Response, ToolCall

VERSION = 1
PAYLOAD_TYPE = "application/vnd.relayguard.envelope.v1+json"
ENVELOPE_HEADER = "x-relayguard-envelope"
NONCE_HEADER = "x-relayguard-nonce"
SSE_PREFIX = b": relayguard-envelope "
MAX_TRANSPORT = 1 << 20  # characters of the transport string
MAX_SIGNATURES = 8
DEFAULT_TTL = 300
MAX_TTL = 3600  # verifiers refuse envelopes valid for longer than this
INLINE_BUDGET = 3072  # payload bytes beyond which large arguments are signed by digest
_NONCE_RE = re.compile(r"[\x21-\x7e]{1,256}\Z")
_HEX64_RE = re.compile(r"[0-9a-f]{64}\Z")
_MAX_TIME = 2**53 - 1


# -- errors -----------------------------------------------------------------------------

class EnvelopeError(RelayguardError):
    """An envelope is missing or does not prove the response.  ``code`` is a
    stable identifier for findings and logs."""

    code = "envelope-invalid"


class EnvelopeMissing(EnvelopeError):
    code = "envelope-missing"


class EnvelopeMalformed(EnvelopeError):
    code = "envelope-malformed"


class UnknownKey(EnvelopeError):
    """Signed by a key the verifier does not trust, or outside the key's validity."""

    code = "envelope-unknown-key"


class BadSignature(EnvelopeError):
    code = "envelope-bad-signature"


class Expired(EnvelopeError):
    code = "envelope-expired"


class NotYetValid(EnvelopeError):
    code = "envelope-not-yet-valid"


class NonceMismatch(EnvelopeError):
    """The envelope answers another request: a replay."""

    code = "envelope-nonce-mismatch"


class RequestMismatch(EnvelopeError):
    """The signer received a request other than the one the client sent."""

    code = "envelope-request-mismatch"


class ContentMismatch(EnvelopeError):
    """The response differs from what was signed; ``differences`` lists each change."""

    code = "envelope-content-mismatch"

    def __init__(self, differences: Iterable[Difference]) -> None:
        self.differences: tuple[Difference, ...] = tuple(differences)
        super().__init__("response differs from the signed envelope: "
                         + "; ".join(d.message for d in self.differences))


# -- the payload --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SignedToolCall:
    """A tool call as signed: exactly one of the three argument forms is set."""

    id: str
    name: str
    arguments: Any = None  # the arguments as a JSON value (text was I-JSON)
    arguments_raw: str | None = None  # the text verbatim (not I-JSON)
    arguments_sha256: str | None = None  # a digest (large arguments)


@dataclass(frozen=True, slots=True)
class Envelope:
    v: int
    provider: str
    model: str
    tool_calls: tuple[SignedToolCall, ...]
    text_sha256: str
    finish_reason: str
    nonce: str
    request_sha256: str
    iat: int
    exp: int
    kid: str
    payload: bytes = field(default=b"", repr=False, compare=False)  # canonical bytes as signed

    @property
    def digest(self) -> str:
        """SHA-256 (hex) of the signed payload bytes: how a log refers to it."""
        return hashlib.sha256(self.payload).hexdigest()


def _signed_call(call: ToolCall) -> tuple[dict[str, Any], int, bool]:
    """The payload entry of one tool call, the size of its arguments, and whether
    orjson writes the entry as RFC 8785 does (``envelope_jcs.canonical``'s fast path)."""
    entry: dict[str, Any] = {"id": call.id, "name": call.name}
    raw = call.raw_arguments
    try:
        value, simple = parse_quick(raw)
        entry["arguments"] = value
        return entry, len(canonical(value, simple)), simple
    except ValueError:
        pass
    try:
        _utf8(raw).decode("utf-8")  # surrogates cannot appear in a JCS string
        entry["arguments_raw"] = raw
        return entry, len(raw) + 2, True
    except UnicodeDecodeError:
        entry["arguments_sha256"] = arguments_digest(raw)
        return entry, 64, True


def build_payload(response: Response, *, provider: str, nonce: str, request_body: bytes, kid: str,
                  now: int, ttl: int = DEFAULT_TTL, inline_budget: int = INLINE_BUDGET) -> dict[str, Any]:
    """The v1 payload for ``response``, as a JSON-ready dict.

    ``nonce`` is the request's ``x-relayguard-nonce`` value ("" when absent or not
    1-256 visible ASCII characters); ``request_body`` the body bytes as received.
    Tool-call arguments are inlined until the payload would exceed
    ``inline_budget`` bytes, then the largest are signed by digest (headers stay small).
    """
    return _payload(response, provider=provider, nonce=nonce, request_body=request_body, kid=kid, now=now,
                    ttl=ttl, inline_budget=inline_budget)[0]


def _payload(response: Response, *, provider: str, nonce: str, request_body: bytes, kid: str, now: int,
             ttl: int = DEFAULT_TTL, inline_budget: int = INLINE_BUDGET) -> tuple[dict[str, Any], bool]:
    """``build_payload``, and whether the payload is simple (``_is_simple``): known from
    the parse of each argument, so the signer need not walk the payload again.  Only
    member names and numbers decide it; the payload's own names are ASCII."""
    if not _NONCE_RE.match(nonce or ""):
        nonce = ""
    entries = [_signed_call(call) for call in response.tool_calls]
    size = 400 + sum(len(c.id) + len(c.name) + 40 for c in response.tool_calls) + len(response.model)
    size += sum(n for _, n, _ in entries)
    largest_first = sorted(range(len(entries)), key=lambda i: -entries[i][1]) if size > inline_budget else ()
    for i in largest_first:
        if size <= inline_budget:
            break
        entry, n, _ = entries[i]
        if n > 64:
            entry.pop("arguments", None)
            entry.pop("arguments_raw", None)
            entry["arguments_sha256"] = arguments_digest(response.tool_calls[i].raw_arguments)
            entries[i] = (entry, 64, True)
            size -= n - 64
    iat, exp = int(now), int(now) + int(ttl)
    simple = (all(s for _, _, s in entries) and -MAX_SAFE <= iat <= MAX_SAFE and -MAX_SAFE <= exp <= MAX_SAFE
              and all(type(v) is str for v in (provider, response.model, response.finish_reason, kid))
              and all(type(c.id) is str and type(c.name) is str for c in response.tool_calls))
    return {"v": VERSION, "provider": provider, "model": response.model,
            "tool_calls": [entry for entry, _, _ in entries], "text_sha256": text_digest(response.text),
            "finish_reason": response.finish_reason, "nonce": nonce,
            "request_sha256": sha256_hex(request_body), "iat": iat, "exp": exp, "kid": kid}, simple


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE pre-authentication encoding: what the signature covers."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)


def sign(payload: dict[str, Any], key: SigningKey, *, payload_type: str = PAYLOAD_TYPE, check: bool = True) -> str:
    """Canonicalise ``payload`` (RFC 8785), sign it, return the transport string.
    Raises ValueError for a payload a verifier would refuse (``check=False`` skips that
    re-parse for payloads from ``build_payload``: the gateway signs every answer, and a
    malformed one would only be refused by the verifier, which fails closed)."""
    return _sign(payload, _is_simple(payload), key, payload_type=payload_type, check=check)


def _sign(payload: dict[str, Any], simple: bool, key: SigningKey, *, payload_type: str = PAYLOAD_TYPE,
          check: bool = True) -> str:
    if payload.get("kid") != key.kid:
        raise ValueError(f"payload kid {payload.get('kid')!r} is not the signing key's kid {key.kid!r}")
    body = canonical(payload, simple)
    if check and payload_type == PAYLOAD_TYPE:
        try:
            decode_payload(body)
        except EnvelopeMalformed as exc:
            raise ValueError(f"refusing to sign an invalid payload: {exc}") from None
    signature = key.sign(pae(payload_type, body))
    outer = {"payload": b64u_encode(body), "payloadType": payload_type,
             "signatures": [{"keyid": key.kid, "sig": b64u_encode(signature)}]}
    return b64u_encode(orjson.dumps(outer))


def sign_response(response: Response, key: SigningKey, *, provider: str, nonce: str | None,
                  request_body: bytes, now: int | None = None, ttl: int = DEFAULT_TTL) -> str:
    """``build_payload`` + ``sign``: the one call a signer needs."""
    now = int(time.time()) if now is None else now
    payload, simple = _payload(response, provider=provider, nonce=nonce or "", request_body=request_body,
                               kid=key.kid, now=now, ttl=ttl)
    return _sign(payload, simple, key, check=False)


# -- verification --------------------------------------------------------------------------

def _need(obj: dict[str, Any], name: str, kind: type) -> Any:
    value = obj.get(name)
    if type(value) is not kind:
        raise EnvelopeMalformed(f"signed payload: {name!r} missing or not a {kind.__name__}")
    return value


def _digest_field(obj: dict[str, Any], name: str) -> str:
    value = _need(obj, name, str)
    if not _HEX64_RE.match(value):
        raise EnvelopeMalformed(f"signed payload: {name!r} is not 64 lowercase hex digits")
    return value


def decode_payload(body: bytes) -> Envelope:
    """Parse and check signed payload bytes (after the signature verified)."""
    try:
        obj, _ = parse(body, exact_integers=False, max_depth=MAX_DEPTH + 3)
    except NotIJSON as exc:
        raise EnvelopeMalformed(f"signed payload is not valid I-JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise EnvelopeMalformed("signed payload is not a JSON object")
    if obj.get("v") != VERSION or type(obj.get("v")) is not int:
        raise EnvelopeMalformed(f"unsupported envelope version {_show(str(obj.get('v')))}; this verifier reads v1")
    calls = []
    for i, item in enumerate(_need(obj, "tool_calls", list)):
        if not isinstance(item, dict) or type(item.get("id")) is not str or type(item.get("name")) is not str:
            raise EnvelopeMalformed(f"signed payload: tool_calls[{i}] needs string id and name")
        forms = [f for f in ("arguments", "arguments_raw", "arguments_sha256") if f in item]
        if len(forms) != 1:
            raise EnvelopeMalformed(f"signed payload: tool_calls[{i}] needs exactly one arguments form")
        if forms[0] == "arguments_raw" and type(item["arguments_raw"]) is not str:
            raise EnvelopeMalformed(f"signed payload: tool_calls[{i}].arguments_raw is not a string")
        if forms[0] == "arguments_sha256":
            _digest_field(item, "arguments_sha256")
        calls.append(SignedToolCall(item["id"], item["name"], item.get("arguments"),
                                    item.get("arguments_raw"), item.get("arguments_sha256")))
    iat, exp = _need(obj, "iat", int), _need(obj, "exp", int)
    if not 0 <= iat <= exp <= _MAX_TIME:
        raise EnvelopeMalformed("signed payload: need 0 <= iat <= exp")
    return Envelope(VERSION, _need(obj, "provider", str), _need(obj, "model", str), tuple(calls),
                    _digest_field(obj, "text_sha256"), _need(obj, "finish_reason", str),
                    _need(obj, "nonce", str), _digest_field(obj, "request_sha256"), iat, exp,
                    _need(obj, "kid", str), body)


def _decode_b64(value: Any, what: str) -> bytes:
    try:
        return b64u_decode(value)
    except (ValueError, TypeError):
        raise EnvelopeMalformed(f"{what} is not base64url") from None


def verify_signature(transport: str | bytes | None, keyset: KeySet) -> Envelope:
    """Decode the transport string and check its signature against ``keyset``;
    returns the signed envelope (not yet compared with anything)."""
    if isinstance(transport, bytes):
        try:
            transport = transport.decode("ascii")
        except UnicodeDecodeError:
            raise EnvelopeMalformed("envelope is not ASCII") from None
    if transport is None or not transport.strip():
        raise EnvelopeMissing("the response carries no envelope")
    if not isinstance(transport, str):
        raise EnvelopeMalformed("envelope is not a string")
    if len(transport) > MAX_TRANSPORT:
        raise EnvelopeMalformed(f"envelope is longer than {MAX_TRANSPORT} characters")
    try:
        outer = orjson.loads(_decode_b64(transport.strip(), "envelope"))
    except orjson.JSONDecodeError:
        raise EnvelopeMalformed("envelope is not base64url-encoded JSON") from None
    if not isinstance(outer, dict):
        raise EnvelopeMalformed("envelope is not a JSON object")
    payload_type, sigs = outer.get("payloadType"), outer.get("signatures")
    if not isinstance(payload_type, str):
        raise EnvelopeMalformed("envelope has no payloadType")
    if payload_type != PAYLOAD_TYPE:
        raise EnvelopeMalformed(f"payloadType is {_show(payload_type)}, expected {PAYLOAD_TYPE}")
    body = _decode_b64(outer.get("payload"), "payload")
    if not isinstance(sigs, list) or not 1 <= len(sigs) <= MAX_SIGNATURES or not all(
            isinstance(s, dict) and isinstance(s.get("keyid"), str) for s in sigs):
        raise EnvelopeMalformed(f"signatures must be 1 to {MAX_SIGNATURES} objects with a keyid")
    trusted = [(s, keyset.get(s["keyid"])) for s in sigs if s["keyid"] in keyset]
    if not trusted:
        kids = ", ".join(_show(s["keyid"]) for s in sigs)
        raise UnknownKey(f"envelope signed by key {kids}, which is not in the trusted key set")
    message = pae(payload_type, body)
    for sig, key in trusted:
        if key is not None and key.verify(_decode_b64(sig.get("sig"), "signature"), message):
            break
    else:
        raise BadSignature(f"signature does not verify with key {_show(trusted[0][0]['keyid'])}: "
                           "the envelope was altered or signed by another key")
    envelope = decode_payload(body)
    if envelope.kid != key.kid:
        raise EnvelopeMalformed(f"payload kid {_show(envelope.kid)} differs from signature keyid {_show(key.kid)}")
    if not key.valid_at(envelope.iat):
        raise UnknownKey(f"key {_show(key.kid)} was not valid at iat {envelope.iat} "
                         f"(not_before {key.not_before}, not_after {key.not_after})")
    return envelope


def check_envelope(envelope: Envelope, *, response: Response, nonce: str, request_body: bytes,
                   now: int, leeway: int = 30, max_ttl: int = MAX_TTL) -> None:
    """Compare a verified envelope with the exchange; raises the first failing class."""
    if envelope.exp - envelope.iat > max_ttl:
        raise EnvelopeMalformed(f"envelope valid for {envelope.exp - envelope.iat} s, more than {max_ttl} s")
    if now + leeway < envelope.iat:
        raise NotYetValid(f"envelope issued at {envelope.iat}, {envelope.iat - now} s in the future")
    if now - leeway > envelope.exp:
        raise Expired(f"envelope expired at {envelope.exp}, {now - envelope.exp} s ago")
    if envelope.nonce != nonce:
        raise NonceMismatch("envelope nonce differs from this request's: it answers another request (replay)")
    if envelope.request_sha256 != sha256_hex(request_body):
        raise RequestMismatch("the signer received a different request than the one sent "
                              "(request altered on the way, e.g. model substituted or instructions injected)")
    differences = compare_response(envelope, response)
    if differences:
        raise ContentMismatch(differences)


def verify(transport: str | bytes | None, keyset: KeySet, *, response: Response, nonce: str,
           request_body: bytes, now: int, leeway: int = 30, max_ttl: int = MAX_TTL) -> Envelope:
    """Verify an envelope end to end; returns it, or raises an EnvelopeError subclass."""
    envelope = verify_signature(transport, keyset)
    check_envelope(envelope, response=response, nonce=nonce, request_body=request_body, now=now,
                   leeway=leeway, max_ttl=max_ttl)
    return envelope


# -- transport helpers -------------------------------------------------------------------

def new_nonce() -> str:
    """A fresh request nonce (22 base64url characters, 128 bits)."""
    return secrets.token_urlsafe(16)


def sse_comment(transport: str) -> bytes:
    """The SSE comment line carrying an envelope in a stream (send it before the terminal event)."""
    return SSE_PREFIX + transport.encode("ascii") + b"\n\n"


def find_in_sse(raw_stream: bytes) -> str | None:
    """The envelope carried by an SSE stream's comment line, or None.  Raises
    EnvelopeMalformed when the stream carries two different envelopes."""
    found: str | None = None
    pos = 0
    while (i := raw_stream.find(SSE_PREFIX, pos)) >= 0:
        pos = i + 1
        if i and raw_stream[i - 1] not in (10, 13):  # only at the start of a line
            continue
        start = i + len(SSE_PREFIX)
        end = raw_stream.find(b"\n", start)
        end = len(raw_stream) if end < 0 else end
        cr = raw_stream.find(b"\r", start, end)
        end = cr if cr >= 0 else end
        value = raw_stream[start:min(end, start + MAX_TRANSPORT + 1)].decode("latin-1").strip()
        if found is not None and value != found:
            raise EnvelopeMalformed("the stream carries more than one envelope")
        found, pos = value, end
    return found
