"""Group commit of lineage intake: concurrent events share transactions, each answered after its commit;
a failing event never loses or fails the others (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from lineage import group_commit, intake
from lineage.models import LineageEvent
from registry import audit

WRITERS = 24


def event(n: int, job: str | None = None) -> dict:
    return {
        "eventType": "COMPLETE",
        "eventTime": f"2025-01-01T00:{n // 60 % 60:02d}:{n % 60:02d}Z",
        "producer": "https://example.org/test",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.UUID(int=n + 1, version=4))},
        "job": {"namespace": "gc", "name": job or f"job_{n}"},
        "inputs": [{"namespace": "gc", "name": f"in_{n % 5}"}],
        "outputs": [{"namespace": "gc", "name": f"out_{n}"}],
    }


def _ingest_all(db, bodies: list[dict]) -> list[tuple[dict, bool]]:
    start = threading.Barrier(min(WRITERS, len(bodies)))

    def one(body):
        with db.writer() as s:
            try:
                start.wait(timeout=10)
            except threading.BrokenBarrierError:
                pass
            return intake.ingest(s, body, actor="test")

    with ThreadPoolExecutor(WRITERS) as pool:
        return list(pool.map(one, bodies))


def _committer(db):
    with db.session() as s:
        return group_commit.committer(s)


def test_concurrent_events_share_transactions_and_all_are_stored(db):
    before, failed_before = _committer(db).transactions, _committer(db).fallbacks
    answers = _ingest_all(db, [event(n) for n in range(96)])
    assert all(created for _, created in answers)
    ids = [summary["id"] for summary, _ in answers]
    assert len(set(ids)) == 96
    committer = _committer(db)
    # fewer commits than events: concurrent requests waited for one another's commit, in batches that
    # held (a failing batch is redone event by event: every event stored, the batching lost)
    assert 0 < committer.transactions - before < 96
    assert committer.fallbacks == failed_before
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(LineageEvent)) == 96
        result = audit.verify(s)
        assert result.ok, result.problems
        assert result.count == 96


def test_resent_events_in_a_batch_are_answered_and_the_others_stored(db):
    bodies = [event(n) for n in range(40)]
    resent = bodies[:10]  # the same events again, at the same time: in their originals' batch or after
    committer = _committer(db)
    fallbacks, settled = committer.fallbacks, committer.settled
    answers = _ingest_all(db, bodies + resent)
    created = [summary["sha256"] for summary, new in answers if new]
    duplicates = [summary for summary, new in answers if not new]
    assert len(created) == 40 and len(set(created)) == 40
    assert len(duplicates) == 10 and all(d["duplicate"] for d in duplicates)
    ids = {summary["sha256"]: summary["id"] for summary, new in answers if new}
    assert all(d["id"] == ids[d["sha256"]] for d in duplicates)  # the stored event's id
    # a batch holding a resent event is written again without it, not event by event
    assert committer.settled > settled
    assert committer.fallbacks == fallbacks
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(LineageEvent)) == 40
        assert audit.verify(s).ok


def test_a_retry_of_an_event_stored_long_ago_does_not_split_its_batch(db):
    """A client resends events stored earlier (its answers were lost) among new ones: the duplicates are
    answered with the stored ids and the new events still share transactions."""
    first = _ingest_all(db, [event(n) for n in range(8)])
    committer = _committer(db)
    fallbacks, transactions = committer.fallbacks, committer.transactions
    answers = _ingest_all(db, [event(n) for n in range(8, 48)] + [event(n) for n in range(8)])
    assert [new for _, new in answers] == [True] * 40 + [False] * 8
    assert [summary["id"] for summary, _ in answers[40:]] == [summary["id"] for summary, _ in first]
    assert committer.fallbacks == fallbacks
    assert committer.transactions - transactions < 40
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(LineageEvent)) == 48
        assert audit.verify(s).ok


def test_one_failing_write_fails_only_its_own_request(db):
    committer = group_commit.GroupCommit()
    calls = []

    def alone_ok(n):
        calls.append(n)
        return n

    def alone_fails():
        raise RuntimeError("this one only")

    def apply_fails(raw):
        raise RuntimeError("in the batch")

    results, errors = {}, {}
    start = threading.Barrier(8)

    def one(n):
        with db.writer() as s:
            start.wait(timeout=10)
            try:
                if n == 3:
                    results[n] = committer.submit(s, apply_fails, alone=alone_fails)
                else:
                    results[n] = committer.submit(s, lambda raw: n, alone=lambda: alone_ok(n))
            except RuntimeError as exc:
                errors[n] = str(exc)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(8)))
    assert errors == {3: "this one only"}
    assert results == {n: n for n in range(8) if n != 3}
    # the events that shared the failed batch were applied again on their own, none lost
    assert committer.fallbacks >= 1 and set(calls) <= set(results)


def test_events_of_one_job_in_one_batch_apply_in_order(db):
    bodies = [event(n, job="shared") for n in range(30)]
    answers = _ingest_all(db, bodies)
    assert all(created for _, created in answers)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(LineageEvent)) == 30
        assert audit.verify(s).ok


def test_a_connection_closed_by_the_pool_at_commit_is_no_error(database_url, caplog):
    """The pool may close a connection the moment a commit hands it back (an overflow connection; here
    every one, with NullPool): the batch's cursor is closed before that, so no batch is logged as
    failing after its commit, and every event is stored and answered as created."""
    from sqlalchemy.pool import NullPool

    from registry.db import Database

    db = Database(database_url, poolclass=NullPool)
    try:
        with caplog.at_level("INFO", logger="yima.lineage"):
            answers = _ingest_all(db, [event(n) for n in range(48)])
        assert all(created for _, created in answers)
        assert not [r for r in caplog.records if "lineage group commit" in r.getMessage()]
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(LineageEvent)) == 48
            assert audit.verify(s).ok
    finally:
        db.dispose()


def test_a_dataset_named_by_many_events_of_one_batch_ends_as_if_they_came_one_by_one(db):
    """Events sharing a batch name the same new dataset with their own facets and times: it is created
    once (PostgreSQL: by the batch, for the first event naming it), first seen at the earliest time,
    with every event's facets, and each output edge is where its event put it."""
    from lineage.models import LineageEdge, LineageNode

    bodies = []
    for n in range(40):
        body = event(1000 - n)  # later events carry earlier times
        body["inputs"] = [
            {"namespace": "gc", "name": "shared", "facets": {f"yima_f{n}": {"_producer": "t", "n": n}}}
        ]
        bodies.append(body)
    answers = _ingest_all(db, bodies)
    assert all(created for _, created in answers)
    with db.session() as s:
        node = s.scalar(select(LineageNode).where(LineageNode.node_id == "dataset:gc:shared"))
        assert node is not None
        assert str(node.first_seen).startswith("2025-01-01 00:16:01")  # event(961), the earliest
        assert set(node.facets) == {f"yima_f{n}" for n in range(40)}
        inputs = s.scalars(select(LineageEdge).where(LineageEdge.source == "dataset:gc:shared")).all()
        assert sorted(e.target for e in inputs) == sorted(f"job:gc:job_{1000 - n}" for n in range(40))
        assert audit.verify(s).ok


