"""Change events: every audit entry is one, of type ``{entity_type}.{action}``; the webhooks and the feed read them here.

The audit log is the outbox. Each entry is written in its change's own transaction, and writers
serialize on the chain's head (an advisory lock held until commit on PostgreSQL, the write lock on
SQLite), so entries become visible in ``seq`` order and without gaps: a reader that has seen ``seq``
N will never later find an entry below N appear. A rolled-back change leaves no entry, so it is
never announced; a committed one stays until a cursor passes it, so it is never lost.
(``tests/webhooks/test_outbox_order.py`` checks the claim on both databases.)

Events that are not audit entries (the signed checkpoints of the evidence work, type
``audit.checkpoint``, from ``webhooks.checkpoint_events``) can join the same stream through
``register_source``: a source places each of its events at a ``seq`` (delivered right after that
entry), so order and cursors stay as they are. Such a source is asked only by readers whose patterns
name its type (``audit.*``, ``audit.checkpoint``): ``*`` stays "every change".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import orjson
from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from registry.audit import AuditEntry
from webhooks.patterns import Matcher

_T = AuditEntry.__table__
_TYPE = _T.c.entity_type + literal(".") + _T.c.action
_HEAD = select(func.max(_T.c.seq))
#: the most events one read returns
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Event:
    """One change as sent: ``{"type", "timestamp", "data"}`` (``body``); ``seq`` places it in the stream."""

    seq: int
    type: str
    timestamp: str
    data: dict
    #: what tells events at one ``seq`` apart in a message id ("" for the audit entry itself)
    suffix: str = ""

    def body(self) -> dict:
        return {"type": self.type, "timestamp": self.timestamp, "data": self.data}

    def feed_item(self) -> dict:
        return {"seq": self.seq, **self.body()}

    def encoded(self) -> bytes:
        """The exact bytes POSTed and signed (compact UTF-8 JSON)."""
        return orjson.dumps(self.body())


def from_entry(entry: AuditEntry) -> Event:
    """The event of an audit entry: its data is the entry as ``GET /api/v1/audit`` shows it."""
    return Event(entry.seq, f"{entry.entity_type}.{entry.action}", entry.at, entry.to_dict())


#: (session, after_seq, upto_seq) -> events of another kind placed at seqs in (after_seq, upto_seq]
Source = Callable[[Session, int, int], list[Event]]
#: name -> (the event type the source makes, the source)
_SOURCES: dict[str, tuple[str, Source]] = {}


def register_source(name: str, source: Source, event_type: str | None = None) -> None:
    """Add events of ``event_type`` (default ``name``) that are not audit entries to the stream (e.g.
    ``audit.checkpoint``); asked only by readers whose patterns name that type. See the module doc."""
    _SOURCES[name] = (event_type or name, source)


def unregister_source(name: str) -> None:
    _SOURCES.pop(name, None)


def head_seq(session: Session) -> int:
    """The newest committed ``seq`` (0 for an empty log)."""
    return session.scalar(_HEAD) or 0


@dataclass
class Batch:
    """Events after a cursor, in order, and how far the read looked (``scanned_to``: the next cursor)."""

    events: list[Event]
    scanned_to: int
    head: int


def read(session: Session, after_seq: int, matcher: Matcher, limit: int = 200) -> Batch:
    """The events after ``after_seq`` that ``matcher`` accepts, at most ``limit``, in ``seq`` order.

    ``scanned_to`` is the cursor to continue from: the newest seq looked at, matching or not, so a
    subscription that matches little never re-reads what it skipped.
    """
    limit = max(1, min(MAX_LIMIT, limit))
    head = head_seq(session)
    if head <= after_seq:
        return Batch([], after_seq, head)
    # read the head first: every seq up to it is committed, so the range read below has no holes
    query = select(AuditEntry).where(_T.c.seq > after_seq, _T.c.seq <= head).order_by(_T.c.seq).limit(limit)
    clause = matcher.sql(_TYPE)
    if clause is not None:
        query = query.where(clause)
    rows = list(session.scalars(query))
    scanned_to = rows[-1].seq if len(rows) == limit else head
    found = [from_entry(e) for e in rows if matcher.matches(f"{e.entity_type}.{e.action}")]
    for event_type, source in list(_SOURCES.values()):
        if matcher.names(event_type):
            found.extend(e for e in source(session, after_seq, scanned_to) if matcher.names(e.type))
    found.sort(key=lambda e: (e.seq, e.suffix))
    return Batch(found, scanned_to, head)
