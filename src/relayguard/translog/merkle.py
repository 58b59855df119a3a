"""RFC 9162 (Certificate Transparency v2) Merkle tree hashing, proofs and their verification.

Pure functions, no I/O.  SHA-256 throughout:

* the hash of an empty tree is ``SHA-256("")``;
* a leaf hash is ``SHA-256(0x00 || leaf input)``;
* an interior node is ``SHA-256(0x01 || left || right)``;
* ``MTH(D[n])`` for ``n > 1`` splits at ``k``, the largest power of two smaller than ``n``.

Proof *generation* (``inclusion_path``, ``consistency_path``) follows RFC 9162 section 2.1.3.1
and 2.1.4.1 literally, but asks a callback for the hash of each subtree it needs
(``subtree(start, end) -> MTH(D[start:end])``), so a store can answer from cached perfect
subtrees without reading the whole log.  Every range it asks for is *aligned*: ``start`` is a
multiple of the smallest power of two >= ``end - start``; such a range is a chain of at most
log2(n) perfect subtrees (see ``perfect_decomposition``).

Proof *verification* (``verify_inclusion``, ``verify_consistency``) is the algorithm of
section 2.1.3.2 and 2.1.4.2, step by step; each returns ``None`` or raises ``ProofError``.
"""

from __future__ import annotations

import hashlib
from typing import Callable, Iterable, Sequence

from relayguard.translog.errors import ProofError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


