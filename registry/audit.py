"""The tamper-evident audit chain: one hash-linked entry per change, written in the change's transaction.

Entry format and hash rule are the contract's ("Audit"): ``hash`` is the SHA-256 hex of
``prev_hash + "\\n" + C`` where C is the canonical JSON of the entry without ``hash`` and
``prev_hash``. The first entry's ``prev_hash`` is 64 zeros.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import Index, String, Text, func, insert, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from registry import merkle_store
from registry.db import Base
from registry.jsonutil import canonical, jsonable, sha256_hex

GENESIS = "0" * 64
#: the PostgreSQL advisory lock every audited write holds until it commits, so the chain never forks
PG_LOCK_KEY = 0x59494D41  # "YIMA"


class AuditEntry(Base):
    """One link of the chain. ``before``/``after`` are stored as canonical JSON text, exactly as hashed."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_entity", "entity_type", "entity_key"),)

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(40))
    entity_type: Mapped[str] = mapped_column(String(60))
    entity_key: Mapped[str] = mapped_column(String(500))
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    def body(self) -> dict:
        """The entry as hashed: every field but ``hash`` and ``prev_hash``."""
        return {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "entity_type": self.entity_type,
            "entity_key": self.entity_key,
            "before": None if self.before is None else json.loads(self.before),
            "after": None if self.after is None else json.loads(self.after),
        }

    def to_dict(self) -> dict:
        return {**self.body(), "prev_hash": self.prev_hash, "hash": self.hash}


def entry_hash(prev_hash: str, body: dict) -> str:
    """The contract's hash rule, in one place."""
    return sha256_hex(prev_hash + "\n" + canonical(body))


def now() -> str:
    """The time an entry is stamped with: UTC, ISO 8601, microseconds, "Z"."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def next_entry(
    head_row,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_key: str,
    before: dict | None,
    after: dict | None,
) -> AuditEntry:
    """Build (not store) the entry that follows ``head_row`` (``(seq, hash)`` of the newest entry, or None).

    The one place an entry and its hash are made: ``record`` uses it, and so does any hot path that
    writes the entry with its own statement while holding the chain's lock (``PG_LOCK_KEY``).
    """
    seq, prev = (head_row[0] + 1, head_row[1]) if head_row else (1, GENESIS)
    entry = AuditEntry(
        seq=seq,
        at=now(),
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_key=str(entity_key),
        before=None if before is None else canonical(jsonable(before)),
        after=None if after is None else canonical(jsonable(after)),
        prev_hash=prev,
    )
    entry.hash = entry_hash(prev, entry.body())
    return entry


def row_values(entry: AuditEntry) -> dict:
    """The entry's column values, for an INSERT."""
    return {c.name: getattr(entry, c.key) for c in _TABLE.columns}


_TABLE = AuditEntry.__table__
_SELECT_HEAD = select(_TABLE.c.seq, _TABLE.c.hash).order_by(_TABLE.c.seq.desc()).limit(1)
_LOCK = text("SELECT pg_advisory_xact_lock(:k)")


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_key: str,
    before: dict | None,
    after: dict | None,
) -> AuditEntry:
    """Append one entry for a change made in ``session``'s transaction, and return it.

    The entry is part of the caller's transaction: if the caller rolls back, no entry remains.
    Concurrent writers are serialized on the chain's head (an advisory lock on PostgreSQL, the
    database write lock on SQLite), so two changes can never claim the same ``prev_hash``.
    """
    session.flush()  # the change itself first: on SQLite this also holds the write lock
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_LOCK, {"k": PG_LOCK_KEY})
    entry = next_entry(
        session.execute(_SELECT_HEAD).first(),
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_key=entity_key,
        before=before,
        after=after,
    )
    session.execute(insert(_TABLE), row_values(entry))  # Core: no unit-of-work cost while the chain is locked
    merkle_store.append(session, [entry])  # evidence (issue 11): the entry's leaf, same transaction and lock
    return entry


def record_change(
    session: Session,
    *,
    actor: str,
    entity_type: str,
    entity_key: str,
    before: dict | None,
    after: dict | None,
) -> AuditEntry | None:
    """``record`` with the action read off the states: create (no ``before``), delete (no ``after``) or
    update; an update that changes nothing records nothing (and returns None)."""
    if before is None:
        action = "create"
    elif after is None:
        action = "delete"
    elif canonical(jsonable(before)) == canonical(jsonable(after)):
        return None
    else:
        action = "update"
    return record(
        session,
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_key=entity_key,
        before=before,
        after=after,
    )


def head(session: Session) -> str | None:
    """The hash of the newest entry, or None for an empty chain."""
    return session.scalar(select(AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1))


