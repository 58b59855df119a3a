"""The transparency log on SQLite: append-only entries, cached subtree hashes, signed tree heads.

Schema (one file, WAL)::

    entries(idx INTEGER PRIMARY KEY, ts, router, leaf, data)   one row per leaf
        data  = the RFC 9162 leaf input: uvarint(idx) || entry (the index inside the leaf makes a
                moved or copied row detectable on its own; ``entry`` is ``entry.py``'s record)
        leaf  = SHA-256(0x00 || data), kept so proofs never re-hash entries and ``verify()``
                can name the exact entry whose bytes changed
        ts, router = the entry's time and router id, copied out for ``query`` (one index)
    routers(id, url)                 each distinct router URL once
    nodes(k INTEGER PRIMARY KEY, hash)   perfect subtree hashes at levels 4, 8, 12, ...
        (k = level << 40 | index); any other subtree is at most 8 hashes one stored level down,
        so a proof costs O(log n) small reads, never a scan
    heads(size INTEGER PRIMARY KEY, ts, root, sig)   signed tree heads
    meta(k, v)                       format, stride, the log's public key

Durability: WAL with ``synchronous=FULL`` fsyncs the WAL at every commit, so an entry is on
stable storage (not only in the OS cache) when ``append`` returns: it survives kill -9 *and*
power loss.  ``durability="normal"`` skips that fsync (WAL + NORMAL is still atomic and
survives a killed process, not an OS crash).  The cost of the fsync is spread over many
entries by ``append_many`` and by ``append_async``'s group commit: a writer thread takes every
entry queued while the previous commit was syncing and commits them in one transaction.
"""

from __future__ import annotations

import asyncio
import heapq
import os
import queue
import sqlite3
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from relayguard.translog import merkle
from relayguard.translog.entry import check_entry, decode_entry, normalize_router, read_uvarint, uvarint
from relayguard.translog.errors import EntryError, LogCorrupted, ProofError, TranslogError
from relayguard.translog.heads import SignedTreeHead, head_message, key_id, load_or_create_key
from relayguard.translog.schema import FORMAT, SCHEMA, STRIDE, node_key
from relayguard.translog.verify import VerifyReport, Verifier

