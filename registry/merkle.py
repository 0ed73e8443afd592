"""RFC 9162 Merkle tree hashing, inclusion and consistency proofs, and their verification (pure, no I/O).

The tree is RFC 9162 §2.1.1 exactly: MTH({}) = SHA-256(""), a leaf is SHA-256(0x00 ‖ data), an
interior node SHA-256(0x01 ‖ left ‖ right), split at the largest power of two smaller than n.
Proofs are computed as lists of index ranges ``(lo, hi)`` whose MTH(D[lo:hi]) makes up the proof
(``inclusion_ranges``, ``consistency_ranges``), so the same recursion serves a list of leaves held
in memory and the stored tree (``registry.merkle_store``), where every range is a complete aligned
subtree or a few of them (``aligned_nodes``). Verification is §2.1.3.2 and §2.1.4.2, step for step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def entry_leaf(entry_hash_hex: str) -> bytes:
    """The contract's leaf for an audit entry: SHA-256(0x00 ‖ the 32 bytes of its ``hash``)."""
    return leaf_hash(bytes.fromhex(entry_hash_hex))


def split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def compose(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from its aligned subtrees, largest first: node(h0, node(h1, … node(hk-1, hk)))."""
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for h in reversed(hashes[:-1]):
        result = node_hash(h, result)
    return result


def aligned_nodes(lo: int, hi: int) -> list[tuple[int, int]]:
    """The complete aligned subtrees ``(level, index)`` whose composition is MTH(D[lo:hi]).

    Every range a proof needs starts at a multiple of the largest power of two not above its size,
    so it is one subtree (a power-of-two size) or at most log2(n) of them along its right edge.
    """
    out = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        if lo & ((1 << level) - 1):
            raise ValueError(f"range [{lo}, {hi}) is not aligned")
        out.append((level, lo >> level))
        lo += 1 << level
    return out


def inclusion_ranges(m: int, n: int) -> list[tuple[int, int]]:
    """PATH(m, D[n]) (§2.1.3.1) as the ranges of its hashes, deepest first."""
    if not 0 <= m < n:
        raise ValueError(f"leaf {m} is not in a tree of size {n}")
    path: list[tuple[int, int]] = []
    lo, hi = 0, n
    while hi - lo > 1:
        k = split(hi - lo)
        if m < lo + k:
            path.append((lo + k, hi))
            hi = lo + k
        else:
            path.append((lo, lo + k))
            lo += k
    return path[::-1]


def consistency_ranges(m: int, n: int) -> list[tuple[int, int]]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true) (§2.1.4.1) as ranges; empty when m is 0 or m == n."""
    if not 0 <= m <= n:
        raise ValueError(f"no consistency proof from size {m} to size {n}")
    if m in (0, n):
        return []
    path: list[tuple[int, int]] = []
    lo, hi, complete = 0, n, True
    while True:
        size = hi - lo
        if m == size:
            if not complete:
                path.append((lo, hi))
            break
        k = split(size)
        if m <= k:
            path.append((lo + k, hi))
            hi = lo + k
        else:
            path.append((lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    return path[::-1]


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes, by the definition (the naive recomputation tests compare with)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = split(len(leaves))
    return node_hash(root(leaves[:k]), root(leaves[k:]))


def inclusion_proof(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    return [root(leaves[lo:hi]) for lo, hi in inclusion_ranges(m, len(leaves))]


def consistency_proof(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    return [root(leaves[lo:hi]) for lo, hi in consistency_ranges(m, len(leaves))]


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes | None:
    """§2.1.3.2 steps 1–4: the root ``path`` leads to from ``leaf``, or None if the path cannot fit."""
    if index >= size or index < 0:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def verify_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes], root_hash: bytes) -> bool:
    """§2.1.3.2: does ``path`` prove leaf ``index`` of a tree of ``size`` whose root is ``root_hash``?"""
    return root_from_inclusion(index, size, leaf, path) == root_hash


def verify_consistency(m: int, n: int, first: bytes, second: bytes, path: Sequence[bytes]) -> bool:
    """§2.1.4.2: does ``path`` prove that the tree of size ``n`` (root ``second``) extends size ``m``?

    The two trivial cases the RFC leaves to the caller: a tree extends the empty tree, and a tree
    of the same size only if the roots are equal; both with an empty proof.
    """
    if not 0 <= m <= n:
        return False
    if m == 0 or m == n:
        return not path and (m == 0 or first == second)
    if not path:
        return False  # step 1
    path = list(path)
    if m & (m - 1) == 0:  # step 2: m is an exact power of two
        path.insert(0, first)
    fn, sn = m - 1, n - 1  # step 3
    while fn & 1:  # step 4
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first and sr == second and sn == 0  # step 7
