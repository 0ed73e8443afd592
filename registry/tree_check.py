"""Recompute the audit log's Merkle tree from the entries themselves, never trusting the stored tree, and compare.

One pass over the entries' ``hash`` column in seq order with a frontier of O(log n) hashes: it
yields the roots of any tree sizes asked for (to check checkpoints against) and, window by window,
compares every node it completes with ``audit_tree_node``, so a stored tree that was recomputed
differently, lost a row or gained one is named.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import and_, delete, func, insert, or_, select, text
from sqlalchemy.orm import Session

from registry import merkle, merkle_store
from registry.audit import PG_LOCK_KEY, AuditEntry
from registry.merkle_store import AuditTreeNode, TreeIncomplete

#: leaves per comparison window: one query of the stored nodes per window
WINDOW = 1 << 14
#: at most this many differences are described
MAX_PROBLEMS = 20

_T = AuditTreeNode.__table__


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


def recompute(session: Session, sizes: Iterable[int] = ()) -> Recomputed:
    """Recompute the tree over every entry; ``roots`` holds MTH(D[0:s]) for each ``s`` in ``sizes`` ≤ the log's size.

    Reads the log once (its ``hash`` column: whether each hash matches its entry is ``audit.verify``'s
    job) and the stored tree once, window by window; memory stays O(window + log n).
    """
    want = set(sizes)
    roots = {0: merkle.EMPTY_ROOT} if 0 in want else {}
    problems: list[str] = []
    stack: list[bytes] = []  # the frontier: hashes of the complete subtrees so far, largest first
    size = made = 0
    gap = False
    rows = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq).execution_options(yield_per=WINDOW)
    )
    for part in rows.partitions(WINDOW):
        lo, produced = size, {}
        for seq, entry_hash in part:
            if seq != size + 1:
                problems.append(f"the log has no entry {size + 1} (the next is {seq}): the tree stops there")
                gap = True
                break
            h, level, idx = merkle.entry_leaf(entry_hash), 0, size
            produced[(0, idx)] = h
            while idx & 1:
                h = merkle.node_hash(stack.pop(), h)
                level, idx = level + 1, idx >> 1
                produced[(level, idx)] = h
            stack.append(h)
            size += 1
            if size in want:
                roots[size] = merkle.compose(stack)
        made += len(produced)
        _compare_window(session, lo, size, produced, problems)
        if gap:
            break
    roots[size] = merkle.compose(stack)
    stored = session.scalar(select(func.count()).select_from(_T))
    if not gap and stored != made and len(problems) < MAX_PROBLEMS:
        problems.append(f"the stored tree has {stored} nodes where the {size} entries make {made}")
    return Recomputed(size, roots, problems[:MAX_PROBLEMS])


def _compare_window(session: Session, lo: int, hi: int, produced: dict, problems: list[str]) -> None:
    """Compare the stored nodes completed by leaves lo..hi-1 with the ones just recomputed."""
    if lo >= hi or len(problems) >= MAX_PROBLEMS:
        return
    ranges, level = [], 0
    while True:
        first, stop = ((lo + (1 << level)) >> level) - 1, hi >> level
        if first >= stop:
            break
        ranges.append(and_(_T.c.level == level, _T.c.idx >= first, _T.c.idx < stop))
        level += 1
    stored = {(r[0], r[1]): bytes(r[2]) for r in session.execute(select(_T).where(or_(*ranges)))}
    for key in sorted(produced.keys() | stored.keys()):
        if stored.get(key) != produced.get(key):
            what = "is missing" if key not in stored else "is extra" if key not in produced else "differs"
            problems.append(
                f"stored tree node (level {key[0]}, index {key[1]}) {what} from what the entries give"
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
    rows = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq).execution_options(yield_per=WINDOW)
    )
    for part in rows.partitions(WINDOW):
        if [r[0] for r in part] != list(range(size + 1, size + 1 + len(part))):
            raise TreeIncomplete(
                f"the audit log has a gap after entry {size}: the tree cannot number its leaves"
            )
        leaves = [merkle.entry_leaf(r[1]) for r in part]
        session.execute(
            insert(_T),
            [
                {"level": lv, "idx": ix, "hash": h}
                for lv, ix, h in merkle_store.nodes_of(leaves, size, frontier)
            ],
        )
        size += len(part)
    return size
