"""The audit log's RFC 9162 tree kept incrementally: every complete aligned subtree's hash, stored as entries are appended.

Node (level, idx) is MTH(D[idx·2^level : (idx+1)·2^level]); leaf i is the entry with seq i+1.
Appending leaf n completes the nodes that end at it: the leaf and, while the index is odd, its
parent, grandparent … So ``audit_tree`` holds one row per leaf, ``leaf`` = n and ``hashes`` = those
nodes' hashes, level 0 first (32 bytes × (1 + the trailing one bits of n)): one single-row INSERT
in the entry's transaction, landing on the same page as the previous one. Any MTH a checkpoint or
proof needs is one stored node or composes from O(log n) of them (``merkle.aligned_nodes``), read
with one ``leaf IN (…)`` query; nothing here reads the log itself (except to catch up, below).

``append`` takes an ORM Session, a Core Connection or a DBAPI cursor (sqlite3 or psycopg), so the
audited write (``audit.record``) and a hot path writing its entry with raw statements call the same
function, inside the same transaction and while holding the same chain lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from sqlalchemy import BigInteger, LargeBinary
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column

from registry import bulk, merkle
from registry.db import Base
from registry.errors import YimaError


class AuditTree(Base):
    """The hashes of the complete subtrees of the audit log's Merkle tree that end at one leaf."""

    __tablename__ = "audit_tree"

    leaf: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)  # level 0, 1, …: 32 bytes each


class TreeIncomplete(YimaError):
    """The stored tree lacks a node it should have: a fault of the server, not of the request."""

    status = 500


def last_leaf(level: int, idx: int) -> int:
    """The leaf at which node (level, idx) ends: the ``audit_tree`` row that holds it."""
    return ((idx + 1) << level) - 1


def levels_at(leaf: int) -> int:
    """How many nodes end at ``leaf``: 1 + its trailing one bits."""
    return (~leaf & (leaf + 1)).bit_length()


# --- pure: which nodes an append creates and needs --------------------------------------------


def nodes_of(leaves: Iterable[bytes], start: int = 0, frontier: list | None = None) -> Iterator[tuple]:
    """Yield ``(level, idx, hash)`` of every node completed by appending ``leaves`` at index ``start``.

    ``frontier`` holds the hashes of the complete subtrees of the tree of size ``start``, largest
    first (``merkle.aligned_nodes(0, start)``); it is updated in place to the new tree's frontier.
    """
    stack = [] if frontier is None else frontier
    for j, leaf in enumerate(leaves, start):
        yield 0, j, leaf
        h, level, idx = leaf, 0, j
        while idx & 1:
            h = merkle.node_hash(stack.pop(), h)
            level, idx = level + 1, idx >> 1
            yield level, idx, h
        stack.append(h)


def rows_of(
    leaves: Iterable[bytes], start: int = 0, frontier: list | None = None
) -> Iterator[tuple[int, bytes]]:
    """``(leaf, hashes)``: the ``audit_tree`` rows that appending ``leaves`` at ``start`` writes (see ``nodes_of``)."""
    leaf, parts = None, []
    for level, idx, h in nodes_of(leaves, start, frontier):
        if level == 0:
            if parts:
                yield leaf, b"".join(parts)
            leaf, parts = idx, []
        parts.append(h)
    if parts:
        yield leaf, b"".join(parts)


# --- writing ---------------------------------------------------------------------------------


