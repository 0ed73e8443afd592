"""Lineage intake in process (no HTTP), concurrent writers: group commit against one event per transaction, SQLite and PostgreSQL."""

from __future__ import annotations

import os
import random
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

import migrations
from benchmarks.bench_lineage import generate
from benchmarks.common import Figure, load_figure
from lineage import group_commit, intake
from lineage.models import LineageEvent
from registry.db import Database

EVENTS = int(os.environ.get("YIMA_BENCH_INTAKE_EVENTS", 1_000))
WRITERS = 32


#: the share of events sent twice in the resent figure (a client retrying requests whose answers it lost)
RESENT = 0.10


def _rate(url: str, events: list[dict], batch: int, stored_before: int = 0) -> tuple[float, int, int]:
    """Events per second with WRITERS threads, each event through ``intake.ingest`` on its own session,
    at most ``batch`` events per transaction; how many events are stored afterwards, and how many
    batches failed and were redone event by event (0 unless something is wrong). ``stored_before``:
    the first so many events are stored before the clock starts and sent again among the others, in
    a shuffled order (answered as duplicates)."""
    migrations.upgrade(url)
    database = Database(url)
    with database.session() as s:
        committer = group_commit.committer(s, intake._begin_batch, intake._settle_batch)
    committer.max_batch = batch
    if stored_before:
        with database.writer() as s:
            intake.ingest_many(s, events[:stored_before], actor="bench")
        resent = events[:stored_before]
        events = events[stored_before:] + resent
        random.Random(7).shuffle(events)
        resent_digests = {id(e) for e in resent}
    else:
        resent_digests = set()

    def one(event):
        with database.writer() as s:
            _, created = intake.ingest(s, event, actor="bench")
            assert created == (id(event) not in resent_digests)

    t = time.perf_counter()
    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(one, events))
    took = time.perf_counter() - t
    fallbacks = committer.fallbacks
    with database.session() as s:
        stored = s.scalar(select(func.count()).select_from(LineageEvent))
    database.dispose()
    return len(events) / took, stored - stored_before, fallbacks


def _pg_database(base, name: str, admin) -> str:
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return base.set(database=name).render_as_string(hide_password=False)


ROUNDS = 3


def _figures(label: str, url_of, events: list[dict]) -> list[Figure]:
    """ROUNDS rounds alternating one event per transaction and group commit, each on a fresh database
    (the machine is shared: alternating keeps both sides under the same load); medians."""
    single, grouped, ok = [], [], True
    for r in range(ROUNDS):
        for batch, rates in ((1, single), (group_commit.MAX_BATCH, grouped)):
            rate, stored, fallbacks = _rate(url_of(f"{r}_{batch}"), events, batch)
            rates.append(rate)
            ok = ok and stored == len(events) and fallbacks == 0
    single_rate, grouped_rate = statistics.median(single), statistics.median(grouped)
    resent = int(len(events) * RESENT)
    resent_rate, stored, fallbacks = _rate(url_of("resent"), events, group_commit.MAX_BATCH, resent)
    resent_ok = stored == len(events) - resent and fallbacks == 0
    return [
        load_figure(),
        Figure(
            f"[{label}] baseline: one event per transaction, {WRITERS} writers (median of {ROUNDS})",
            single_rate,
            "ev/s",
            meets=ok,
        ),
        Figure(
            f"[{label}] group commit, {WRITERS} writers, {len(events):,} events (median of {ROUNDS})",
            grouped_rate,
            "ev/s",
            ">= 2000",
            grouped_rate >= 2000,
        ),
        Figure(f"[{label}] group commit / one per transaction", grouped_rate / single_rate, "x"),
        Figure(
            f"[{label}] group commit, {resent:,} of them resent among the others (a client's retries; one run)",
            resent_rate,
            "ev/s",
            meets=resent_ok,
        ),
        Figure(f"[{label}]    resent / all new", resent_rate / grouped_rate, "x"),
        Figure(f"[{label}]    rounds: one per transaction", 0, " ".join(f"{x:.0f}" for x in single)),
        Figure(f"[{label}]    rounds: group commit", 0, " ".join(f"{x:.0f}" for x in grouped)),
    ]


def run(workdir: Path) -> list[Figure]:
    events = generate(seed=7)[:EVENTS]
    figures = _figures("sqlite", lambda tag: f"sqlite:///{workdir / f'{tag}.db'}", events)
    pg = os.environ.get("YIMA_BENCH_POSTGRES_URL") or os.environ.get("YIMA_TEST_POSTGRES_URL")
    if pg:
        base = make_url(pg).set(drivername="postgresql+psycopg")
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        names: list[str] = []

        def url_of(tag: str) -> str:
            names.append(f"yima_bench_intake_{os.getpid()}_{tag}")
            return _pg_database(base, names[-1], admin)

        try:
            figures += _figures("postgresql", url_of, events)
        finally:
            with admin.connect() as conn:
                for n in names:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)'))
            admin.dispose()
    figures.append(load_figure())
    return figures
