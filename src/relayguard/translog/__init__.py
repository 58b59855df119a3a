"""relayguard's tamper-evident transparency log (RFC 9162 Merkle tree on SQLite).

    from relayguard.translog import TransparencyLog, entry_from_exchange

    with TransparencyLog.open("guard.log") as log:
        index = log.append(entry_from_exchange(exchange))      # or: await log.append_async(...)
        head = log.signed_head()
        proof = log.inclusion_proof(index, head.size)
        verify_inclusion(log.leaf_hash(index), index, head.size, proof, head.root)
        log.verify()                                            # raises LogCorrupted

Modules: ``merkle`` (pure RFC 9162 hashing and proofs), ``entry`` (the entry format),
``store`` (the SQLite log), ``heads`` (signed tree heads, the log key), ``verify`` (the full
check), ``schema`` (the SQLite layout), ``errors``.
"""

from relayguard.translog.entry import decode_entry, encode_entry, entry_from_exchange, normalize_router
from relayguard.translog.errors import EntryError, LogCorrupted, ProofError, TranslogError
from relayguard.translog.merkle import (EMPTY_ROOT, leaf_hash, node_hash, root_from_inclusion,
                                        verify_consistency, verify_inclusion)
from relayguard.translog.heads import SignedTreeHead, key_id
from relayguard.translog.store import TransparencyLog
from relayguard.translog.verify import VerifyReport

__all__ = [
    "EMPTY_ROOT", "EntryError", "LogCorrupted", "ProofError", "SignedTreeHead", "TranslogError",
    "TransparencyLog", "VerifyReport", "decode_entry", "encode_entry", "entry_from_exchange", "key_id",
    "leaf_hash", "node_hash", "normalize_router", "root_from_inclusion", "verify_consistency",
    "verify_inclusion",
]
