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

from sqlalchemy import Index, Integer, String, Text, insert, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from registry import bulk, merkle_store
from registry.actors import organization_of, request_of
from registry.db import Base
from registry.jsonutil import canonical, jsonable, sha256_hex
from registry.paging import DEFAULT_PER_PAGE, Page, paginate

GENESIS = "0" * 64
#: the PostgreSQL advisory lock every audited write holds until it commits, so the chain never forks
PG_LOCK_KEY = 0x59494D41  # "YIMA"
#: PostgreSQL: the channel a committed change is announced on (``webhooks.wakeup`` listens), and the
#: session ``info`` key of a transaction whose announcement ``record_raw`` has queued already
CHANGES_CHANNEL = "yima_changes"
NOTIFIED = "yima_changes_notified"
_NOTIFY_RAW = f"SELECT pg_notify('{CHANGES_CHANNEL}', '')"


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
    # --- review (tokens act for an organization; approvals name their change request) ---------------
    #: the organization the actor acted for; in the body (and so in the hash) only when set, so entries
    #: written before organizations existed keep their hashes
    organization: Mapped[str | None] = mapped_column(String(64))
    #: the change request whose approval made this change; in the body only when set
    request: Mapped[int | None] = mapped_column(Integer)
    # --- end review ---------------------------------------------------------------------------------

    def body(self) -> dict:
        """The entry as hashed: every field but ``hash`` and ``prev_hash`` (``organization`` and
        ``request`` only when set)."""
        body = {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "entity_type": self.entity_type,
            "entity_key": self.entity_key,
            "before": None if self.before is None else json.loads(self.before),
            "after": None if self.after is None else json.loads(self.after),
        }
        if self.organization is not None:
            body["organization"] = self.organization
        if self.request is not None:
            body["request"] = self.request
        return body

    def to_dict(self) -> dict:
        return {**self.body(), "prev_hash": self.prev_hash, "hash": self.hash}


def entry_hash(prev_hash: str, body: dict) -> str:
    """The contract's hash rule, in one place."""
    return sha256_hex(prev_hash + "\n" + canonical(body))


