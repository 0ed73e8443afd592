"""The change feed for systems that prefer pulling: the webhooks' events after a cursor, with long-polling.

A long-poll holds no database connection while it waits: each look is a short read session, and
between looks it sleeps on the process's change signal (woken by a commit here, by NOTIFY from
another process on PostgreSQL, or by its poll interval). It does hold its server thread.
"""

from __future__ import annotations

import time

from registry.db import Database
from webhooks import events, patterns, wakeup


def changes(
    database: Database,
    *,
    after_seq: int = 0,
    types: str | None = None,
    wait: float = 0,
    limit: int = 100,
    poll: float = 0.5,
) -> dict:
    """``{"items": [{"seq", "type", "timestamp", "data"}], "next_seq", "head_seq"}`` after ``after_seq``.

    With ``wait`` > 0 and nothing new, returns as soon as a matching change commits, or after
    ``wait`` seconds with no items. ``next_seq`` is the cursor to send next (it moves past entries
    that do not match ``types`` too). Raises Invalid for a bad ``types`` pattern.
    """
    matcher = patterns.Matcher(patterns.parse_list(types))
    deadline = time.monotonic() + wait
    if wait > 0:
        wakeup.listen(database.url)
    while True:
        seen = wakeup.SIGNAL.version
        with database.session() as s:
            batch = events.read(s, after_seq, matcher, limit)
        left = deadline - time.monotonic()
        if batch.events or left <= 0:
            return {
                "items": [e.feed_item() for e in batch.events],
                "next_seq": batch.scanned_to,
                "head_seq": batch.head,
            }
        after_seq = batch.scanned_to
        wakeup.SIGNAL.wait(seen, min(left, poll))