class _Cursor:
    """A DBAPI cursor on the caller's transaction, and its driver's parameter marker."""

    def __init__(self, target):
        conn = target.connection() if isinstance(target, Session) else target
        if isinstance(conn, Connection):
            self.cur = conn.connection.dbapi_connection.cursor()
            self.pg, self.own = conn.dialect.name == "postgresql", True
            self.database = str(conn.engine.url)
        else:  # already a DBAPI cursor: sqlite3.Cursor or psycopg.Cursor
            self.cur, self.own, self.database = conn, False, None
            self.pg = not type(conn).__module__.startswith("sqlite3")
        self.mark = "%s" if self.pg else "?"

    def fetch(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The stored hashes of nodes ``(level, idx)`` (those the table has)."""
        if not keys:
            return {}
        rows = sorted({last_leaf(*k) for k in keys})
        self.cur.execute(
            f"SELECT leaf, hashes FROM audit_tree WHERE leaf IN ({', '.join([self.mark] * len(rows))})", rows
        )
        stored = {r[0]: bytes(r[1]) for r in self.cur.fetchall()}
        found = {}
        for level, idx in keys:
            h = stored.get(last_leaf(level, idx), b"")[32 * level : 32 * (level + 1)]
            if len(h) == 32:
                found[(level, idx)] = h
        return found

    def insert(self, rows: list[tuple[int, bytes]]) -> None:
        bulk.insert_many(
            self.cur, "audit_tree", ("leaf", "hashes"), rows, postgresql=self.pg, database=self.database or ""
        )

    def tree_size(self) -> int:
        self.cur.execute("SELECT max(leaf) FROM audit_tree")
        top = self.cur.fetchone()[0]
        return 0 if top is None else top + 1

    def entry_hashes(self, first_seq: int, last_seq: int) -> list[tuple[int, str]]:
        m = self.mark
        self.cur.execute(
            f"SELECT seq, hash FROM audit_entry WHERE seq >= {m} AND seq <= {m} ORDER BY seq",
            [first_seq, last_seq],
        )
        return [(r[0], r[1]) for r in self.cur.fetchall()]

    def close(self) -> None:
        if self.own:
            self.cur.close()


#: per database: (tree size, hash of the entry at that seq, the tree's frontier). The chain fixes every
#: earlier hash, and the tree is a function of the hashes, so the frontier is right whenever the log's
#: entry ``size`` has that hash, whoever wrote it, rolled back or not; it saves the append's one read
_FRONTIER: dict[str, tuple[int, str, list[bytes]]] = {}


def append(target, entries: Iterable, *, database: str | None = None) -> int:
    """Add ``entries`` (just appended to the audit log, in seq order) to the stored tree; return the new size.

    ``target`` is the transaction the entries were written in: an ORM Session or a Core Connection
    (preferred: its database is known, so the frontier of the last append is reused), or a DBAPI
    cursor (sqlite3 or psycopg; pass ``database``, the engine URL, to reuse the frontier). Call it while holding the chain's lock (the advisory lock
    ``audit.PG_LOCK_KEY`` on PostgreSQL, the write lock on SQLite), before committing. Each entry is
    an ``AuditEntry`` or a ``(seq, hash_hex)`` pair. If the tree is behind the log (entries written
    by a path that did not call this), the missing leaves are added first, read from the log.
    """
    entries = list(entries)
    items = [(e.seq, e.hash) if hasattr(e, "seq") else (e[0], e[1]) for e in entries]
    if not items:
        return 0
    start = items[0][0] - 1
    if [s for s, _ in items] != list(range(start + 1, start + 1 + len(items))):
        raise ValueError("entries must be consecutive, in seq order")
    cur = _Cursor(target)
    cur.database = cur.database or database
    try:
        cached = _FRONTIER.get(cur.database) if cur.database else None
        if cached and cached[:2] == (start, getattr(entries[0], "prev_hash", None)):
            frontier = list(cached[2])
        else:
            start, items, frontier = _load_frontier(cur, start, items)
        cur.insert(list(rows_of((merkle.entry_leaf(h) for _, h in items), start, frontier)))
    finally:
        cur.close()
    if cur.database:
        _FRONTIER[cur.database] = (start + len(items), items[-1][1], frontier)
    return start + len(items)


def forget_frontiers() -> None:
    """Drop the remembered frontiers (after the stored tree was rebuilt or edited by hand)."""
    _FRONTIER.clear()


def _load_frontier(cur: _Cursor, start: int, items: list) -> tuple[int, list, list[bytes]]:
    """Read the frontier of the tree of size ``start`` (one query); first catch up if the tree is behind."""
    keys = merkle.aligned_nodes(0, start)
    known = cur.fetch(keys + ([(0, start - 1)] if start else []))
    if start and (0, start - 1) not in known:
        size = cur.tree_size()
        if size > start:
            raise TreeIncomplete(f"the stored tree has no leaf {start - 1} but {size} leaves")
        missing = cur.entry_hashes(size + 1, start)
        if [s for s, _ in missing] != list(range(size + 1, start + 1)):
            raise TreeIncomplete(f"the audit log has a gap after entry {size}: run 'yima audit verify'")
        items, start = missing + items, size
        keys = merkle.aligned_nodes(0, start)
        known = cur.fetch(keys)
    if any(k not in known for k in keys):
        raise TreeIncomplete(
            f"the stored tree of size {start} lacks a node of its frontier: run 'yima audit verify'"
        )
    return start, items, [known[k] for k in keys]


# --- reading ---------------------------------------------------------------------------------


def size(session: Session) -> int:
    """How many leaves the stored tree has (the size a checkpoint signs)."""
    cur = _Cursor(session)
    try:
        return cur.tree_size()
    finally:
        cur.close()


def _fetch(session: Session, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    # plain DBAPI, like append: building and compiling an ORed Core expression per proof costs more than the query
    keys = sorted(set(keys))
    cur = _Cursor(session)
    try:
        found = cur.fetch(keys)
    finally:
        cur.close()
    missing = [k for k in keys if k not in found]
    if missing:
        level, idx = missing[0]
        raise TreeIncomplete(
            f"the stored audit tree lacks node (level {level}, index {idx}): run 'yima audit verify'"
        )
    return found


def range_hashes(session: Session, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """MTH(D[lo:hi]) for each range, from the stored subtrees, in one query."""
    parts = [merkle.aligned_nodes(lo, hi) for lo, hi in ranges]
    found = _fetch(session, (k for keys in parts for k in keys))
    return [merkle.compose([found[k] for k in keys]) for keys in parts]


def root(session: Session, tree_size: int) -> bytes:
    """MTH(D[0:tree_size]) from the stored tree (``tree_size`` at most ``size(session)``)."""
    return range_hashes(session, [(0, tree_size)])[0] if tree_size else merkle.EMPTY_ROOT


def inclusion(session: Session, index: int, tree_size: int) -> list[bytes]:
    """The RFC 9162 inclusion proof of leaf ``index`` in the tree of ``tree_size`` leaves."""
    return range_hashes(session, merkle.inclusion_ranges(index, tree_size))


def consistency(session: Session, first: int, second: int) -> list[bytes]:
    """The RFC 9162 consistency proof from the tree of ``first`` leaves to the one of ``second``."""
    return range_hashes(session, merkle.consistency_ranges(first, second))
