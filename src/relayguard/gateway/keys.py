"""Virtual keys and their usage, in SQLite.

A virtual key is what a client of the gateway holds instead of a provider key: ``rg-`` and 32
random bytes in base64url.  The store keeps only its SHA-256 and a short prefix for display
(``rg-ab12``), so a copy of the database authenticates nobody.

Hot path: ``lookup(secret)`` and ``record(...)`` touch memory only.  Keys are loaded into a
dict keyed by hash at open; usage totals are kept in memory and the rows queued; ``flush()``
writes the queue in one transaction (the gateway calls it from a writer thread about every
0.5 s and at shutdown, so a crash loses at most that much accounting).  The ``usage`` table
keeps one row per request for audit; ``usage_totals`` keeps the per key and model sums, which
are what ``open`` reads back, so totals survive a restart without a scan.

Spend: ``spent_usd(key_id)`` is the one record of what a key has spent; ``limits.Limiter``
reads it at admission (see limits.py for the order the gateway records and settles in).

Schema (one file, WAL, mode 0600)::

    keys(id PRIMARY KEY, name, hash UNIQUE, prefix, models JSON|NULL, rpm, tpm, budget_usd,
         created, revoked NULL|time)
    usage(id INTEGER PRIMARY KEY, key_id, ts, model, input_tokens, output_tokens, cost_usd)
    usage_totals(key_id, model, requests, input_tokens, output_tokens, cost_usd,
                 PRIMARY KEY(key_id, model))
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import math
import os
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import orjson

from relayguard.errors import BadRequest

KEY_PREFIX = "rg-"
SECRET_BYTES = 32
DISPLAY_CHARS = 7  # "rg-" and 4 characters: enough to tell keys apart, 24 bits of a 256-bit secret
MAX_SECRET_LEN = 128  # lookup() refuses longer input before hashing it
MAX_MODELS = 256
MAX_NAME = 128
MAX_RATE = 10**9
MAX_BUDGET = 10**9

_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys(
    id TEXT PRIMARY KEY, name TEXT, hash BLOB NOT NULL UNIQUE, prefix TEXT NOT NULL,
    models TEXT, rpm INTEGER, tpm INTEGER, budget_usd REAL, created REAL NOT NULL, revoked REAL);
CREATE TABLE IF NOT EXISTS usage(
    id INTEGER PRIMARY KEY, key_id TEXT NOT NULL, ts REAL NOT NULL, model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, cost_usd REAL NOT NULL);
CREATE INDEX IF NOT EXISTS usage_key_ts ON usage(key_id, ts);
CREATE TABLE IF NOT EXISTS usage_totals(
    key_id TEXT NOT NULL, model TEXT NOT NULL, requests INTEGER NOT NULL, input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL, cost_usd REAL NOT NULL, PRIMARY KEY(key_id, model));
"""


@dataclass(frozen=True)
class KeyInfo:
    id: str
    name: str | None
    prefix: str  # the first characters of the secret, for display: "rg-ab12"
    models: tuple[str, ...] | None  # None: every model the gateway serves
    rpm: int | None
    tpm: int | None
    budget_usd: float | None
    created: float  # seconds since the epoch
    revoked: bool = False

    @property
    def display(self) -> str:
        return f"{self.prefix}…"


@dataclass
class _Totals:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    def add(self, input_tokens: int, output_tokens: int, cost: float, requests: int = 1) -> None:
        self.requests += requests
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        self.cost_usd += cost


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


