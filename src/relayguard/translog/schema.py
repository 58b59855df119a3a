"""The SQLite layout of a log (see ``store.py`` for what each table holds)."""

from __future__ import annotations

FORMAT = 1
STRIDE = 4  # stored subtree hashes: levels STRIDE, 2*STRIDE, ...
KEY_SHIFT = 40  # nodes.k = level << 40 | index (2^40 leaves is plenty)


def node_key(level: int, index: int) -> int:
    return (level << KEY_SHIFT) | index


SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS routers(id INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS entries(idx INTEGER PRIMARY KEY, ts INTEGER NOT NULL,
                                   router INTEGER NOT NULL, leaf BLOB NOT NULL, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS entries_router_ts ON entries(router, ts);
CREATE TABLE IF NOT EXISTS nodes(k INTEGER PRIMARY KEY, hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS heads(size INTEGER PRIMARY KEY, ts INTEGER NOT NULL,
                                 root BLOB NOT NULL, sig BLOB NOT NULL);
"""