def list_entries(
    session: Session,
    *,
    entity_type: str | None = None,
    entity_key: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    after_seq: int | None = None,
    page: int = 1,
    per_page: int = 50,
    newest_first: bool = False,
) -> tuple[list[AuditEntry], int]:
    """Entries by ``seq`` (oldest first unless asked), filtered, one page at a time; and the total."""
    query = select(AuditEntry)
    if entity_type:
        query = query.where(AuditEntry.entity_type == entity_type)
    if entity_key:
        query = query.where(AuditEntry.entity_key == entity_key)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action == action)
    if after_seq is not None:
        query = query.where(AuditEntry.seq > after_seq)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    order = AuditEntry.seq.desc() if newest_first else AuditEntry.seq
    items = session.scalars(query.order_by(order).offset((page - 1) * per_page).limit(per_page)).all()
    return list(items), total


# --- current-state checks -------------------------------------------------------------------

SnapshotFn = Callable[[Session, str], dict | None]
KeysFn = Callable[[Session], Iterable[str]]
SnapshotAllFn = Callable[[Session], dict[str, dict]]


@dataclass(frozen=True)
class AuditedEntity:
    """How verify reads an entity type's current state: ``snapshot`` must return what ``after`` held.

    ``snapshot_all`` (optional) returns every current entity's state by key in one go, for types with
    many entities (lineage events); verify then makes one query instead of one per entity.
    """

    snapshot: SnapshotFn
    keys: KeysFn
    snapshot_all: SnapshotAllFn | None = None


_ENTITIES: dict[str, AuditedEntity] = {}


def register_entity(
    entity_type: str, snapshot: SnapshotFn, keys: KeysFn, snapshot_all: SnapshotAllFn | None = None
) -> None:
    """Declare an audited entity type. Domain packages call this when they are imported."""
    _ENTITIES[entity_type] = AuditedEntity(snapshot, keys, snapshot_all)


def registered_entities() -> dict[str, AuditedEntity]:
    return dict(_ENTITIES)


@dataclass
class VerifyResult:
    ok: bool
    count: int
    head: str | None
    first_bad_seq: int | None
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "count": self.count,
            "head": self.head,
            "first_bad_seq": self.first_bad_seq,
            "problems": self.problems,
        }


def verify(
    session: Session, *, check_state: bool = True, progress: Callable[[int], None] | None = None
) -> VerifyResult:
    """Re-compute the whole chain and compare every audited entity's current state with its last entry.

    Returns a result naming the first entry that is broken (altered, removed, re-ordered, or whose
    entity was changed outside Yima). Never raises for a broken chain.
    """
    problems: list[str] = []
    bad: list[int] = []
    prev, expected_seq, count, head_hash = GENESIS, 1, 0, None
    last_after: dict[tuple[str, str], tuple[int, str | None]] = {}
    rows = session.execute(
        select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=2000)
    ).scalars()
    for entry in rows:
        count += 1
        if entry.seq != expected_seq:
            problems.append(f"entry {expected_seq} is missing (next is {entry.seq})")
            bad.append(entry.seq)
        try:
            body = entry.body()
        except ValueError:
            problems.append(f"entry {entry.seq}: before/after is not valid JSON")
            bad.append(entry.seq)
            body = None
        if entry.prev_hash != prev:
            problems.append(f"entry {entry.seq}: prev_hash does not link to entry {entry.seq - 1}")
            bad.append(entry.seq)
        elif body is not None and entry_hash(prev, body) != entry.hash:
            problems.append(
                f"entry {entry.seq}: content does not match its hash (altered after it was written)"
            )
            bad.append(entry.seq)
        prev = entry.hash
        head_hash = entry.hash
        expected_seq = entry.seq + 1
        if entry.entity_type in _ENTITIES:
            last_after[(entry.entity_type, entry.entity_key)] = (entry.seq, entry.after)
        if progress and count % 2000 == 0:
            progress(count)
    session.expunge_all()
    if check_state:
        bulk = {etype: spec.snapshot_all(session) for etype, spec in _ENTITIES.items() if spec.snapshot_all}
        for (etype, key), (seq, after_text) in last_after.items():
            current = bulk[etype].get(key) if etype in bulk else _ENTITIES[etype].snapshot(session, key)
            after = None if after_text is None else json.loads(after_text)
            if canonical(jsonable(current)) != canonical(after):
                what = "was deleted" if current is None else "was changed"
                problems.append(f"entry {seq}: {etype} {key!r} {what} outside Yima since this entry")
                bad.append(seq)
        for etype, spec in _ENTITIES.items():
            for key in bulk[etype] if etype in bulk else spec.keys(session):
                if (etype, str(key)) not in last_after:
                    problems.append(f"{etype} {key!r} exists but no audit entry records it")
    first_bad = min(bad) if bad else None
    return VerifyResult(
        ok=not problems, count=count, head=head_hash, first_bad_seq=first_bad, problems=problems
    )