class KeyStore:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        _create_private(self.path)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        self._db_lock = threading.Lock()  # one connection, used by request and writer threads
        self._lock = threading.Lock()  # the in-memory state below
        self._keys: dict[str, KeyInfo] = {}
        self._by_hash: dict[bytes, KeyInfo] = {}  # live (unrevoked) keys only
        self._hash_of: dict[str, bytes] = {}
        self._totals: dict[str, dict[str, _Totals]] = {}
        self._spent: dict[str, float] = {}
        self._queue: list[tuple[str, float, str, int, int, float]] = []
        self._load()

    # -- keys ---------------------------------------------------------------------------------

    def create(self, models: list[str] | None, rpm: int | None, tpm: int | None, budget_usd: float | None,
               name: str | None = None, *, known_models: Iterable[str] | None = None) -> tuple[KeyInfo, str]:
        """A new key and its secret (shown once; only its hash is kept).  Arguments come from the
        admin API's JSON and are checked here: BadRequest says what is wrong."""
        info = KeyInfo(id="key_" + secrets.token_hex(8), name=_check_name(name),
                       prefix="", models=_check_models(models, known_models), rpm=_check_rate("rpm", rpm),
                       tpm=_check_rate("tpm", tpm), budget_usd=_check_budget(budget_usd), created=time.time())
        secret = KEY_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(SECRET_BYTES)).rstrip(b"=").decode()
        info = dataclasses.replace(info, prefix=secret[:DISPLAY_CHARS])
        digest = hash_secret(secret)
        with self._db_lock:
            self._db.execute(
                "INSERT INTO keys(id, name, hash, prefix, models, rpm, tpm, budget_usd, created, revoked) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                (info.id, info.name, digest, info.prefix,
                 None if info.models is None else orjson.dumps(list(info.models)).decode(),
                 info.rpm, info.tpm, info.budget_usd, info.created))
        with self._lock:
            self._keys[info.id] = info
            self._by_hash[digest] = info
            self._hash_of[info.id] = digest
        return info, secret

    def revoke(self, key_id: str) -> bool:
        """Revoke a key at once.  False when no key has this id; True otherwise (also when it
        was already revoked).  Its usage stays for the record."""
        info = self._keys.get(key_id)
        if info is None:
            return False
        if info.revoked:
            return True
        with self._db_lock:  # durable first: a revocation that failed to persist must not look done
            self._db.execute("UPDATE keys SET revoked = ? WHERE id = ?", (time.time(), key_id))
        with self._lock:
            self._keys[key_id] = dataclasses.replace(info, revoked=True)
            self._by_hash.pop(self._hash_of[key_id], None)
        return True

    def get(self, key_id: str) -> KeyInfo | None:
        return self._keys.get(key_id)

    def list(self) -> list[KeyInfo]:
        with self._lock:
            return sorted(self._keys.values(), key=lambda k: (k.created, k.id))

    def lookup(self, secret: str) -> KeyInfo | None:
        """The live key with this secret, or None (unknown, malformed or revoked).  A dict lookup
        by SHA-256: the hash is not attacker-steerable, so the lookup's timing says nothing
        useful about stored keys."""
        if not isinstance(secret, str) or len(secret) > MAX_SECRET_LEN or not secret.startswith(KEY_PREFIX):
            return None
        return self._by_hash.get(hash_secret(secret))

    # -- usage --------------------------------------------------------------------------------

    def record(self, key_id: str, model: str, input_tokens: int, output_tokens: int, cost_usd: float) -> None:
        """Account one finished request: totals change now, the row is written at the next flush."""
        if key_id not in self._keys:
            raise ValueError(f"no virtual key with id {key_id!r}")
        input_tokens, output_tokens = max(0, int(input_tokens)), max(0, int(output_tokens))
        cost = float(cost_usd) if cost_usd and math.isfinite(cost_usd) and cost_usd > 0 else 0.0
        with self._lock:
            per_model = self._totals.setdefault(key_id, {})
            per_model.setdefault(model, _Totals()).add(input_tokens, output_tokens, cost)
            self._spent[key_id] = self._spent.get(key_id, 0.0) + cost
            self._queue.append((key_id, time.time(), model, input_tokens, output_tokens, cost))

    def spent_usd(self, key_id: str) -> float:
        return self._spent.get(key_id, 0.0)

    def flush(self) -> int:
        """Write the queued usage rows in one transaction; returns how many.  On a database
        error the rows go back to the queue (ahead of newer ones) and the error propagates."""
        with self._lock:
            rows, self._queue = self._queue, []
        if not rows:
            return 0
        sums: dict[tuple[str, str], _Totals] = {}
        for key_id, _ts, model, inp, out, cost in rows:
            sums.setdefault((key_id, model), _Totals()).add(inp, out, cost)
        try:
            with self._db_lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany("INSERT INTO usage(key_id, ts, model, input_tokens, output_tokens, "
                                         "cost_usd) VALUES (?, ?, ?, ?, ?, ?)", rows)
                    self._db.executemany(
                        "INSERT INTO usage_totals(key_id, model, requests, input_tokens, output_tokens, cost_usd) "
                        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(key_id, model) DO UPDATE SET "
                        "requests = requests + excluded.requests, "
                        "input_tokens = input_tokens + excluded.input_tokens, "
                        "output_tokens = output_tokens + excluded.output_tokens, "
                        "cost_usd = cost_usd + excluded.cost_usd",
                        [(k, m, t.requests, t.input_tokens, t.output_tokens, t.cost_usd)
                         for (k, m), t in sums.items()])
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
        except BaseException:
            with self._lock:
                self._queue[:0] = rows
            raise
        return len(rows)

    def usage(self) -> dict[str, Any]:
        """Usage and cost per key and model, JSON-ready (the admin API's GET /admin/usage)."""
        total = _Totals()
        keys = []
        with self._lock:
            for info in sorted(self._keys.values(), key=lambda k: (k.created, k.id)):
                by_model = {}
                for model, t in sorted(self._totals.get(info.id, {}).items()):
                    by_model[model] = dataclasses.asdict(t)
                    total.add(t.input_tokens, t.output_tokens, t.cost_usd, t.requests)
                keys.append({
                    "id": info.id, "name": info.name, "prefix": info.prefix,
                    "models": None if info.models is None else list(info.models),
                    "rpm": info.rpm, "tpm": info.tpm, "budget_usd": info.budget_usd,
                    "spent_usd": self._spent.get(info.id, 0.0), "revoked": info.revoked,
                    "by_model": by_model,
                })
        return {"keys": keys, "totals": dataclasses.asdict(total)}

    def close(self) -> None:
        self.flush()
        with self._db_lock:
            self._db.close()

    # -- loading ------------------------------------------------------------------------------

    def _load(self) -> None:
        with self._db_lock:
            key_rows = self._db.execute("SELECT id, name, hash, prefix, models, rpm, tpm, budget_usd, created, "
                                        "revoked FROM keys").fetchall()
            total_rows = self._db.execute("SELECT key_id, model, requests, input_tokens, output_tokens, cost_usd "
                                          "FROM usage_totals").fetchall()
        for kid, name, digest, prefix, models, rpm, tpm, budget, created, revoked in key_rows:
            info = KeyInfo(kid, name, prefix, None if models is None else tuple(orjson.loads(models)),
                           rpm, tpm, budget, created, revoked is not None)
            self._keys[kid] = info
            self._hash_of[kid] = bytes(digest)
            if not info.revoked:
                self._by_hash[bytes(digest)] = info
        for kid, model, requests, inp, out, cost in total_rows:
            self._totals.setdefault(kid, {})[model] = _Totals(requests, inp, out, cost)
            self._spent[kid] = self._spent.get(kid, 0.0) + cost


