"""The vault's encrypted local store: placeholder -> secret, per session, with expiry.

Secrets never leave the agent's machine: the request stage swaps each one for
a placeholder, and this store is the only place the mapping lives.  Values are
sealed with AES-256-GCM under a key kept in a 0600 key file; the placeholder
and the session are bound in as associated data, so a row copied to another
placeholder or session does not decrypt.  The same secret gets the same
placeholder within a session (an HMAC of session and value), so a model sees a
stable token across turns.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3
import stat
import threading
import time
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from relayguard.errors import ConfigError
from relayguard.vault.detect import make_placeholder

DEFAULT_TTL = 7 * 24 * 3600.0


def default_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "relayguard"


def _load_key(path: Path) -> bytes:
    """Read the key file, creating it (0600) on first use; refuse a loose one."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(os.urandom(32))
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(f"vault key file {path} is readable by others (mode {mode:04o}); "
                          f"run: chmod 600 {path}")
    key = path.read_bytes()
    if len(key) != 32:
        raise ConfigError(f"vault key file {path} must hold 32 bytes; it holds {len(key)}")
    return key


class VaultStore:
    def __init__(self, directory: Path | str | None = None, ttl: float = DEFAULT_TTL,
                 clock=time.time) -> None:  # type: ignore[no-untyped-def]
        self.directory = Path(directory) if directory else default_dir()
        self.ttl = ttl
        self._clock = clock
        key = _load_key(self.directory / "vault.key")
        self._aead = AESGCM(key)
        self._mac_key = hashlib.sha256(b"relayguard-vault-placeholder\0" + key).digest()
        self._db = sqlite3.connect(self.directory / "vault.db", check_same_thread=False, isolation_level=None)
        os.chmod(self.directory / "vault.db", 0o600)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS secrets (placeholder TEXT, session TEXT, kind TEXT, "
                         "nonce BLOB, sealed BLOB, expires REAL, PRIMARY KEY (placeholder, session))")
        self._db.execute("DELETE FROM secrets WHERE expires < ?", (self._clock(),))
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], tuple[str, float]] = {}

    def placeholder_for(self, session: str, kind: str, value: str) -> str:
        digest = hmac.new(self._mac_key, f"{session}\0{value}".encode(), hashlib.sha256).hexdigest()[:8]
        placeholder = make_placeholder(kind, digest)
        key = (placeholder, session)
        expires = self._clock() + self.ttl
        cached = self._cache.get(key)
        if cached is None or cached[1] - self._clock() < self.ttl / 2:  # refresh half-way through
            nonce = os.urandom(12)
            sealed = self._aead.encrypt(nonce, value.encode(), f"{placeholder}\0{session}".encode())
            with self._lock:
                self._db.execute("INSERT OR REPLACE INTO secrets VALUES (?, ?, ?, ?, ?, ?)",
                                 (placeholder, session, kind, nonce, sealed, expires))
            self._cache[key] = (value, expires)
        return placeholder

    def lookup(self, session: str, placeholder: str) -> str | None:
        """The secret behind ``placeholder`` in ``session``, or None (unknown, other session, expired)."""
        now = self._clock()
        cached = self._cache.get((placeholder, session))
        if cached is not None:
            return cached[0] if cached[1] >= now else None
        with self._lock:
            row = self._db.execute("SELECT nonce, sealed, expires FROM secrets WHERE placeholder=? AND session=?",
                                   (placeholder, session)).fetchone()
        if row is None or row[2] < now:
            return None
        value = self._aead.decrypt(row[0], row[1], f"{placeholder}\0{session}".encode()).decode()
        self._cache[(placeholder, session)] = (value, row[2])
        return value

    def close(self) -> None:
        self._db.close()
