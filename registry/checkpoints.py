"""Signed checkpoints of the audit log: the current one, and the history of every size ever issued.

Issuing a checkpoint of a size not seen before stores it (size, root, key, note, time) so that a
later rewrite of the log is caught against every one of them (``registry.log_check.check_log``).
Storing one is not an audited change: an audit entry would grow the log and change the size the
checkpoint names. The history lives in the same database as the log, so it catches a careless
rewrite; a careful operator can rewrite it too, which is why checkpoints must also leave the
building (docs/audit.md, "Witnessing").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from sqlalchemy import BigInteger, String, Text, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from registry import merkle_store
from registry.audit import now
from registry.db import Base, Database
from registry.signed_note import Signer, b64

log = logging.getLogger("yima")


class AuditCheckpoint(Base):
    """A checkpoint the server has issued: the signed note, as it was handed out."""

    __tablename__ = "audit_checkpoint"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[str] = mapped_column(String(44))  # standard base64, as in the note
    key: Mapped[str] = mapped_column(String(400))  # the verifier key that signed it
    note: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[str] = mapped_column(String(32))  # UTC ISO 8601 "Z", like audit entries


_T = AuditCheckpoint.__table__


@dataclass(frozen=True)
class Issued:
    """A checkpoint of the log as it stands: what ``GET /api/v1/audit/checkpoint`` answers."""

    origin: str
    size: int
    root: bytes
    note: str
    key: str
    stored: bool  # already in the history
    #: when this note was first issued (None while it is not in the history)
    issued_at: str | None = None
    #: the history holds another root for this size: the log was rewritten after it was issued
    rewritten: bool = False

    def to_dict(self) -> dict:
        return {
            "origin": self.origin,
            "size": self.size,
            "root": b64(self.root),
            "note": self.note,
            "key": self.key,
        }


def current(session: Session, signer: Signer) -> Issued:
    """The checkpoint of the stored tree's current size, signed by ``signer`` (reads only).

    A size already issued under the same key answers the stored note. If the history holds a
    different root for this size, the log was rewritten: the new note is still signed (it is the
    truth of the database now, and two signed roots for one size are the evidence) and a warning
    is logged.
    """
    size = merkle_store.size(session)
    root = merkle_store.root(session, size)
    query = select(_T.c.root, _T.c.key, _T.c.note, _T.c.issued_at).where(_T.c.size == size)
    row = session.execute(query).first()
    if row is not None and row.root == b64(root) and row.key == signer.key:
        return Issued(signer.origin, size, root, row.note, signer.key, True, row.issued_at)
    rewritten = row is not None and row.root != b64(root)
    if rewritten:
        log.warning(
            "the audit log no longer matches the checkpoint of size %s it issued: run yima audit verify", size
        )
    note = signer.checkpoint(size, root)
    return Issued(signer.origin, size, root, note, signer.key, row is not None, rewritten=rewritten)


def remember(session: Session, issued: Issued) -> bool:
    """Add ``issued`` to the history unless a checkpoint of its size is there already; the caller commits.

    Returns whether a row was written. Two processes issuing the same size at once are fine: the
    first row stays (Ed25519 is deterministic, so both wrote the same note).
    """
    if issued.stored:
        return False
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    values = {
        "size": issued.size,
        "root": b64(issued.root),
        "key": issued.key,
        "note": issued.note,
        "issued_at": now(),
    }
    result = session.execute(
        dialect.insert(_T).values(**values).on_conflict_do_nothing(index_elements=["size"])
    )
    return bool(result.rowcount)


def issue(database: Database, signer: Signer) -> Issued:
    """The current checkpoint as handed out (API, pages): read in a session of its own, and added to the
    history in a short writer transaction when its size is new, so every note shown is also kept."""
    with database.session() as s:
        issued = current(s, signer)
    return keep(database, issued)


def keep(database: Database, issued: Issued) -> Issued:
    """``issued``, added to the history if its size is new (its own transaction), with its issue time."""
    if issued.stored:
        return issued
    with database.writer() as w:
        remember(w, issued)
        at = w.scalar(select(_T.c.issued_at).where(_T.c.size == issued.size))
        w.commit()
    return replace(issued, stored=True, issued_at=at)


def get(session: Session, size: int) -> AuditCheckpoint | None:
    """The checkpoint issued for ``size``, if one was."""
    return session.get(AuditCheckpoint, size)


#: the webhook event a new checkpoint makes (docs/audit.md, "Witnessing")
EVENT_TYPE = "audit.checkpoint"


def latest_event(session: Session, signer: Signer) -> dict:
    """The ``audit.checkpoint`` event of the log as it stands: ``{"seq", "type", "timestamp", "data"}``.

    Issues the current checkpoint in ``session`` (a writer: a size not issued before joins the history;
    the caller commits). ``data`` is what ``GET /api/v1/audit/checkpoint`` answers (origin, size, root,
    note, key); ``seq`` is the size, the entry after which the event belongs in the change stream;
    ``timestamp`` is when the note was first issued.
    """
    issued = current(session, signer)
    at = issued.issued_at
    if not issued.stored:
        remember(session, issued)
        at = session.scalar(select(_T.c.issued_at).where(_T.c.size == issued.size))
    # a note the history does not hold (another key, or a rewritten log) is issued now
    return {"seq": issued.size, "type": EVENT_TYPE, "timestamp": at or now(), "data": issued.to_dict()}


def history(session: Session) -> list[AuditCheckpoint]:
    """Every checkpoint issued, smallest size first."""
    return list(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.size)))


def latest(session: Session) -> AuditCheckpoint | None:
    """The checkpoint of the largest size issued so far."""
    return session.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.size.desc()).limit(1))