def leaf_hash(leaf_input: bytes) -> bytes:
    return _sha256(b"\x00" + leaf_input).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH of a whole tree given its leaf hashes (iterative, linear time)."""
    if not hashes:
        return EMPTY_ROOT
    frontier: list[bytes] = []
    for i, h in enumerate(hashes):
        frontier = frontier_append(frontier, i, h)
    return frontier_root(frontier)


def frontier_append(frontier: list[bytes], index: int, leaf: bytes,
                    on_node: Callable[[int, int, bytes], None] | None = None) -> list[bytes]:
    """Add leaf ``index`` (== current size) to a frontier, in place; returns the frontier.

    The frontier ("compact range") holds the roots of the perfect subtrees that make up the
    tree, largest first: one per set bit of the size.  ``on_node(level, i, hash)`` is called
    for every perfect subtree completed by this leaf (level >= 1; ``i`` is its index within
    its level, so it covers leaves ``[i << level, (i + 1) << level)``).
    """
    node = leaf
    level = 0
    i = index
    while i & 1:
        node = _sha256(b"\x01" + frontier.pop() + node).digest()
        level += 1
        i >>= 1
        if on_node is not None:
            on_node(level, i, node)
    frontier.append(node)
    return frontier


def frontier_root(frontier: Sequence[bytes]) -> bytes:
    """MTH of the tree a frontier describes."""
    if not frontier:
        return EMPTY_ROOT
    root = frontier[-1]
    for h in reversed(frontier[:-1]):
        root = _sha256(b"\x01" + h + root).digest()
    return root


def perfect_decomposition(start: int, end: int) -> list[tuple[int, int]]:
    """The perfect subtrees ``(level, index)`` an aligned range splits into, left to right."""
    out: list[tuple[int, int]] = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start & ((1 << level) - 1):
            raise ValueError(f"range [{start}, {end}) is not aligned")
        out.append((level, start >> level))
        start += 1 << level
    return out


def fold_decomposition(hashes: Sequence[bytes]) -> bytes:
    """MTH of an aligned range from the hashes of its ``perfect_decomposition``."""
    root = hashes[-1]
    for h in reversed(hashes[:-1]):
        root = _sha256(b"\x01" + h + root).digest()
    return root


# -- proof generation (RFC 9162 2.1.3.1 and 2.1.4.1) ---------------------------------------------

def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The subtree ranges whose MTHs form PATH(index, D[size]), in proof order (leaf upwards)."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} is not in a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index - start < k:  # PATH(m, D[0:k]) : MTH(D[k:n])
            ranges.append((start + k, end))
            end = start + k
        else:  # PATH(m - k, D[k:n]) : MTH(D[0:k])
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The subtree ranges whose MTHs form PROOF(old_size, D[new_size]), in proof order."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size == 0 or old_size == new_size:
        return []
    ranges: list[tuple[int, int]] = []
    start, end, complete = 0, new_size, True
    while True:  # SUBPROOF(m, D[start:end], complete)
        m = old_size - start
        if m == end - start:
            if not complete:
                ranges.append((start, end))
            break
        k = _split(end - start)
        if m <= k:  # SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            ranges.append((start + k, end))
            end = start + k
        else:  # SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            ranges.append((start, start + k))
            start += k
            complete = False
    ranges.reverse()
    return ranges


def inclusion_path(index: int, size: int, subtree: Callable[[int, int], bytes]) -> list[bytes]:
    return [subtree(s, e) for s, e in inclusion_ranges(index, size)]


def consistency_path(old_size: int, new_size: int, subtree: Callable[[int, int], bytes]) -> list[bytes]:
    return [subtree(s, e) for s, e in consistency_ranges(old_size, new_size)]


# -- proof verification (RFC 9162 2.1.3.2 and 2.1.4.2) -------------------------------------------

def _check_hashes(what: str, values: Iterable[bytes]) -> None:
    for value in values:
        if not isinstance(value, (bytes, bytearray)) or len(value) != HASH_SIZE:
            raise ProofError(f"{what}: every hash must be {HASH_SIZE} bytes")


def root_from_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof implies (RFC 9162 2.1.3.2 steps 1-5, without the compare)."""
    _check_hashes("inclusion proof", [leaf, *proof])
    if not 0 <= index < size:
        raise ProofError(f"inclusion proof: index {index} is not in a tree of size {size}")
    fn, sn = index, size - 1
    r = bytes(leaf)
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof: too many hashes for this tree size")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof: too few hashes for this tree size")
    return r


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that the leaf with hash ``leaf_hash`` is entry ``index`` of the tree of ``size`` with ``root``."""
    _check_hashes("inclusion proof", [root])
    if root_from_inclusion(leaf_hash, index, size, proof) != root:
        raise ProofError(f"inclusion proof: leaf {index} is not in the tree of size {size} with this root")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> None:
    """Check that the tree (old_size, old_root) is a prefix of the tree (new_size, new_root).

    Beyond RFC 9162 (which covers 0 < old_size < new_size): equal sizes need an empty proof and
    equal roots; a tree of size 0 (root ``EMPTY_ROOT``) is a prefix of every tree, empty proof.
    """
    _check_hashes("consistency proof", [old_root, new_root, *proof])
    if not 0 <= old_size <= new_size:
        raise ProofError(f"consistency proof: size {old_size} cannot grow into size {new_size}")
    if old_size == 0 or old_size == new_size:
        if proof:
            raise ProofError("consistency proof: must be empty for these sizes")
        if old_size == 0 and old_root != EMPTY_ROOT:
            raise ProofError("consistency proof: the old root is not the root of an empty tree")
        if old_size == new_size and old_root != new_root:
            raise ProofError(f"consistency proof: two different roots for size {old_size}")
        return
    # 2.1.4.2: 1. an empty path fails.  2. prepend first_hash when first is a power of two.
    if not proof:
        raise ProofError("consistency proof: empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1  # 3.
    while fn & 1:  # 4.
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # 5.
    for c in path[1:]:  # 6.
        if sn == 0:
            raise ProofError("consistency proof: too many hashes for these sizes")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:  # 7.
        raise ProofError("consistency proof: too few hashes for these sizes")
    if fr != old_root:
        raise ProofError(f"consistency proof: does not lead to the root of size {old_size}")
    if sr != new_root:
        raise ProofError(f"consistency proof: does not lead to the root of size {new_size}")