def test_two_writers_naming_one_dataset_at_once_keep_every_facet(db, database_url):
    """Two processes' batches (two engines: two pools, two group commits) name one dataset at the same
    time, each event with a facet of its own: the dataset keeps every facet and the earliest sighting
    (a merge from a reading made before the other batch committed would drop the other's)."""
    from lineage.models import LineageNode
    from registry.db import Database

    other = Database(database_url)
    try:
        bodies = []
        for n in range(48):
            body = event(2000 - n)
            body["inputs"] = [
                {"namespace": "gc", "name": "hot", "facets": {f"yima_p{n}": {"_producer": "t", "n": n}}}
            ]
            bodies.append(body)
        with db.writer() as s:  # the dataset exists: every event's batch updates it
            intake.ingest(s, event(2059) | {"inputs": [{"namespace": "gc", "name": "hot"}]}, actor="test")
        start = threading.Barrier(WRITERS)

        def one(k_body):
            k, body = k_body
            with (db if k % 2 else other).writer() as s:
                try:
                    start.wait(timeout=10)
                except threading.BrokenBarrierError:
                    pass
                return intake.ingest(s, body, actor="test")

        with ThreadPoolExecutor(WRITERS) as pool:
            answers = list(pool.map(one, enumerate(bodies)))
        assert all(created for _, created in answers)
        with db.session() as s:
            node = s.scalar(select(LineageNode).where(LineageNode.node_id == "dataset:gc:hot"))
            assert set(node.facets) == {f"yima_p{n}" for n in range(48)}
            assert str(node.first_seen).startswith("2025-01-01 00:32:33")  # event(1953), the earliest
            assert audit.verify(s).ok
    finally:
        other.dispose()


