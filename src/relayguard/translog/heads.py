"""Signed tree heads and the log's signing key."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from relayguard.translog.errors import ProofError, TranslogError

HEAD_CONTEXT = b"relayguard/translog/tree-head/v1\n"


def key_id(public_key: Ed25519PublicKey) -> bytes:
    """SHA-256 of the raw 32-byte public key: the log's identity in its signed heads."""
    return hashlib.sha256(public_key.public_bytes(serialization.Encoding.Raw,
                                                  serialization.PublicFormat.Raw)).digest()


@dataclass(frozen=True, slots=True)
class SignedTreeHead:
    """A tree head signed by the log key.

    The signature is Ed25519 over ``signed_bytes()``: the context string
    ``b"relayguard/translog/tree-head/v1\\n"`` followed by key_id (32 bytes), size (u64 big
    endian), timestamp in ms since the epoch (u64 big endian) and root (32 bytes): fixed length
    after a context no other relayguard signature uses, so it cannot be read as anything else.
    """

    size: int
    root: bytes
    timestamp: int  # ms since the Unix epoch
    key_id: bytes
    signature: bytes

    def signed_bytes(self) -> bytes:
        return head_message(self.key_id, self.size, self.timestamp, self.root)

    def verify(self, public_key: Ed25519PublicKey) -> None:
        """Raise ``ProofError`` unless ``public_key`` signed this head."""
        if self.key_id != key_id(public_key):
            raise ProofError(f"tree head at size {self.size} is signed by another key "
                             f"({self.key_id.hex()[:16]}...)")
        try:
            public_key.verify(self.signature, self.signed_bytes())
        except InvalidSignature:
            raise ProofError(f"tree head at size {self.size}: bad signature") from None

    def to_json(self) -> dict[str, Any]:
        return {"size": self.size, "root": self.root.hex(), "timestamp": self.timestamp,
                "time": datetime.fromtimestamp(self.timestamp / 1000, timezone.utc).isoformat(
                    timespec="milliseconds").replace("+00:00", "Z"),
                "key_id": self.key_id.hex(), "signature": self.signature.hex()}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SignedTreeHead:
        try:
            return cls(int(obj["size"]), bytes.fromhex(obj["root"]), int(obj["timestamp"]),
                       bytes.fromhex(obj["key_id"]), bytes.fromhex(obj["signature"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ProofError(f"not a signed tree head: {exc}") from None


def head_message(kid: bytes, size: int, timestamp: int, root: bytes) -> bytes:
    return HEAD_CONTEXT + kid + size.to_bytes(8, "big") + timestamp.to_bytes(8, "big") + root


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The log-local signing key at ``path`` (PEM PKCS#8), created with mode 0600 if missing."""
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            return load_or_create_key(path)
        try:
            os.write(fd, pem)
            os.fsync(fd)
        finally:
            os.close(fd)
        _fsync_dir(path.parent)
        return key
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise TranslogError(f"{path} is not a PEM Ed25519 private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise TranslogError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
