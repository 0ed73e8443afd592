"""Recompute the audit log's Merkle tree from the entries themselves, never trusting the stored tree, and compare.

One pass over the entries' ``hash`` column in seq order with a frontier of O(log n) hashes: it
yields the roots of any tree sizes asked for (to check checkpoints against) and, window by window,
compares the ``audit_tree`` row of every leaf with what the entries give, so a stored tree that was
recomputed differently, lost a row or gained one is named. ``rebuild`` rewrites it from the entries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session

from registry import merkle, merkle_store
from registry.audit import PG_LOCK_KEY, AuditEntry
from registry.merkle_store import AuditTree, TreeIncomplete

#: leaves per comparison window: one query of the stored rows per window
WINDOW = 1 << 14
#: at most this many differences are described
MAX_PROBLEMS = 20

_T = AuditTree.__table__


@dataclass
class Recomputed:
    """What the entries say: the log's size, the roots of the sizes asked for (and of ``size`` itself),
    and where the stored tree differs."""

    size: int
    roots: dict[int, bytes]
    problems: list[str] = field(default_factory=list)

    @property
    def stored_ok(self) -> bool:
        return not self.problems


def _entry_hashes(session: Session):
    query = select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq)
    return session.execute(query.execution_options(yield_per=WINDOW)).partitions(WINDOW)


def recompute(session: Session, sizes: Iterable[int] = ()) -> Recomputed:
    """Recompute the tree over every entry; ``roots`` holds MTH(D[0:s]) for each ``s`` in ``sizes`` ≤ the log's size.

    Reads the log once (its ``hash`` column: whether each hash matches its entry is ``audit.verify``'s
    job) and the stored tree once, window by window; memory stays O(window + log n).
    """
    want = set(sizes)
    roots = {0: merkle.EMPTY_ROOT} if 0 in want else {}
    problems: list[str] = []
    frontier: list[bytes] = []  # the complete subtrees so far, largest first
    size, gap = 0, False
    for part in _entry_hashes(session):
        lo, leaves = size, []
        for seq, entry_hash in part:
            if seq != lo + len(leaves) + 1:
                problems.append(
                    f"the log has no entry {lo + len(leaves) + 1} (the next is {seq}): the tree stops there"
                )
                gap = True
                break
            leaves.append(merkle.entry_leaf(entry_hash))
        produced = {}
        for leaf, hashes in merkle_store.rows_of(leaves, lo, frontier):
            produced[leaf] = hashes
            if (
                leaf + 1 in want
            ):  # rows_of yields leaf's row once leaf is added: frontier is then the tree of leaf+1
                roots[leaf + 1] = merkle.compose(frontier)
        size = lo + len(leaves)
        _compare_window(session, lo, size, produced, problems)
        if gap:
            break
    roots[size] = merkle.compose(frontier)
    stored = session.scalar(select(func.count()).select_from(_T))
    if not gap and stored != size and len(problems) < MAX_PROBLEMS:
        problems.append(f"the stored tree has {stored} rows where the log has {size} entries")
    return Recomputed(size, roots, problems[:MAX_PROBLEMS])


def _compare_window(
    session: Session, lo: int, hi: int, produced: dict[int, bytes], problems: list[str]
) -> None:
    """Compare the stored rows of leaves lo..hi-1 with the ones just recomputed."""
    if lo >= hi or len(problems) >= MAX_PROBLEMS:
        return
    query = select(_T.c.leaf, _T.c.hashes).where(_T.c.leaf >= lo, _T.c.leaf < hi)
    stored = {r[0]: bytes(r[1]) for r in session.execute(query)}
    for leaf in range(lo, hi):
        if stored.get(leaf) != produced.get(leaf):
            what = "is missing" if leaf not in stored else "differs"
            problems.append(
                f"the stored tree's row for leaf {leaf} (entry {leaf + 1}) {what} from what the entries give"
            )
            if len(problems) >= MAX_PROBLEMS:
                return


def rebuild(session: Session) -> int:
    """Recompute the whole stored tree from the log's hashes and return its size; the caller commits.

    A repair, after restoring a backup or when ``recompute`` finds the stored tree damaged. It cannot
    hide a rewrite: the checkpoints already issued still bind the old roots. Holds the chain's lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_LOCK_KEY})
    session.execute(delete(_T))
    merkle_store.forget_frontiers()
    size, frontier = 0, []
    for part in _entry_hashes(session):
        if [r[0] for r in part] != list(range(size + 1, size + 1 + len(part))):
            raise TreeIncomplete(
                f"the audit log has a gap after entry {size}: the tree cannot number its leaves"
            )
        leaves = [merkle.entry_leaf(r[1]) for r in part]
        rows = merkle_store.rows_of(leaves, size, frontier)
        session.execute(insert(_T), [{"leaf": leaf, "hashes": hashes} for leaf, hashes in rows])
        size += len(part)
    return size
