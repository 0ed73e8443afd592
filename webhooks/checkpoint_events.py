"""``audit.checkpoint`` events: the log's signed checkpoints in the change stream (docs/audit.md, "Witnessing").

A webhook (or a feed reader) whose patterns name the type — ``audit.checkpoint`` or ``audit.*``; the
bare ``*`` means "every change" and does not include it — receives:

- every checkpoint issued under this server's key (the API, the pages, ``yima audit checkpoint`` on a
  schedule) whose size lies past its cursor, placed right after entry ``seq = size``;
- while changes flow, a new checkpoint of the head when the newest issued one is older than
  ``YIMA_CHECKPOINT_EVENT_SECONDS`` (default 300): a witness never waits long for a root covering a
  change it was sent. An idle log issues nothing (nothing new to cover).

``data`` is what ``GET /api/v1/audit/checkpoint`` answers; ``timestamp`` is when the note was first
issued. A checkpoint issued at a size its cursor has already passed is not sent (its size is behind);
the next one covers it. A retried delivery sends the same checkpoint again: it was kept in the history
before it was first sent, so the re-read finds it at the same ``seq``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from registry import checkpoints
from registry.db import Database
from registry.signed_note import Signer
from webhooks import events

EVENT_TYPE = checkpoints.EVENT_TYPE
_T = checkpoints.AuditCheckpoint.__table__
#: per database engine: (the database, its signer, seconds between head checkpoints)
_INSTALLED: dict[Engine, tuple[Database, Signer, float]] = {}


def install(database: Database, signer: Signer, every: float) -> None:
    """Send this database's checkpoints to readers that ask for them (called by the app and ``yima worker``)."""
    _INSTALLED[database.engine] = (database, signer, every)
    events.register_source(EVENT_TYPE, _source, EVENT_TYPE)


def uninstall(database: Database) -> None:
    _INSTALLED.pop(database.engine, None)


def _source(session: Session, after_seq: int, upto_seq: int) -> list[events.Event]:
    installed = _INSTALLED.get(session.get_bind())
    if installed is None:
        return []
    database, signer, every = installed
    query = (
        select(_T.c.size, _T.c.root, _T.c.note, _T.c.issued_at)
        .where(_T.c.size > after_seq, _T.c.size <= upto_seq, _T.c.key == signer.key)
        .order_by(_T.c.size)
    )
    found = {
        row.size: _event(
            row.size,
            row.issued_at,
            {
                "origin": signer.origin,
                "size": row.size,
                "root": row.root,
                "note": row.note,
                "key": signer.key,
            },
        )
        for row in session.execute(query)
    }
    if upto_seq not in found and _due(session, signer, every):
        issued = checkpoints.current(session, signer)
        if after_seq < issued.size <= upto_seq:
            issued = checkpoints.keep(database, issued)  # kept before it is sent: a retry finds it
            found[issued.size] = _event(issued.size, issued.issued_at, issued.to_dict())
    return [found[size] for size in sorted(found)]


def _event(size: int, issued_at: str | None, data: dict) -> events.Event:
    return events.Event(size, EVENT_TYPE, issued_at or checkpoints.now(), data, suffix="checkpoint")


def _due(session: Session, signer: Signer, every: float) -> bool:
    newest = session.scalar(
        select(_T.c.issued_at).where(_T.c.key == signer.key).order_by(_T.c.size.desc()).limit(1)
    )
    if not newest:
        return True
    issued = dt.datetime.fromisoformat(newest.replace("Z", "+00:00"))
    return (dt.datetime.now(dt.UTC) - issued).total_seconds() >= every