def _story(ns: str) -> list[dict]:
    """Events of one job whose edge changes depend on what earlier events of the same batch did: a
    COMPLETE re-listing its START's edges, a second run ending an input the first opened, a JobEvent
    ending an edge opened earlier in the batch (its row not yet written), a parent facet (a statement
    that writes the batch's rows so far), a JobEvent ending an edge whose row that wrote, a DROP,
    then another run and a JobEvent."""

    def run(state, second, run_id, inputs, outputs, parent=False):
        body = event(0, job="story")
        body.update(eventType=state, eventTime=f"2025-03-01T00:00:{second:02d}Z")
        body["run"] = {"runId": str(uuid.UUID(int=run_id, version=4))}
        if parent:
            body["run"]["facets"] = {
                "parent": {
                    "_producer": "t",
                    "_schemaURL": "https://openlineage.io/spec/facets/1-0-0/ParentRunFacet.json",
                    "job": {"namespace": ns, "name": "scheduler"},
                    "run": {"runId": str(uuid.UUID(int=99, version=4))},
                }
            }
        body["job"]["namespace"] = ns
        body["inputs"] = [{"namespace": ns, "name": n} for n in inputs]
        body["outputs"] = [{"namespace": ns, "name": n} for n in outputs]
        return body

    def job_event(second, inputs, outputs):
        body = run("COMPLETE", second, 1, inputs, outputs)
        del body["eventType"], body["run"]
        body["schemaURL"] = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent"
        return body

    dropped = {
        "eventTime": "2025-03-01T00:00:07Z",
        "producer": "https://example.org/test",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
        "dataset": {
            "namespace": ns,
            "name": "o1",
            "facets": {
                "lifecycleStateChange": {
                    "_producer": "t",
                    "_schemaURL": "https://openlineage.io/spec/facets/1-0-0/LifecycleStateChangeDatasetFacet.json",
                    "lifecycleStateChange": "DROP",
                }
            },
        },
    }
    return [
        run("START", 0, 1, ["a1", "a2"], ["o1"]),
        run("COMPLETE", 1, 1, ["a1", "a2"], ["o1"]),
        job_event(2, ["a2", "a5"], ["o1"]),  # ends a1, its row not yet written; opens a5
        run("COMPLETE", 3, 2, ["a2"], ["o1"]),  # reads the run's events (writing the rows), ends a5
        run("START", 4, 3, ["a2", "a3"], ["o1"], parent=True),  # the parent's UPDATE writes the rows
        job_event(5, ["a4"], ["o1"]),  # ends a2 and a3, whose rows are written by now
        run("COMPLETE", 6, 4, ["a4"], ["o1", "o2"]),
        dropped,  # ends every edge into o1
        run("COMPLETE", 8, 5, ["a4"], ["o2"]),
        job_event(9, ["a4"], ["o2"]),  # o1's edge ended by the DROP: nothing more to end
    ]


def _edges(db, ns: str, first_event: int) -> list[tuple]:
    from lineage.models import LineageEdge

    def plain(value):
        return value.replace(f":{ns}:", ":NS:") if isinstance(value, str) else value

    with db.session() as s:
        rows = s.scalars(select(LineageEdge).where(LineageEdge.job.like(f"%:{ns}:%"))).all()
        return sorted(
            (
                plain(e.source),
                plain(e.target),
                e.kind,
                str(e.valid_from),
                str(e.valid_to),
                e.run_id,
                e.event_id - first_event,
                None if e.closed_by is None else e.closed_by - first_event,
            )
            for e in rows
        )


def test_a_batch_of_one_jobs_events_leaves_the_edges_one_by_one_would(db):
    """The same story written one event per transaction and as one batch (its jobs' open edges known to
    the batch, kept as each event leaves them): the same edges, intervals and answers."""
    one_by_one = []
    for body in _story("single"):
        with db.writer() as s:
            one_by_one.append(intake.ingest(s, body, actor="test"))
    with db.writer() as s:
        together = intake.ingest_many(s, _story("batched"), actor="test")
    assert all(created for _, created in one_by_one + together)

    def answer(summary):
        return {k: v for k, v in summary.items() if k not in ("id", "sha256")}

    norm = [
        [{k: str(v).replace(":single:", ":NS:").replace(":batched:", ":NS:") for k, v in answer(a).items()}]
        for a, _ in one_by_one
    ]
    norm_b = [
        [{k: str(v).replace(":single:", ":NS:").replace(":batched:", ":NS:") for k, v in answer(a).items()}]
        for a, _ in together
    ]
    assert norm_b == norm
    # the story did end edges opened in its own batch, both before and after their rows were written
    assert together[2][0]["closed"] and together[3][0]["closed"] and together[5][0]["closed"]
    single = _edges(db, "single", one_by_one[0][0]["id"])
    batched = _edges(db, "batched", together[0][0]["id"])
    assert batched == single
    assert any(e[4] != "None" for e in single)
    assert _committer(db).fallbacks == 0
    with db.session() as s:
        assert audit.verify(s).ok


