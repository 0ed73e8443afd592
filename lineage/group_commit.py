"""Group commit for lineage intake: concurrent requests' events written in one transaction and one turn at
the writers' lock and the audit chain's lock, each request answered only after the commit that holds its
event; on any error the batch is rolled back and each event is applied on its own.

Why: each event alone is one transaction, one wait for the writer lock (SQLite) or the audit chain's
advisory lock (PostgreSQL) and one commit (an fsync). Under a hundred concurrent producers the lock and
the commit, not the statements, set the rate. The batch forms by itself — whoever arrives while a batch
is being written waits for the next one, led by the first of them — so one producer alone waits for no
one and many share a commit. One wait, bounded (``GATHER_SECONDS``, PostgreSQL only): the producers
of a batch are answered together and come back together, so the first of them back waits for half as
many before it writes (``GroupCommit._gather``); after a batch of one there is none.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from lineage.store import Raw, writers_queue

log = logging.getLogger("yima.lineage")

#: events per transaction at most: a bounded wait for the last of a batch and a bounded rollback
MAX_BATCH = 256
#: seconds a batch's leader waits at most for the producers of the batch before to come back (see ``_gather``)
GATHER_SECONDS = 0.004


#: what a ``settle`` hook answers for an item to be applied in its own transaction after the batch
ALONE = object()


class _Item:
    __slots__ = ("apply", "key", "data", "woken", "lead", "done", "result", "alone")

    def __init__(self, apply: Callable[[Raw], Any], key: str | None, data: Any = None):
        self.apply = apply
        self.key = key
        self.data = data  # what ``begin`` may prepare for this item (e.g. the nodes it names)
        # a lock taken now and released once to wake this item's thread: cheaper than an Event (whose
        # set() goes through a Condition), which was a tenth of the worker's GIL time under 100 producers
        self.woken = threading.Lock()
        self.woken.acquire()
        self.lead = False  # this item's thread writes the next batch
        self.done = False
        self.result = None
        self.alone = False  # the batch failed: apply this one in its own transaction


class GroupCommit:
    """The queue of one database's pending writes (one per engine, per process).

    ``begin(raw, keys, data)`` is called at the start of each batch with the batch's keys (e.g. jobs),
    sorted, and its items' ``data``, in order: the locks the writes take are taken once, in one order,
    before any write (batches of two processes never hold one another's locks crosswise), and what the
    items will look up can be looked up once for all of them.
    """

    def __init__(
        self,
        begin: Callable[[Raw, list[str], list], None] | None = None,
        settle: Callable[[Session, list, Exception], dict] | None = None,
    ):
        self._begin = begin
        #: after a failed batch (rolled back): ``settle(session, data, exc)`` → {index: its answer, or
        #: ``ALONE``} for the items that need no write in it; the others are written again together
        self._settle = settle
        #: events per transaction at most (1: every event its own transaction, the benchmark's baseline)
        self.max_batch = MAX_BATCH
        #: what this process has written so far: events in shared transactions, those transactions, and
        #: batches that failed and went one by one
        self.events = self.transactions = self.fallbacks = 0
        self.settled = 0  # batches that failed on items needing no write, written again without them
        self._guard = threading.Lock()
        self._queue: list[_Item] = []
        self._leading = False
        #: how many events the last batch held, and whether a leader waits for the queue to fill (``_gather``)
        self.gather = GATHER_SECONDS
        self._last = 0
        self._gathering = False
        self._grown = threading.Condition(self._guard)

    def submit(
        self, session: Session, apply: Callable[[Raw], Any], alone: Callable[[], Any], key=None, data=None
    ):
        """Run ``apply(raw)`` (statements only, no commit) in the next batch and return its result once
        that batch has committed. If the batch failed, run ``alone()`` (the one-event path, which commits
        or raises on its own) instead and return what it returns."""
        item = _Item(apply, key, data)
        with self._guard:
            self._queue.append(item)
            if not self._leading:
                self._leading = item.lead = True
            elif self._gathering:
                self._grown.notify()
        if not item.lead:
            item.woken.acquire()  # released once: by the leader of its batch, or to lead the next one
        if item.lead and not item.done:
            self._lead(session)
        if item.alone:
            return alone()
        return item.result

    def write_together(self, session: Session, prepared: list[tuple]) -> list:
        """Write writes at hand in order, ``max_batch`` to a transaction, without waiting for others
        (a bulk load): each ``(apply, alone, key, data)`` as ``submit`` takes them; returns their
        results in order. Beside concurrent batches of this process as beside another process's."""
        results = []
        for start in range(0, len(prepared), self.max_batch):
            batch = [
                _Item(apply, key, data) for apply, _, key, data in prepared[start : start + self.max_batch]
            ]
            self._write(session, batch)
            for item, (_, alone, _, _) in zip(batch, prepared[start : start + self.max_batch], strict=True):
                results.append(alone() if item.alone else item.result)
        return results

    def _lead(self, session: Session) -> None:
        batch: list[_Item] = []
        written = False
        try:
            with self._guard:
                try:
                    self._gather()
                finally:  # whatever happens, the queue is taken and (below) handed over: never left leaderless
                    batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                    self._last = len(batch)
            written = True  # from here ``_write`` answers every item, or marks it to go alone
            self._write(session, batch)
        finally:
            for item in batch:
                item.done = True
                item.alone = item.alone or not written
            with self._guard:
                if self._queue:  # hand over: the first who waits leads the next batch
                    self._queue[0].lead = True
                    self._queue[0].woken.release()
                else:
                    self._leading = False
            for item in batch:
                if not item.lead:  # the leader is this thread (awake), woken to lead if it waited at all
                    item.woken.release()

    def _gather(self) -> None:
        """(Under the guard.) If the last batch held many events and few wait now, wait a moment for
        more (at most ``gather`` seconds, until half the last batch's count are queued).

        Why: the producers of a batch are answered together and come back together; the first of them
        to return found no batch being written and led one of its own, alone, while the others queued
        behind it — PostgreSQL's log showed batches of 32, 1, 32, 1…: half the transactions, each with
        its fixed statements, round trips and commit, for one event. (PostgreSQL's ``commit_delay``
        answers the same problem the same way.) A producer alone never waits: its last batch held one."""
        want = min(self._last, self.max_batch) // 2
        if self.gather <= 0 or want < 2 or len(self._queue) >= want:
            return
        deadline = time.monotonic() + self.gather
        self._gathering = True
        try:
            while len(self._queue) < want:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._grown.wait(left)
        finally:
            self._gathering = False

    def _write(self, session: Session, batch: list[_Item], settle: bool = True) -> None:
        committed, results, raw = False, [], None
        try:
            with writers_queue(session):
                raw = Raw(session)
                try:
                    with raw.pipeline():
                        if self._begin is not None:
                            keys = sorted({i.key for i in batch if i.key is not None})
                            self._begin(raw, keys, [i.data for i in batch])
                        results = [item.apply(raw) for item in batch]
                        raw.flush()  # what the items deferred, each table at once
                        raw.write_audit()
                        raw.commit()  # PostgreSQL: queued behind them, one wait for all
                finally:
                    # before the commit: the commit hands the connection back to the pool, which may
                    # close it (an overflow connection), and a cursor closed after that raises
                    raw.close()
                session.commit()
                committed = True
        except BaseException as exc:
            committed = committed or (raw is not None and raw.committed)
            if not committed:
                if settle and isinstance(exc, Exception) and self._settled(session, batch, exc):
                    return
                self._failed(session, batch, exc)
                if not isinstance(exc, Exception):
                    raise  # SystemExit, KeyboardInterrupt: this thread stops, the others carry on
                return
            # the batch is stored: its answers stand (redoing it would answer "duplicate" for new events)
            log.warning(
                "lineage group commit: an error after the commit of %d events", len(batch), exc_info=exc
            )
            if not isinstance(exc, Exception):
                self._answer(batch, results)
                raise
        self._answer(batch, results)

    def _settled(self, session: Session, batch: list[_Item], exc: Exception) -> bool:
        """Nothing of the batch was stored: answer the items ``settle`` says need no write, and write the
        rest again as one batch (once: if that fails too, each of its items goes alone). False: no
        such item, or no ``settle``."""
        if self._settle is None:
            return False
        try:
            session.rollback()
            settled = self._settle(session, [i.data for i in batch], exc)
        except Exception as failed:
            log.warning("lineage group commit: could not look into a failed batch (%r)", failed)
            return False
        if not settled:
            return False
        self.settled += 1
        rest = []
        for n, item in enumerate(batch):
            found = settled.get(n)
            if found is None:
                rest.append(item)
            elif found is ALONE:
                item.alone = True
            else:
                item.result = found
        if rest:
            self._write(session, rest, settle=False)
        return True

    def _answer(self, batch: list[_Item], results: list) -> None:
        self.transactions += 1
        self.events += len(batch)
        for item, result in zip(batch, results, strict=True):
            item.result = result

    def _failed(self, session: Session, batch: list[_Item], exc: BaseException) -> None:
        """Nothing of the batch was stored: every request applies its own event alone."""
        session.rollback()
        self.fallbacks += 1
        if len(batch) > 1:
            log.info(
                "lineage group commit: a batch of %d events failed (%r); each is written alone",
                len(batch),
                exc,
            )
        for item in batch:
            item.alone = True  # answered by each request on its own: never left without an answer


_COMMITTERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_COMMITTERS_GUARD = threading.Lock()


def committer(
    session: Session,
    begin: Callable[[Raw, list[str], list], None] | None = None,
    settle: Callable[[Session, list, Exception], dict] | None = None,
) -> GroupCommit:
    """The ``GroupCommit`` of the session's database in this process (made on first use).

    Keyed by the engine's connection pool, which the engine's variants share (``Database.writer()``'s
    sessions are bound to ``engine.execution_options(…)``, a different object): one queue per database,
    whichever session asks."""
    pool = session.get_bind().pool
    with _COMMITTERS_GUARD:
        found = _COMMITTERS.get(pool)
        if found is None:
            found = _COMMITTERS[pool] = GroupCommit(begin, settle)
            # SQLite: a batch's fixed cost is small, and waiting for it to fill measured no gain
            if session.get_bind().dialect.name != "postgresql":
                found.gather = 0.0
        else:  # made first by someone only looking at its counters
            found._begin = begin or found._begin
            found._settle = settle or found._settle
        return found
