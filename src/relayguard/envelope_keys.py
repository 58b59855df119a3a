"""Envelope keys: Ed25519 signing keys, public key sets, and their files.

File formats (docs/envelope.md, "Keys"):

- ``signing.key``: one private JWK (RFC 8037), UTF-8 JSON, file mode 0600::

      {"kty": "OKP", "crv": "Ed25519", "kid": "...", "x": "<public>", "d": "<seed>"}

- ``keyset.json``: ``{"keys": [{"kid", "kty": "OKP", "crv": "Ed25519", "x",
  "not_before"?, "not_after"?}, ...]}``, the document a signer publishes at
  ``/.well-known/relayguard-keys.json``.

A generated key's ``kid`` is its RFC 7638 JWK thumbprint (SHA-256, base64url).
Every problem with a file raises :class:`KeyFileError` naming the file.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from relayguard.errors import ConfigError

KEYSET_WELL_KNOWN = "/.well-known/relayguard-keys.json"
SIGNING_KEY_FILE = "signing.key"
KEYSET_FILE = "keyset.json"
MAX_KEY_FILE = 64 * 1024
MAX_KEYSET_FILE = 1024 * 1024
MAX_KEYS = 64
MAX_KID = 128
_KID_RE = re.compile(r"[\x21-\x7e]{1,%d}\Z" % MAX_KID)  # visible ASCII
_B64U_RE = re.compile(r"[A-Za-z0-9_-]*={0,2}\Z")
_MAX_TIME = 2**53 - 1


class KeyFileError(ConfigError):
    """A signing key file or key set is missing, unreadable, malformed or unsafe."""


def b64u_encode(data: bytes) -> str:
    """base64url (RFC 4648 section 5) without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str | bytes) -> bytes:
    """Strict base64url decoding; padding optional.  Raises ValueError."""
    if isinstance(text, bytes):
        text = text.decode("ascii")  # UnicodeDecodeError is a ValueError
    if not isinstance(text, str) or not _B64U_RE.match(text):
        raise ValueError("not base64url")
    body = text.rstrip("=")
    if len(body) % 4 == 1 or (text != body and len(text) % 4):
        raise ValueError("bad base64url length or padding")
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


def key_id(public: bytes) -> str:
    """RFC 7638 thumbprint of an Ed25519 public key: the kid ``generate_keys`` assigns."""
    members = b'{"crv":"Ed25519","kty":"OKP","x":"' + b64u_encode(public).encode() + b'"}'
    return b64u_encode(hashlib.sha256(members).digest())


@dataclass(frozen=True, slots=True)
class PublicKey:
    """One entry of a key set.  ``not_before``/``not_after`` bound the ``iat`` of
    envelopes the key may sign (unix seconds, inclusive); None is unbounded."""

    kid: str
    key: Ed25519PublicKey
    not_before: int | None = None
    not_after: int | None = None

    @property
    def raw(self) -> bytes:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
        return self.key.public_bytes(Encoding.Raw, PublicFormat.Raw)

    def valid_at(self, t: int) -> bool:
        return (self.not_before is None or t >= self.not_before) and (
            self.not_after is None or t <= self.not_after)

    def verify(self, signature: bytes, data: bytes) -> bool:
        try:
            self.key.verify(signature, data)
        except InvalidSignature:
            return False
        return True

    def to_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = {"kid": self.kid, "kty": "OKP", "crv": "Ed25519", "use": "sig",
                               "alg": "EdDSA", "x": b64u_encode(self.raw)}
        if self.not_before is not None:
            jwk["not_before"] = self.not_before
        if self.not_after is not None:
            jwk["not_after"] = self.not_after
        return jwk


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    private: Ed25519PrivateKey

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data)

    def public(self, *, not_before: int | None = None, not_after: int | None = None) -> PublicKey:
        return PublicKey(self.kid, self.private.public_key(), not_before, not_after)

    @classmethod
    def from_seed(cls, seed: bytes, kid: str | None = None) -> SigningKey:
        private = Ed25519PrivateKey.from_private_bytes(seed)
        return cls(kid or key_id(_raw_public(private)), private)

    def to_jwk(self) -> dict[str, Any]:
        from cryptography.hazmat.primitives.serialization import (
            Encoding, NoEncryption, PrivateFormat,
        )
        seed = self.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return {"kty": "OKP", "crv": "Ed25519", "kid": self.kid,
                "x": b64u_encode(_raw_public(self.private)), "d": b64u_encode(seed)}


