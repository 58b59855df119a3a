"""``TransparencyLog.verify()``: one pass over a snapshot of the database.

Entries in index order (each row's embedded index, leaf hash, format and index columns), the
tree recomputed as it goes, every stored subtree hash compared as the pass completes it (one
cursor per stored level), every signed head checked when the pass reaches its size, and
finally nothing stored beyond the last entry (a cut-off tail).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from relayguard.translog import merkle
from relayguard.translog.entry import check_entry, read_uvarint
from relayguard.translog.errors import EntryError, LogCorrupted
from relayguard.translog.heads import head_message, key_id
from relayguard.translog.schema import KEY_SHIFT, STRIDE, node_key


@dataclass(frozen=True, slots=True)
class VerifyReport:
    size: int
    root: bytes
    heads: int  # signed heads checked
    nodes: int  # stored subtree hashes checked
    signed_size: int  # entries covered by the latest signed head (the rest is not signed yet)


class Verifier:
    """One pass over a snapshot: entries in order, stored nodes level by level, heads by size."""

    def __init__(self, db: sqlite3.Connection, public_key: Ed25519PublicKey, name: str) -> None:
        self.db = db
        self.public_key = public_key
        self.kid = key_id(public_key)
        self.name = name
        self.cursors: dict[int, Iterator[tuple[int, bytes]]] = {}
        self.nodes = 0

    def run(self) -> VerifyReport:
        db = self.db
        routers = dict(db.execute("SELECT id, url FROM routers"))
        heads = db.execute("SELECT size, ts, root, sig FROM heads ORDER BY size").fetchall()
        hpos = 0
        good_head = 0  # size of the last head that matched
        frontier: list[bytes] = []
        expected = 0
        leaf_hash = merkle.leaf_hash

        def check_head(row: Sequence[Any]) -> None:
            nonlocal good_head
            size, ts, root, sig = row
            try:
                self.public_key.verify(bytes(sig), head_message(self.kid, size, ts, bytes(root)))
            except InvalidSignature:
                raise LogCorrupted(f"{self.name}: the signed tree head at size {size} has a bad signature "
                                   f"(altered, or not signed by this log's key)", head_size=size) from None
            if merkle.frontier_root(frontier) != bytes(root):
                raise LogCorrupted(
                    f"{self.name}: entries {good_head}..{size - 1} no longer hash to the root signed at "
                    f"size {size}: one of them was changed, removed or reordered (and the stored "
                    f"hashes rewritten to match)", index=good_head, end=size, head_size=size)
            good_head = size

        while hpos < len(heads) and heads[hpos][0] == 0:
            check_head(heads[hpos])
            hpos += 1
        for idx, ts, rid, leaf, data in db.execute("SELECT idx, ts, router, leaf, data FROM entries ORDER BY idx"):
            if idx != expected:
                raise LogCorrupted(f"{self.name}: entry {expected} is missing", index=expected)
            data = bytes(data)
            try:
                seq, pos = read_uvarint(data, 0)
            except EntryError:
                seq, pos = -1, 0
            if seq != idx:
                raise LogCorrupted(f"{self.name}: entry {idx} was changed or moved: its row holds "
                                   f"{'the record of entry ' + str(seq) if seq >= 0 else 'unreadable bytes'}",
                                   index=idx)
            value = leaf_hash(data)
            if value != bytes(leaf):
                raise LogCorrupted(f"{self.name}: entry {idx} was changed: its bytes no longer match its "
                                   f"leaf hash", index=idx)
            try:
                hts, hrouter = check_entry(data, pos)
            except EntryError as exc:
                raise LogCorrupted(f"{self.name}: entry {idx} is malformed ({exc})", index=idx) from None
            if hts != ts or routers.get(rid) != hrouter:
                raise LogCorrupted(f"{self.name}: entry {idx}'s time or router column was changed "
                                   f"(it no longer matches the entry)", index=idx)
            merkle.frontier_append(frontier, idx, value, self.check_node)
            expected += 1
            while hpos < len(heads) and heads[hpos][0] == expected:
                check_head(heads[hpos])
                hpos += 1
        if hpos < len(heads):
            size = heads[hpos][0]
            raise LogCorrupted(f"{self.name}: entries {expected}..{size - 1} are missing (cut off the end): "
                               f"a signed tree head covers {size} entries", index=expected, end=size,
                               head_size=size)
        for level in range(STRIDE, KEY_SHIFT + 1, STRIDE):
            row = db.execute("SELECT max(k) FROM nodes WHERE k >= ? AND k < ?",
                             (node_key(level, 0), node_key(level + 1, 0))).fetchone()[0]
            if row is not None and ((row & ((1 << KEY_SHIFT) - 1)) + 1) << level > expected:
                index = (row & ((1 << KEY_SHIFT) - 1)) << level
                raise LogCorrupted(f"{self.name}: entries from {expected} are missing (cut off the end): a "
                                   f"stored subtree hash covers entries up to {index + (1 << level) - 1}",
                                   index=expected, end=index + (1 << level))
        return VerifyReport(expected, merkle.frontier_root(frontier), len(heads), self.nodes, good_head)

    def check_node(self, level: int, index: int, value: bytes) -> None:
        if level % STRIDE:
            return
        cursor = self.cursors.get(level)
        if cursor is None:
            cursor = self.cursors[level] = iter(self.db.execute(
                "SELECT k, hash FROM nodes WHERE k >= ? AND k < ? ORDER BY k",
                (node_key(level, index), node_key(level + 1, 0))))
        start, end = index << level, (index + 1) << level
        row = next(cursor, None)
        if row is None or row[0] != node_key(level, index):
            raise LogCorrupted(f"{self.name}: the stored subtree hash for entries {start}..{end - 1} is missing",
                               index=start, end=end)
        if bytes(row[1]) != value:
            raise LogCorrupted(f"{self.name}: entries {start}..{end - 1} no longer match their stored subtree "
                               f"hash: one of them was changed or reordered (with its leaf hash rewritten), "
                               f"or the stored hash was", index=start, end=end)
        self.nodes += 1
