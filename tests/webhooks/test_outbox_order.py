"""The claim the outbox rests on: audit entries become visible in seq order, with no gap a tailing reader could skip."""

from __future__ import annotations

import random
import threading
import time

from sqlalchemy import select

from registry import audit
from registry.audit import AuditEntry
from registry.db import Database


def test_concurrent_writers_commit_entries_in_seq_order_for_a_tailing_reader(database_url):
    """Writers that hold their transaction open a while after writing their entry: a reader tailing by
    seq must only ever see a contiguous run after its cursor (a gap would be an entry it skips for good)."""
    database = Database(database_url)
    writers, per_writer = 4, 40
    done = threading.Event()
    seen: list[int] = []
    gaps: list[tuple[int, list[int]]] = []
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(per_writer):
                with database.writer() as s:
                    audit.record(
                        s,
                        actor=f"writer-{n}",
                        action="create",
                        entity_type="probe",
                        entity_key=f"{n}-{i}",
                        before=None,
                        after={"n": n, "i": i},
                    )
                    time.sleep(
                        random.uniform(0, 0.004)
                    )  # commit late: others are queued on the lock meanwhile
                    s.commit()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    def tail() -> None:
        cursor = 0
        while True:
            finished = done.is_set()
            with database.session() as s:
                batch = list(
                    s.scalars(select(AuditEntry.seq).where(AuditEntry.seq > cursor).order_by(AuditEntry.seq))
                )
            if batch and batch != list(range(cursor + 1, cursor + 1 + len(batch))):
                gaps.append((cursor, batch[:10]))
            if batch:
                seen.extend(batch)
                cursor = batch[-1]
            if finished and not batch:
                return

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    reader = threading.Thread(target=tail)
    reader.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    done.set()
    reader.join(60)
    database.dispose()
    assert not errors, errors
    assert not gaps, f"a reader saw entries out of order (cursor, what it read): {gaps[:3]}"
    assert seen == list(range(1, writers * per_writer + 1))