MAX_BATCH = 4096  # entries per group commit
_CACHE_MAX = 1 << 16  # cached perfect subtree hashes (about 6 MB)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def to_ms(value: float | int | datetime | str | None) -> int | None:
    """A time bound in ms: seconds since the epoch, a datetime (naive = UTC) or ISO 8601 text."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(float(text) * 1000)
        except ValueError:
            pass
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise TranslogError(f"not a time: {text!r} (use ISO 8601 or seconds since the epoch)") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return int(value.timestamp() * 1000)
    return int(value * 1000)


_STOP = object()


class TransparencyLog:
    """An append-only RFC 9162 Merkle tree log of exchange entries.  Use ``TransparencyLog.open``.

    Thread-safe: one connection behind a lock; ``append_async`` hands entries to a writer
    thread so the event loop never waits on an fsync.  Use as a context manager or ``close()``.
    """

    def __init__(self, path: str | os.PathLike[str], signing_key: Ed25519PrivateKey | None = None, *,
                 head_interval: int = 1024, head_max_age: float = 60.0, durability: str = "full",
                 check: bool = True) -> None:
        if durability not in ("full", "normal"):
            raise TranslogError(f"durability must be 'full' or 'normal', not {durability!r}")
        self.path = Path(path)
        self.key_path = Path(f"{self.path}.key")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._key = signing_key if signing_key is not None else load_or_create_key(self.key_path)
        except OSError as exc:
            raise TranslogError(f"cannot open the log {self.path}: {exc}") from None
        self.public_key = self._key.public_key()
        self.key_id = key_id(self.public_key)
        self.head_interval = max(1, int(head_interval))
        self.head_max_age_ms = int(head_max_age * 1000)
        self._lock = threading.RLock()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._closed = False
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise TranslogError(f"cannot open the log {self.path}: {exc}") from None
        try:
            self._setup(durability)
            self._load(check)
        except BaseException:
            self._db.close()
            raise

    @classmethod
    def open(cls, path: str | os.PathLike[str], signing_key: Ed25519PrivateKey | None = None, *,
             head_interval: int = 1024, head_max_age: float = 60.0, durability: str = "full",
             check: bool = True) -> TransparencyLog:
        """Open (creating if needed) the log at ``path``.

        ``signing_key`` signs tree heads; when None the log-local key ``<path>.key`` is used,
        created (mode 0600) on first use.  A log is bound to the key it was created with.
        A head is signed and stored every ``head_interval`` entries, on the first append after
        ``head_max_age`` seconds without one, on ``signed_head()`` and on ``close()``.
        ``check`` compares the latest signed head with the stored tree (O(log n)) and raises
        ``LogCorrupted`` if they differ; pass False to open a damaged log for ``verify()``.
        """
        return cls(path, signing_key, head_interval=head_interval, head_max_age=head_max_age,
                   durability=durability, check=check)

    # -- setup -------------------------------------------------------------------------------------

    def _setup(self, durability: str) -> None:
        db = self._db
        try:
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise TranslogError(f"{self.path}: SQLite could not switch to WAL mode (got {mode})")
            db.execute(f"PRAGMA synchronous={'FULL' if durability == 'full' else 'NORMAL'}")
            db.execute("PRAGMA journal_size_limit=67108864")
            db.execute("PRAGMA busy_timeout=10000")
            db.executescript(SCHEMA)  # idempotent: every statement is IF NOT EXISTS
        except sqlite3.DatabaseError as exc:
            raise TranslogError(f"{self.path} is not a relayguard log ({exc})") from None
        meta = dict(db.execute("SELECT k, v FROM meta"))
        raw_pub = self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        if not meta:
            with self._txn():
                db.executemany("INSERT OR IGNORE INTO meta(k, v) VALUES (?, ?)",
                               [("format", FORMAT), ("stride", STRIDE), ("public_key", raw_pub)])
            meta = dict(db.execute("SELECT k, v FROM meta"))
        if meta.get("format") != FORMAT or meta.get("stride") != STRIDE:
            raise TranslogError(f"{self.path}: log format {meta.get('format')}/{meta.get('stride')} "
                                f"is not the one this relayguard writes ({FORMAT}/{STRIDE})")
        if meta.get("public_key") != raw_pub:
            stored = meta.get("public_key")
            raise TranslogError(
                f"{self.path}: this log's heads are signed by key "
                f"{key_id(Ed25519PublicKey.from_public_bytes(stored)).hex()[:16] if stored else '?'}..., "
                f"not by the key given ({self.key_id.hex()[:16]}...)")

    def _txn(self) -> _Txn:
        return _Txn(self._db)

    def _load(self, check: bool) -> None:
        self._cache: dict[tuple[int, int], bytes] = {}
        self._damaged: LogCorrupted | None = None
        try:
            self._read_state()
        except LogCorrupted as exc:
            if check:
                raise
            self._damaged = exc  # opened for verify(): reads work, appends and roots refuse
            return
        if check and self._last_head is not None:
            head = self._last_head
            try:
                head.verify(self.public_key)
            except ProofError as exc:
                raise LogCorrupted(f"{self.path}: latest signed head: {exc}", head_size=head.size) from None
            if head.size > self._size:
                raise LogCorrupted(f"{self.path}: entries {self._size}..{head.size - 1} are missing "
                                   f"(a signed head covers {head.size})", index=self._size, end=head.size,
                                   head_size=head.size)
            if self.root(head.size) != head.root:
                raise LogCorrupted(f"{self.path}: the tree no longer matches the head signed at size "
                                   f"{head.size}; run verify to find the entry", index=0, end=head.size,
                                   head_size=head.size)

    def _refuse_if_damaged(self) -> None:
        if self._damaged is not None:
            raise LogCorrupted(f"{self._damaged} (the log was opened damaged: only verify() and reads work)",
                               index=self._damaged.index, end=self._damaged.end,
                               head_size=self._damaged.head_size)

    def _sync_state(self) -> None:
        """Inside a write transaction: catch up if another process appended meanwhile."""
        last = self._db.execute("SELECT max(idx) FROM entries").fetchone()[0]
        if (0 if last is None else last + 1) != self._size:
            self._read_state()

    def _read_state(self) -> None:
        """Size, frontier, routers and latest head from the database (O(log n) reads)."""
        db = self._db
        self._router_ids: dict[str, int] = {}
        self._router_urls: dict[int, str] = {}
        for rid, url in db.execute("SELECT id, url FROM routers"):
            self._router_ids[url] = rid
            self._router_urls[rid] = url
        row = db.execute("SELECT size, ts, root, sig FROM heads ORDER BY size DESC LIMIT 1").fetchone()
        self._last_head = self._head_from_row(row) if row else None
        last = db.execute("SELECT max(idx) FROM entries").fetchone()[0]
        self._size = 0 if last is None else last + 1
        self._frontier: list[bytes] = []
        self._fmap: dict[tuple[int, int], bytes] = {}
        start = 0
        for level in range(self._size.bit_length() - 1, -1, -1):
            if self._size >> level & 1:
                self._frontier.append(self._perfect(level, start >> level))
                start += 1 << level
        self._remap_frontier()

    def _head_from_row(self, row: Sequence[Any]) -> SignedTreeHead:
        return SignedTreeHead(row[0], bytes(row[2]), row[1], self.key_id, bytes(row[3]))

    def _remap_frontier(self) -> None:
        self._fmap.clear()
        start = 0
        i = 0
        for level in range(self._size.bit_length() - 1, -1, -1):
            if self._size >> level & 1:
                self._fmap[(level, start >> level)] = self._frontier[i]
                start += 1 << level
                i += 1

    # -- reading subtree hashes --------------------------------------------------------------------

    def _leaves(self, start: int, end: int) -> list[bytes]:
        rows = self._db.execute("SELECT leaf FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx",
                                (start, end)).fetchall()
        if len(rows) != end - start:
            raise LogCorrupted(f"{self.path}: entries missing between {start} and {end - 1}",
                               index=start, end=end)
        return [r[0] for r in rows]

    def _stored(self, level: int, start: int, end: int) -> list[bytes] | None:
        rows = self._db.execute("SELECT hash FROM nodes WHERE k >= ? AND k < ? ORDER BY k",
                                (node_key(level, start), node_key(level, end))).fetchall()
        return [r[0] for r in rows] if len(rows) == end - start else None

    def _perfect(self, level: int, index: int) -> bytes:
        """MTH of the perfect subtree at ``level`` covering leaves [index << level, (index+1) << level)."""
        cached = self._fmap.get((level, index)) or self._cache.get((level, index))
        if cached is not None:
            return cached
        if level == 0:
            return self._leaves(index, index + 1)[0]
        value = self._perfect_uncached(level, index)
        if level >= STRIDE:  # perfect subtrees never change: keep the ones every proof shares
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[(level, index)] = value
        return value

    def _perfect_uncached(self, level: int, index: int) -> bytes:
        width = level % STRIDE
        if width == 0:
            got = self._stored(level, index, index + 1)
            if got is not None:
                return got[0]
            width = STRIDE  # missing node (damaged log): rebuild from the level below
        base = level - width
        lo, hi = index << width, (index + 1) << width
        hashes = (self._leaves(lo, hi) if base == 0 else self._stored(base, lo, hi)
                  or [self._perfect(base, j) for j in range(lo, hi)])
        while len(hashes) > 1:
            hashes = [merkle.node_hash(hashes[j], hashes[j + 1]) for j in range(0, len(hashes), 2)]
        return hashes[0]

    def _range(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for an aligned range (what RFC 9162 proofs ask for)."""
        if start == end:
            return merkle.EMPTY_ROOT
        return merkle.fold_decomposition([self._perfect(level, index)
                                          for level, index in merkle.perfect_decomposition(start, end)])

    # -- public reads ------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        return self._size

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` entries (default: all)."""
        with self._lock:
            if size is None or size == self._size:
                self._refuse_if_damaged()
                return merkle.frontier_root(self._frontier)
            self._check_size(size)
            return self._range(0, size)

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self._size:
            raise TranslogError(f"the log has {self._size} entries; no tree of size {size}")

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size`` (default: all)."""
        with self._lock:
            size = self._size if size is None else size
            self._check_size(size)
            if not 0 <= index < size:
                raise TranslogError(f"no entry {index} in a tree of size {size}")
            return merkle.inclusion_path(index, size, self._range)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 9162 consistency proof from tree ``old_size`` to ``new_size`` (default: all)."""
        with self._lock:
            new_size = self._size if new_size is None else new_size
            self._check_size(new_size)
            if not 0 <= old_size <= new_size:
                raise TranslogError(f"no consistency proof from size {old_size} to size {new_size}")
            return merkle.consistency_path(old_size, new_size, self._range)

    def leaf_input(self, index: int) -> bytes:
        """The exact bytes hashed as leaf ``index``: uvarint(index) || entry."""
        with self._lock:
            row = self._db.execute("SELECT data FROM entries WHERE idx = ?", (index,)).fetchone()
        if row is None:
            raise TranslogError(f"no entry {index} (the log has {self._size})")
        return bytes(row[0])

    def leaf_hash(self, index: int) -> bytes:
        return merkle.leaf_hash(self.leaf_input(index))

    def entry(self, index: int) -> bytes:
        """Entry ``index`` as it was appended (``entry_from_exchange`` bytes)."""
        data = self.leaf_input(index)
        _, pos = read_uvarint(data, 0)
        return data[pos:]

    def get(self, index: int) -> dict[str, Any]:
        """Entry ``index`` decoded: ``{"index", "leaf_hash", **decode_entry(entry)}``."""
        return self._decode_row(index, self.leaf_input(index))

    def _decode_row(self, index: int, data: bytes) -> dict[str, Any]:
        data = bytes(data)
        try:
            seq, pos = read_uvarint(data, 0)
            if seq != index:
                raise EntryError(f"row {index} holds entry {seq}")
            body = decode_entry(data, pos)
        except EntryError as exc:
            raise LogCorrupted(f"entry {index} is damaged ({exc}); run verify", index=index) from None
        return {"index": index, "leaf_hash": merkle.leaf_hash(data).hex(), **body}

    def heads(self) -> list[SignedTreeHead]:
        """Every stored signed tree head, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT size, ts, root, sig FROM heads ORDER BY size").fetchall()
        return [self._head_from_row(r) for r in rows]

    def query(self, router: str | None = None, since: float | datetime | str | None = None,
              until: float | datetime | str | None = None, session: str | None = None) -> Iterator[dict[str, Any]]:
        """Entries (as ``get`` returns them) in time order, ``since <= time < until``.

        ``router`` matches the recorded router URL exactly (after the same normalisation:
        no userinfo, query or trailing slash), or as a prefix at a path boundary
        (``https://r.example`` matches ``https://r.example/v1``), or its host name.
        Times are seconds since the epoch, datetimes or ISO 8601 text.  Rows are read in
        chunks, so a long query never holds the log's lock.
        """
        lo = to_ms(since)
        hi = to_ms(until)
        lo = 0 if lo is None else max(0, lo)
        hi = 2**63 - 1 if hi is None else hi
        with self._lock:
            routers = dict(self._router_urls)
        if router is None:
            ids = list(routers)
        else:
            want = normalize_router(router)
            ids = [rid for rid, url in routers.items()
                   if url == want or url.startswith(want + "/") or _host(url) == router.lower().strip()]
        streams = [self._query_router(rid, lo, hi) for rid in sorted(ids)]
        for item in heapq.merge(*streams, key=lambda d: (d["time_ms"], d["index"])):
            if session is None or item["session"] == session:
                yield item

    def _query_router(self, rid: int, lo: int, hi: int) -> Iterator[dict[str, Any]]:
        last = (lo, -1)
        while True:
            with self._lock:
                rows = self._db.execute(
                    "SELECT idx, ts, data FROM entries WHERE router = ? AND (ts, idx) > (?, ?) AND ts < ? "
                    "ORDER BY ts, idx LIMIT 512", (rid, last[0], last[1], hi)).fetchall()
            for idx, ts, data in rows:
                yield self._decode_row(idx, data)
            if len(rows) < 512:
                return
            last = (rows[-1][1], rows[-1][0])

    # -- appending ---------------------------------------------------------------------------------

    def append(self, entry: bytes) -> int:
        """Append one entry; returns its index once it is committed (durable)."""
        return self.append_many([entry])[0]

    def append_many(self, entries: Iterable[bytes]) -> range:
        """Append entries in one transaction; returns their indexes once committed."""
        batch = [self._check_entry(e) for e in entries]
        if not batch:
            return range(self._size, self._size)
        first = self._commit(batch)
        return range(first, first + len(batch))

    async def append_async(self, entry: bytes) -> int:
        """Append from asyncio: concurrent calls share one commit (group commit).

        Resolves with the entry's index after its transaction is durable.  The commit runs on
        a writer thread, so the event loop is never blocked by an fsync.  Cancelling the
        awaiting task does not withdraw the entry.
        """
        if self._closed:
            raise TranslogError("the log is closed")
        if not isinstance(entry, (bytes, bytearray, memoryview)):
            raise EntryError(f"an entry is bytes, not {type(entry).__name__}")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        self._start_writer()
        self._queue.put((bytes(entry), loop, future))  # checked on the writer thread, off the loop
        return await future

    def _check_entry(self, entry: bytes) -> tuple[bytes, int, str]:
        if self._closed:
            raise TranslogError("the log is closed")
        if not isinstance(entry, (bytes, bytearray, memoryview)):
            raise EntryError(f"an entry is bytes, not {type(entry).__name__}")
        entry = bytes(entry)
        time_ms, router = check_entry(entry)  # strict: only well-formed entries get in
        return entry, time_ms, router

    def _start_writer(self) -> None:
        if self._writer is None:
            with self._lock:
                if self._closed:
                    raise TranslogError("the log is closed")
                if self._writer is None:
                    self._writer = threading.Thread(target=self._write_loop, name="translog-writer",
                                                    daemon=True)
                    self._writer.start()

    def _write_loop(self) -> None:
        stop = False
        while not stop:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            good, checked = [], []
            for entry, loop, future in batch:
                try:
                    checked.append(self._check_entry(entry))
                except TranslogError as exc:  # a malformed entry fails alone
                    _resolve(loop, future, None, exc)
                else:
                    good.append((loop, future))
            if not good:
                continue
            try:
                first = self._commit(checked)
            except BaseException as exc:  # noqa: BLE001 - every waiter must hear about it
                for loop, future in good:
                    _resolve(loop, future, None, exc)
            else:
                for n, (loop, future) in enumerate(good):
                    _resolve(loop, future, first + n, None)

    def _commit(self, batch: list[tuple[bytes, int, str]]) -> int:
        """Write a batch in one transaction; in-memory state changes only after COMMIT."""
        with self._lock:
            if self._closed:
                raise TranslogError("the log is closed")
            self._refuse_if_damaged()
            with self._txn():
                self._sync_state()
                size, frontier, new_routers, head = self._write(batch)
            for url, rid in new_routers.items():
                self._router_ids[url] = rid
                self._router_urls[rid] = url
            first = self._size
            self._size = size
            self._frontier = frontier
            self._remap_frontier()
            if head is not None:
                self._last_head = head
            return first

    def _write(self, batch: list[tuple[bytes, int, str]]
               ) -> tuple[int, list[bytes], dict[str, int], SignedTreeHead | None]:
        """Insert a batch inside the open transaction; returns the new in-memory state."""
        first = self._size
        frontier = list(self._frontier)
        new_routers: dict[str, int] = {}
        next_router = max(self._router_urls, default=0) + 1
        rows = []
        nodes: list[tuple[int, bytes]] = []

        def on_node(level: int, index: int, value: bytes) -> None:
            if level % STRIDE == 0:
                nodes.append((node_key(level, index), value))

        leaf_hash = merkle.leaf_hash
        for n, (entry, ts, router) in enumerate(batch):
            idx = first + n
            rid = self._router_ids.get(router) or new_routers.get(router)
            if rid is None:
                rid = new_routers[router] = next_router
                next_router += 1
            data = uvarint(idx) + entry
            leaf = leaf_hash(data)
            rows.append((idx, ts, rid, leaf, data))
            merkle.frontier_append(frontier, idx, leaf, on_node)
        size = first + len(batch)
        head = None
        now = _now_ms()
        last = self._last_head
        if (first // self.head_interval != size // self.head_interval
                or last is None or now - last.timestamp >= self.head_max_age_ms):
            head = self._sign(size, merkle.frontier_root(frontier), now)
        db = self._db
        if new_routers:
            db.executemany("INSERT INTO routers(id, url) VALUES (?, ?)",
                           [(rid, url) for url, rid in new_routers.items()])
        db.executemany("INSERT INTO entries(idx, ts, router, leaf, data) VALUES (?, ?, ?, ?, ?)", rows)
        if nodes:
            db.executemany("INSERT INTO nodes(k, hash) VALUES (?, ?)", nodes)
        if head is not None:
            self._store_head(head)
        return size, frontier, new_routers, head

    def _sign(self, size: int, root: bytes, timestamp: int) -> SignedTreeHead:
        signature = self._key.sign(head_message(self.key_id, size, timestamp, root))
        return SignedTreeHead(size, root, timestamp, self.key_id, signature)

    def _store_head(self, head: SignedTreeHead) -> None:
        self._db.execute("INSERT OR REPLACE INTO heads(size, ts, root, sig) VALUES (?, ?, ?, ?)",
                         (head.size, head.timestamp, head.root, head.signature))

    def signed_head(self) -> SignedTreeHead:
        """A signed head for the current size (the stored one if there is one, else signed and stored now)."""
        with self._lock:
            if self._closed:
                raise TranslogError("the log is closed")
            self._refuse_if_damaged()
            with self._txn():
                self._sync_state()
                head = self._last_head
                if head is None or head.size != self._size:
                    head = self._sign(self._size, merkle.frontier_root(self._frontier), _now_ms())
                    self._store_head(head)
            self._last_head = head
            return head

    # -- verification ------------------------------------------------------------------------------

    def verify(self, public_key: Ed25519PublicKey | None = None) -> VerifyReport:
        """Recompute the whole tree from the stored entries and check every stored head and node.

        Reads a snapshot on its own connection (appends go on meanwhile).  Raises
        ``LogCorrupted`` naming the first bad entry: a missing row, a row moved or copied, bytes
        that changed, a malformed entry, a stored subtree hash or signed head that no longer
        matches (then the range the change is in), a head with a bad signature, or entries cut
        off the end.  ``public_key`` pins the key heads must be signed by (default: this log's).
        """
        public_key = public_key or self.public_key
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("BEGIN")
            return Verifier(db, public_key, str(self.path)).run()
        finally:
            db.close()

    # -- lifecycle ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Drain pending async appends, sign a head for the final size, close the database."""
        if self._closed:
            return
        writer = self._writer
        if writer is not None:
            self._queue.put(_STOP)
            writer.join()
        with self._lock:
            try:
                if self._damaged is None and (self._last_head is None or self._last_head.size != self._size):
                    self.signed_head()
            finally:
                self._closed = True
                self._db.close()

    def __enter__(self) -> TransparencyLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Txn:
    __slots__ = ("db",)

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.db.execute("COMMIT")
        elif self.db.in_transaction:
            self.db.execute("ROLLBACK")


def _resolve(loop: asyncio.AbstractEventLoop, future: asyncio.Future[int], value: int | None,
             exc: BaseException | None) -> None:
    def settle() -> None:
        if future.done():
            return
        if exc is not None:
            future.set_exception(exc if isinstance(exc, Exception) else TranslogError(repr(exc)))
        else:
            future.set_result(value)

    try:
        loop.call_soon_threadsafe(settle)
    except RuntimeError:  # the loop is closed: nobody is waiting any more
        pass


def _host(url: str) -> str:
    rest = url.split("://", 1)[-1]
    return rest.split("/", 1)[0].split(":", 1)[0] if not rest.startswith("[") else rest.split("]", 1)[0] + "]"