def _recording(committer: group_commit.GroupCommit) -> list[int]:
    """The size of each batch the committer writes, in order."""
    sizes: list[int] = []
    write = committer._write

    def recorded(session, batch):
        sizes.append(len(batch))
        return write(session, batch)

    committer._write = recorded
    return sizes


def test_a_leader_waits_for_the_producers_of_the_batch_before_to_come_back(db):
    """After a batch of 8, the first producer back waits (here up to 30 s) until half as many are
    queued, then writes them in one transaction instead of leading a batch of its own alone."""
    committer = group_commit.GroupCommit()
    committer.gather = 30.0
    committer._last = 8
    sizes = _recording(committer)
    results = {}

    def one(n):
        with db.writer() as s:
            results[n] = committer.submit(s, lambda raw: n, alone=lambda: None)

    first = threading.Thread(target=one, args=(0,))
    first.start()
    deadline = time.monotonic() + 10
    while not committer._gathering:  # the first one back leads, and waits for more
        assert time.monotonic() < deadline, "the leader did not wait for the others"
        time.sleep(0.005)
    others = [threading.Thread(target=one, args=(n,)) for n in (1, 2, 3)]
    for t in others:
        t.start()
    for t in [first, *others]:
        t.join(timeout=20)
    assert results == {0: 0, 1: 1, 2: 2, 3: 3}
    assert sizes == [4]


def test_a_producer_alone_never_waits_for_others(db):
    """One producer: each of its events is its own batch, written at once (the wait is for the
    producers of a batch of many; here it would be 30 s per event)."""
    committer = group_commit.GroupCommit()
    committer.gather = 30.0
    sizes = _recording(committer)
    started = time.monotonic()
    with db.writer() as s:
        answers = [committer.submit(s, lambda raw, n=n: n, alone=lambda: None) for n in range(5)]
    assert answers == list(range(5))
    assert sizes == [1, 1, 1, 1, 1]
    assert time.monotonic() - started < 15  # no event waited out the 30 s


def test_a_leader_writes_what_it_has_once_the_wait_is_over(db):
    """The producers of the batch before do not come back: after the wait the leader writes alone."""
    committer = group_commit.GroupCommit()
    committer.gather = 0.05
    committer._last = 32
    sizes = _recording(committer)
    with db.writer() as s:
        assert committer.submit(s, lambda raw: "mine", alone=lambda: None) == "mine"
    assert sizes == [1]
    assert committer._last == 1  # the next one does not wait at all


def test_a_leader_failing_before_its_batch_leaves_no_one_waiting(db):
    """Whatever goes wrong while a leader waits for its batch, its queue is handed over: the events
    queued with it are written each on its own, and the next ones in batches again (no thread left
    waiting for a leader that is gone)."""
    committer = group_commit.GroupCommit()
    committer._last = 8
    gather = committer._gather

    def broken():
        committer._gathering = True
        while len(committer._queue) < 4:  # the others queue behind the leader, then the leader fails
            committer._grown.wait(5)
        committer._gathering = False
        committer._gather = gather
        raise RuntimeError("broken while gathering")

    committer._gather = broken
    results, errors = {}, {}

    def one(n):
        with db.writer() as s:
            try:
                results[n] = committer.submit(s, lambda raw: f"batch {n}", alone=lambda: f"alone {n}")
            except RuntimeError as exc:
                errors[n] = str(exc)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
        time.sleep(0.05)  # the first leads
    for t in threads:
        t.join(timeout=20)
    assert not any(t.is_alive() for t in threads), "a producer was left waiting"
    assert errors == {0: "broken while gathering"}
    assert results == {1: "alone 1", 2: "alone 2", 3: "alone 3"}
    with db.writer() as s:
        assert committer.submit(s, lambda raw: "next", alone=lambda: "alone") == "next"
