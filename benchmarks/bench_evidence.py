"""Evidence: a 1,000,000-entry audit log; checkpoint, inclusion and consistency proofs over HTTP, audited writes, a full recompute.

The log is written in bulk (the same entries and tree rows a million audited writes would leave,
without the million transactions), on SQLite and, when ``YIMA_BENCH_POSTGRES_URL`` or
``YIMA_TEST_POSTGRES_URL`` is set, on PostgreSQL. ``YIMA_BENCH_LOG_SIZE`` shrinks it for a quick run.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from pathlib import Path

from sqlalchemy import create_engine, text

import migrations
from benchmarks.bench_audit import audited_with_and_without_tree, tree_figures
from benchmarks.common import Figure, scratch_database
from catalog import organizations
from registry import audit, merkle, merkle_store, tree_check
from registry.config import Config
from web import create_app

N = int(os.environ.get("YIMA_BENCH_LOG_SIZE", 1_000_000))
CHUNK = 20_000
_COLUMNS = (
    "seq",
    "at",
    "actor",
    "action",
    "entity_type",
    "entity_key",
    "before",
    "after",
    "prev_hash",
    "hash",
)


def _chunks(n: int):
    """(entries, tree rows) for every CHUNK entries: real chain hashes, the tree as appends store it."""
    prev, frontier = audit.GENESIS, []  # rows_of keeps the frontier up to date across chunks
    at = "2026-01-01T00:00:00.000000Z"
    for lo in range(0, n, CHUNK):
        entries = []
        for seq in range(lo + 1, min(n, lo + CHUNK) + 1):
            body = {"seq": seq, "at": at, "actor": "bench", "action": "create", "entity_type": "bench_item"}
            body |= {"entity_key": str(seq), "before": None, "after": {"i": seq}}
            h = audit.entry_hash(prev, body)
            entries.append(
                (seq, at, "bench", "create", "bench_item", str(seq), None, f'{{"i":{seq}}}', prev, h)
            )
            prev = h
        rows = list(merkle_store.rows_of((merkle.entry_leaf(e[-1]) for e in entries), lo, frontier))
        yield entries, rows


def build_log(url: str, n: int) -> float:
    """Write ``n`` entries and their tree in bulk; return the seconds it took."""
    started = time.perf_counter()
    engine = create_engine(url)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        pg = engine.dialect.name == "postgresql"
        for entries, rows in _chunks(n):
            if pg:
                with cur.copy(f"COPY audit_entry ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
                    for e in entries:
                        copy.write_row(e)
                with cur.copy("COPY audit_tree (leaf, hashes) FROM STDIN") as copy:
                    for r in rows:
                        copy.write_row(r)
            else:
                marks = ", ".join("?" * len(_COLUMNS))
                cur.executemany(f"INSERT INTO audit_entry ({', '.join(_COLUMNS)}) VALUES ({marks})", entries)
                cur.executemany("INSERT INTO audit_tree (leaf, hashes) VALUES (?, ?)", rows)
        raw.commit()
    finally:
        raw.close()
        engine.dispose()
    _settle(url)
    return time.perf_counter() - started


def _settle(url: str) -> None:
    """What a database that grew slowly would have done already: statistics, the visibility map, an
    empty WAL, so that the measurements do not pay for the bulk load."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("VACUUM ANALYZE audit_entry"))
            conn.execute(text("VACUUM ANALYZE audit_tree"))
        else:
            conn.execute(text("ANALYZE"))
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()


def _median_ms(fn, repeat=51) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def _audited_writes(db, tag: str, count: int = 200) -> float:
    t = time.perf_counter()
    for i in range(count):
        with db.writer() as s:
            organizations.create(s, {"code": f"{tag}-{i}", "name": f"单位{i}"}, actor="bench")
    return (time.perf_counter() - t) / count * 1000


def measure(url: str, workdir: Path, label: str) -> list[Figure]:
    migrations.upgrade(url)
    built = build_log(url, N)
    app = create_app(
        Config(database_url=url, secret_key="bench", instance_path=str(workdir / f"instance-{label}"))
    )
    db = app.extensions["yima"].db
    try:
        t = _timings(db, app.test_client())
    finally:
        db.dispose()
    return _figures(label, built, t)


def _timings(db, client) -> dict:
    """Every timed step over the built log (milliseconds; the recompute in seconds)."""
    rng = random.Random(11)
    new_sizes = []
    for i in range(21):
        _audited_writes(db, f"cp{i}", 1)  # not timed: the size grows, so each GET signs and stores
        t = time.perf_counter()
        assert client.get("/api/v1/audit/checkpoint").status_code == 200
        new_sizes.append(time.perf_counter() - t)
    size = client.get("/api/v1/audit/checkpoint").get_json()["size"]
    found = {
        "size": size,
        "checkpoint_new": statistics.median(new_sizes) * 1000,
        "checkpoint_again": _median_ms(lambda: client.get("/api/v1/audit/checkpoint")),
        "proof": _median_ms(
            lambda: client.get(f"/api/v1/audit/proof?seq={rng.randint(1, size)}&size={size}"), 201
        ),
        "consistency": _median_ms(
            lambda: client.get(f"/api/v1/audit/consistency?from={rng.randint(1, size)}"), 201
        ),
    }
    with db.session() as s:
        found["service_proof"] = _median_ms(lambda: merkle_store.inclusion(s, rng.randrange(size), size), 201)
    found["cost"] = audited_with_and_without_tree(db, 600, 6, "EV")
    t = time.perf_counter()
    with db.session() as s:
        found["rec"] = tree_check.recompute(s)
    found["recompute"] = time.perf_counter() - t
    return found


def _figures(label: str, built: float, t: dict) -> list[Figure]:
    n, size, rec = f"{N:,}", t["size"], t["rec"]
    return [
        Figure(f"{label}: bulk-write a log of {n} entries and its tree", built, "s"),
        Figure(
            f"{label}: GET checkpoint, new size (root + sign + history)",
            t["checkpoint_new"],
            "ms",
            "< 50",
            t["checkpoint_new"] < 50,
        ),
        Figure(
            f"{label}: GET checkpoint, size already issued",
            t["checkpoint_again"],
            "ms",
            "< 50",
            t["checkpoint_again"] < 50,
        ),
        Figure(
            f"{label}: GET inclusion proof, random seq, size {size:,}",
            t["proof"],
            "ms",
            "< 5",
            t["proof"] < 5,
        ),
        Figure(f"{label}:   of which the stored-tree query and hashing", t["service_proof"], "ms"),
        Figure(
            f"{label}: GET consistency proof, random from",
            t["consistency"],
            "ms",
            "< 5",
            t["consistency"] < 5,
        ),
        *tree_figures(f"{label}: ", t["cost"]),
        Figure(
            f"{label}: recompute the tree from {rec.size:,} entries (verify)",
            t["recompute"],
            "s",
            meets=rec.stored_ok,
        ),
    ]


def run(workdir: Path) -> list[Figure]:
    figures = measure(f"sqlite:///{workdir / 'evidence.db'}", workdir, "sqlite")
    with scratch_database("evidence") as url:
        if url:
            figures += measure(url, workdir, "postgresql")
    return figures