def now() -> str:
    """The time an entry is stamped with: UTC, ISO 8601, microseconds, "Z" (``strftime``'s
    ``%Y-%m-%dT%H:%M:%S.%fZ``, from ``isoformat`` in a third of the time: a batch stamps every entry)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def next_entry(
    head_row,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_key: str,
    before: dict | None,
    after: dict | None,
    plain: bool = False,
) -> AuditEntry:
    """Build (not store) the entry that follows ``head_row`` (``(seq, hash)`` of the newest entry, or None).

    The one place an entry and its hash are made: ``record`` and ``record_raw`` use it (the latter as a
    ``RawEntry``, without the ORM's instrumentation). An ``registry.actors.Actor`` gives the entry its
    ``organization`` and ``request``. ``plain``: ``before`` and ``after`` hold JSON types only (dicts
    with string keys, lists, tuples, strings, numbers, booleans, None), so their canonical text is
    written as they are, without ``jsonable``'s pass over every value (the same text: ``jsonable``
    changes nothing else in them).
    """
    return AuditEntry(**_entry_values(head_row, actor, action, entity_type, entity_key, before, after, plain))


def _entry_values(head_row, actor, action, entity_type, entity_key, before, after, plain) -> dict:
    seq, prev = (head_row[0] + 1, head_row[1]) if head_row else (1, GENESIS)
    text = canonical if plain else _canonical_jsonable
    values = {
        "seq": seq,
        "at": now(),
        "actor": str(actor),
        "organization": organization_of(actor),
        "request": request_of(actor),
        "action": action,
        "entity_type": entity_type,
        "entity_key": str(entity_key),
        "before": None if before is None else text(before),
        "after": None if after is None else text(after),
        "prev_hash": prev,
    }
    values["hash"] = sha256_hex(prev + "\n" + _body_text(values))
    return values


def _canonical_jsonable(value) -> str:
    return canonical(jsonable(value))


@dataclass(slots=True)
class RawEntry:
    """An entry as ``record_raw`` writes it: ``AuditEntry``'s columns, without the ORM's instrumentation
    (a few microseconds per entry, on the path of every ingested event)."""

    seq: int
    at: str
    actor: str
    organization: str | None
    request: int | None
    action: str
    entity_type: str
    entity_key: str
    before: str | None
    after: str | None
    prev_hash: str
    hash: str


_dump = json.JSONEncoder(ensure_ascii=False).encode  # one scalar as canonical JSON writes it


def canonical_body(entry: AuditEntry | RawEntry) -> str:
    """``canonical(entry.body())`` without parsing ``before``/``after`` back from the canonical text
    they are stored as: the keys in sorted order, those two spliced in as they are (the same text
    ``canonical`` would write, since they are canonical JSON already). On the write path of every change."""
    return _body_text({k: getattr(entry, k) for k in _BODY_FIELDS})


_BODY_FIELDS = ("seq", "at", "actor", "organization", "request", "action", "entity_type", "entity_key")
_BODY_FIELDS += ("before", "after")


def _body_text(v: dict) -> str:
    parts = [
        f'{{"action":{_dump(v["action"])},"actor":{_dump(v["actor"])}',
        f',"after":{"null" if v["after"] is None else v["after"]},"at":{_dump(v["at"])}',
        f',"before":{"null" if v["before"] is None else v["before"]}',
        f',"entity_key":{_dump(v["entity_key"])},"entity_type":{_dump(v["entity_type"])}',
    ]
    if v["organization"] is not None:
        parts.append(f',"organization":{_dump(v["organization"])}')
    if v["request"] is not None:
        parts.append(f',"request":{_dump(v["request"])}')
    parts.append(f',"seq":{_dump(v["seq"])}}}')
    return "".join(parts)


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


_COLUMNS = tuple(c.name for c in _TABLE.columns)
_QUOTED_COLUMNS = tuple(f'"{c}"' for c in _COLUMNS)
#: ``record_raw``'s statements (the entries themselves: ``bulk.insert_many``)
_RAW_SQL = {
    postgresql: {
        "lock": "SELECT pg_advisory_xact_lock(%(k)s)",
        "head": "SELECT seq, hash FROM audit_entry ORDER BY seq DESC LIMIT 1",
    }
    for postgresql in (False, True)
}


def record_raw(
    cursor, changes: list[dict], *, postgresql: bool, database: str | None = None, notify: bool = False
) -> list[RawEntry]:
    """``record`` for a hot path that writes its changes on the driver's own cursor (sqlite3 or psycopg)
    of the session's open transaction: the same lock, the same entry builder, one multi-row insert.

    ``changes`` are ``record``'s keywords (actor, action, entity_type, entity_key, before, after, and
    ``next_entry``'s ``plain`` if it holds), one dict per entry, in order. The caller's changes must already be written on that cursor (on SQLite
    this holds the write lock); the entries commit or roll back with them, and so do their leaves in
    the Merkle tree. Called once, just before the commit, the chain's lock is held only for these
    few statements however many changes the transaction made (a batch of events). ``postgresql``
    picks the parameter style; ``database`` (the engine URL) lets the tree reuse its frontier.
    ``notify`` (PostgreSQL): queue the transaction's announcement on ``CHANGES_CHANNEL`` here, with the
    entries (in a pipeline, no round trip of its own); the caller marks its session ``NOTIFIED``.
    """
    if not changes:
        return []
    sql = _RAW_SQL[postgresql]
    if postgresql:
        cursor.execute(sql["lock"], {"k": PG_LOCK_KEY})
    cursor.execute(sql["head"])
    head = cursor.fetchone()
    rows = []
    for change in changes:
        values = _entry_values(
            head,
            change["actor"],
            change["action"],
            change["entity_type"],
            change["entity_key"],
            change["before"],
            change["after"],
            change.get("plain", False),
        )
        rows.append(values)
        head = (values["seq"], values["hash"])
    bulk.insert_many(
        cursor,
        "audit_entry",
        _QUOTED_COLUMNS,
        [tuple(values[c] for c in _COLUMNS) for values in rows],
        postgresql=postgresql,
        database=database or "",
    )
    entries = [RawEntry(**values) for values in rows]
    merkle_store.append(cursor, entries, database=database)
    if notify and postgresql:
        cursor.execute(_NOTIFY_RAW)  # transactional: sent on commit, dropped on rollback
    return entries


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
    per_page: int = DEFAULT_PER_PAGE,
    newest_first: bool = False,
    organization: str | None = None,
    request: int | None = None,
) -> Page:
    """One page of entries by ``seq`` (oldest first unless asked), filtered, with the total that match."""
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
    if organization:
        query = query.where(AuditEntry.organization == organization)
    if request is not None:
        query = query.where(AuditEntry.request == request)
    order = AuditEntry.seq.desc() if newest_first else AuditEntry.seq
    return paginate(session, query.order_by(order), page, per_page)


# --- current-state checks -------------------------------------------------------------------

SnapshotFn = Callable[[Session, str], dict | None]
KeysFn = Callable[[Session], Iterable[str]]
SnapshotAllFn = Callable[[Session], dict[str, dict]]


@dataclass(frozen=True)
class AuditedEntity:
    """How verify reads an entity type's current state: ``snapshot`` must return what ``after`` held.

    ``snapshot_all`` (optional) returns every current entity's state by key in one go, for types with
    many entities (lineage events); verify then makes one query instead of one per entity.
    ``tables`` names the tables whose rows the snapshot reads, so a test can tell that every table
    holding audited state belongs to a registered entity.
    """

    snapshot: SnapshotFn
    keys: KeysFn
    snapshot_all: SnapshotAllFn | None = None
    tables: tuple[str, ...] = ()


_ENTITIES: dict[str, AuditedEntity] = {}


def register_entity(
    entity_type: str,
    snapshot: SnapshotFn,
    keys: KeysFn,
    snapshot_all: SnapshotAllFn | None = None,
    *,
    tables: Iterable[str] = (),
) -> None:
    """Declare an audited entity type and the tables its state lives in (``web/domains.py`` lists
    every module that calls this, so that verify sees them all)."""
    _ENTITIES[entity_type] = AuditedEntity(snapshot, keys, snapshot_all, tuple(tables))


def registered_entities() -> dict[str, AuditedEntity]:
    return dict(_ENTITIES)


def audited_tables() -> dict[str, str]:
    """Each table that a registered entity's state is read from → that entity type."""
    return {table: etype for etype, spec in _ENTITIES.items() for table in spec.tables}


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
    found = _Findings()
    count, head_hash, last_after = _check_links(session, found, progress)
    session.expunge_all()
    if check_state:
        _check_states(session, last_after, found)
    return VerifyResult(
        ok=not found.problems,
        count=count,
        head=head_hash,
        first_bad_seq=min(found.bad) if found.bad else None,
        problems=found.problems,
    )