def _create_private(path: Path) -> None:
    """The database file exists with mode 0600 before SQLite opens it (SQLite gives its -wal
    and -shm files the main file's mode)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


# -- validation of the admin API's arguments --------------------------------------------------

def _check_name(name: Any) -> str | None:
    if name is None:
        return None
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME or not name.isprintable():
        raise BadRequest(f"name must be a string of 1 to {MAX_NAME} printable characters, or null")
    return name


def _check_models(models: Any, known: Iterable[str] | None) -> tuple[str, ...] | None:
    if models is None:
        return None
    if not isinstance(models, list) or not all(isinstance(m, str) and m for m in models):
        raise BadRequest("models must be a list of model names, or null for every model")
    if not models:
        raise BadRequest("models is empty: list the models the key may use, or send null for every model")
    if len(models) > MAX_MODELS:
        raise BadRequest(f"models lists {len(models)} names; at most {MAX_MODELS}")
    if known is not None:
        known_set = set(known)
        unknown = [m for m in models if m not in known_set]
        if unknown:
            raise BadRequest(f"unknown model {unknown[0]!r}: this gateway serves " + ", ".join(sorted(known_set)))
    return tuple(dict.fromkeys(models))


def _check_rate(field: str, value: Any) -> int | None:
    if value is None:
        return None
    per = "requests" if field == "rpm" else "tokens"
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RATE:
        raise BadRequest(f"{field} must be a whole number of {per} per minute from 1 to {MAX_RATE}, "
                         f"or null for no limit; got {value!r}")
    return value


def _check_budget(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0 <= value <= MAX_BUDGET:
        raise BadRequest(f"budget_usd must be a number of US dollars from 0 to {MAX_BUDGET}, or null for no "
                         f"budget; got {value!r}")
    return float(value)