def _raw_public(private: Ed25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


class KeySet:
    """The public keys a verifier trusts, by kid."""

    __slots__ = ("_keys",)

    def __init__(self, keys: Iterable[PublicKey] = ()) -> None:
        self._keys: dict[str, PublicKey] = {}
        for key in keys:
            if key.kid in self._keys:
                raise ValueError(f"duplicate kid {key.kid!r}")
            self._keys[key.kid] = key

    def get(self, kid: str) -> PublicKey | None:
        return self._keys.get(kid)

    def __contains__(self, kid: object) -> bool:
        return kid in self._keys

    def __iter__(self) -> Iterator[PublicKey]:
        return iter(self._keys.values())

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def kids(self) -> list[str]:
        return list(self._keys)

    def with_key(self, key: PublicKey) -> KeySet:
        """A new set with ``key`` added (or replacing the entry with its kid): rotation."""
        return KeySet([k for k in self if k.kid != key.kid] + [key])

    def to_json(self) -> bytes:
        return orjson.dumps({"keys": [k.to_jwk() for k in self]}, option=orjson.OPT_INDENT_2) + b"\n"

    @classmethod
    def from_json(cls, data: bytes | str, source: str = "key set") -> KeySet:
        """Parse a key set document (e.g. fetched from the well-known URL for
        trust on first use); ``source`` names it in errors."""
        if len(data) > MAX_KEYSET_FILE:
            raise KeyFileError(f"{source}: larger than {MAX_KEYSET_FILE} bytes")
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise KeyFileError(f"{source}: not valid JSON ({exc})") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
            raise KeyFileError(f'{source}: expected an object {{"keys": [...]}}')
        if not doc["keys"]:
            raise KeyFileError(f"{source}: the key set has no keys")
        if len(doc["keys"]) > MAX_KEYS:
            raise KeyFileError(f"{source}: more than {MAX_KEYS} keys")
        keys = []
        for i, jwk in enumerate(doc["keys"]):
            where = f"{source}: keys[{i}]"
            if isinstance(jwk, dict) and "d" in jwk:
                raise KeyFileError(f"{where}: contains a private key ('d'); publish public keys only")
            kid, public = _parse_public_jwk(jwk, where)
            bounds = []
            for name in ("not_before", "not_after"):
                value = jwk.get(name)
                if value is not None and (type(value) is not int or not 0 <= value <= _MAX_TIME):
                    raise KeyFileError(f"{where}: {name} must be integer unix seconds")
                bounds.append(value)
            if bounds[0] is not None and bounds[1] is not None and bounds[0] > bounds[1]:
                raise KeyFileError(f"{where}: not_before is after not_after")
            keys.append(PublicKey(kid, public, bounds[0], bounds[1]))
        try:
            return cls(keys)
        except ValueError as exc:
            raise KeyFileError(f"{source}: {exc}") from None


def _parse_public_jwk(jwk: Any, where: str) -> tuple[str, Ed25519PublicKey]:
    if not isinstance(jwk, dict):
        raise KeyFileError(f"{where}: expected a JWK object")
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not _KID_RE.match(kid):
        raise KeyFileError(f"{where}: kid must be 1 to {MAX_KID} visible ASCII characters")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise KeyFileError(f'{where} ({kid}): only "kty": "OKP", "crv": "Ed25519" keys are supported')
    try:
        x = b64u_decode(jwk.get("x"))
        if len(x) != 32:
            raise ValueError("wrong length")
        return kid, Ed25519PublicKey.from_public_bytes(x)
    except (ValueError, TypeError):
        raise KeyFileError(f'{where} ({kid}): "x" must be a base64url 32-byte Ed25519 public key') from None


def _read(path: Path, limit: int, what: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise KeyFileError(f"{path}: {what} is not a regular file")
            if what == "signing key" and os.name == "posix" and info.st_mode & 0o077:
                raise KeyFileError(
                    f"{path}: signing key is accessible by group or others (mode "
                    f"{stat.S_IMODE(info.st_mode):04o}); run: chmod 600 {path}")
            data = fh.read(limit + 1)
    except FileNotFoundError:
        raise KeyFileError(f"{path}: {what} file not found") from None
    except IsADirectoryError:
        raise KeyFileError(f"{path}: {what} is a directory, not a file") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise KeyFileError(f"{path}: {what} file is larger than {limit} bytes")
    return data


def load_signing_key(path: str | os.PathLike[str]) -> SigningKey:
    """Read a ``signing.key`` file; refuses one readable by group or others."""
    path = Path(path)
    data = _read(path, MAX_KEY_FILE, "signing key")
    try:
        jwk = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise KeyFileError(f"{path}: not a relayguard signing key (expected a JSON private JWK)") from None
    kid, public = _parse_public_jwk(jwk, str(path))
    try:
        seed = b64u_decode(jwk.get("d"))
        if len(seed) != 32:
            raise ValueError("wrong length")
        key = SigningKey.from_seed(seed, kid)
    except (ValueError, TypeError):
        raise KeyFileError(f'{path}: "d" must be a base64url 32-byte Ed25519 private key') from None
    if _raw_public(key.private) != public.public_bytes_raw():
        raise KeyFileError(f'{path}: "x" is not the public key of "d" (file corrupted or edited)')
    return key


def load_keyset(path: str | os.PathLike[str]) -> KeySet:
    """Read a key set file (the pinned ``--trust-keyset``)."""
    path = Path(path)
    return KeySet.from_json(_read(path, MAX_KEYSET_FILE, "key set"), str(path))


def _write(path: Path, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode) if hasattr(os, "fchmod") else None
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def generate_keys(out_dir: str | os.PathLike[str], *, overwrite: bool = False) -> tuple[Path, Path]:
    """Create a new signing key: ``out_dir/signing.key`` (mode 0600) and
    ``out_dir/keyset.json`` (its public key set).  Refuses to replace an existing
    signing key unless ``overwrite``.  Returns (signing key path, key set path)."""
    out = Path(out_dir)
    key_path, set_path = out / SIGNING_KEY_FILE, out / KEYSET_FILE
    try:
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not overwrite and key_path.exists():
            raise KeyFileError(f"{key_path}: a signing key already exists; refusing to replace it")
        key = SigningKey.from_seed(os.urandom(32))
        _write(key_path, orjson.dumps(key.to_jwk()) + b"\n", 0o600)
        _write(set_path, KeySet([key.public()]).to_json(), 0o644)
    except OSError as exc:
        raise KeyFileError(f"{out}: cannot write keys: {exc.strerror or exc}") from None
    return key_path, set_path