@dataclass
class _Findings:
    """What verify found so far: the problems in order, and the seq of every entry found bad."""

    problems: list[str] = field(default_factory=list)
    bad: list[int] = field(default_factory=list)

    def add(self, problem: str, seq: int | None = None) -> None:
        self.problems.append(problem)
        if seq is not None:
            self.bad.append(seq)


#: (entity type, key) -> (seq, ``after`` text) of the entity's last entry
LastAfter = dict[tuple[str, str], tuple[int, str | None]]


def _check_links(
    session: Session, found: _Findings, progress: Callable[[int], None] | None
) -> tuple[int, str | None, LastAfter]:
    """Walk the chain in order, re-computing each hash; returns the count, the head and each entity's last entry."""
    prev, expected_seq, count, head_hash = GENESIS, 1, 0, None
    last_after: LastAfter = {}
    rows = session.execute(
        select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=2000)
    ).scalars()
    for entry in rows:
        count += 1
        if entry.seq != expected_seq:
            found.add(f"entry {expected_seq} is missing (next is {entry.seq})", entry.seq)
        try:
            body = entry.body()
        except ValueError:
            found.add(f"entry {entry.seq}: before/after is not valid JSON", entry.seq)
            body = None
        if entry.prev_hash != prev:
            found.add(f"entry {entry.seq}: prev_hash does not link to entry {entry.seq - 1}", entry.seq)
        elif body is not None and entry_hash(prev, body) != entry.hash:
            found.add(
                f"entry {entry.seq}: content does not match its hash (altered after it was written)",
                entry.seq,
            )
        prev = entry.hash
        head_hash = entry.hash
        expected_seq = entry.seq + 1
        if entry.entity_type in _ENTITIES:
            last_after[(entry.entity_type, entry.entity_key)] = (entry.seq, entry.after)
        if progress and count % 2000 == 0:
            progress(count)
    return count, head_hash, last_after


def _check_states(session: Session, last_after: LastAfter, found: _Findings) -> None:
    """Compare each audited entity's current state with its last entry, and find entities no entry records."""
    bulk = {etype: spec.snapshot_all(session) for etype, spec in _ENTITIES.items() if spec.snapshot_all}
    for (etype, key), (seq, after_text) in last_after.items():
        current = bulk[etype].get(key) if etype in bulk else _ENTITIES[etype].snapshot(session, key)
        after = None if after_text is None else json.loads(after_text)
        if canonical(jsonable(current)) != canonical(after):
            what = "was deleted" if current is None else "was changed"
            found.add(f"entry {seq}: {etype} {key!r} {what} outside Yima since this entry", seq)
    for etype, spec in _ENTITIES.items():
        for key in bulk[etype] if etype in bulk else spec.keys(session):
            if (etype, str(key)) not in last_after:
                found.add(f"{etype} {key!r} exists but no audit entry records it")
