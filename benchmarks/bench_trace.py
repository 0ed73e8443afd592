"""Traceability: 100,000 items with 400,000 events; the resolver page, an item's JSON with proofs, a 10,000-item delivery file.

The fixture is written in bulk: the same audit entries (a real hash chain), Merkle tree rows, deliveries, items
and events that 100 delivery files and 400,000 audited events would leave, without their transactions. Products,
organizations and the szgws-me release go through the services. On SQLite and, when ``YIMA_BENCH_POSTGRES_URL``
or ``YIMA_TEST_POSTGRES_URL`` is set, on PostgreSQL. ``YIMA_BENCH_TRACE_ITEMS`` shrinks the fixture.

Baselines in the same run: ``GET /api/v1/health`` (a request that reads nothing) beside the pages, ``GET
/api/v1/audit/{seq}`` (one entry with its proof) beside the item JSON (every event with its proof), and the
delivery file's dry run (read and check, no write) beside registering it.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import time
from pathlib import Path

from biip.checksums import gs1_standard_check_digit
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.orm import Session

import migrations
from benchmarks.common import Figure, scratch_database
from catalog.demo import load_organizations
from registry import audit, merkle, merkle_store
from registry.audit import AuditEntry
from registry.config import Config
from registry.db import Database
from registry.jsonutil import canonical, jsonable
from review import parties
from standards.demo import BUREAU_RELEASE, DATA
from standards.importer import writer as standards_service
from traceability import deliveries, products
from traceability.models import Delivery, Event, Item, Product
from web import create_app

ITEMS = int(os.environ.get("YIMA_BENCH_TRACE_ITEMS", 100_000))
PER_DELIVERY = 1_000
EVENTS = (("delivered", "CSCEC3B", None), ("inspected", "SUP-DEMO", "pass"), ("installed", "CSCEC3B", None),
          ("handed_over", "SZGWS-GCGL", None))  # fmt: skip
#: ten GTIN-13 bodies (check digit added by ``_gtin14``)
GTIN_BODIES = [f"069512340{n:04d}" for n in range(10)]
FILE_ITEMS = 10_000
T0 = dt.datetime(2025, 6, 1, 8, 0)
STAMP = "2026-01-01T00:00:00.000000Z"


def _gtin14(body: str) -> str:
    return body + str(gs1_standard_check_digit(body))


GTINS = [_gtin14(b) for b in GTIN_BODIES]


def _setup(db: Database) -> dict[str, int]:
    """Organizations, the bureau's szgws-me release and ten products, through the services; GTIN → product id."""
    load_organizations(db, "bench")
    with db.writer() as s:
        standards_service.import_files(
            s, "szgws-me", BUREAU_RELEASE, [DATA / "szgws-me.csv"], actor="bench", publish=True
        )
    for i, gtin in enumerate(GTINS):
        with db.writer() as s:
            products.register(
                s, gtin, "40-10.10.20", f"热轧带肋钢筋 {i}", actor="bench", organization="SZGWS"
            )
    with db.session() as s:
        return dict(s.execute(select(Product.gtin, Product.id)).all())


class _Chain:
    """Audit entries continuing the stored chain and tree, written in chunks (entries, tree rows)."""

    def __init__(self, session):
        last = session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))
        self.seq, self.prev = last.seq, last.hash
        keys = merkle.aligned_nodes(0, self.seq)
        found = merkle_store._fetch(session, keys)
        self.frontier = [found[k] for k in keys]
        self.entries: list[dict] = []

    def add(self, action: str, entity_type: str, entity_key: str, after: dict) -> int:
        self.seq += 1
        after = jsonable(after)
        body = {"seq": self.seq, "at": STAMP, "actor": "bench", "action": action, "entity_type": entity_type}
        body |= {"entity_key": entity_key, "before": None, "after": after}
        h = audit.entry_hash(self.prev, body)
        self.entries.append({**body, "after": canonical(after), "prev_hash": self.prev, "hash": h})
        self.prev = h
        return self.seq

    def flush(self, conn) -> None:
        if not self.entries:
            return
        start = self.entries[0]["seq"] - 1
        rows = merkle_store.rows_of(
            (merkle.entry_leaf(e["hash"]) for e in self.entries), start, self.frontier
        )
        conn.execute(insert(AuditEntry.__table__), self.entries)
        conn.execute(insert(merkle_store.AuditTree.__table__), [{"leaf": a, "hashes": b} for a, b in rows])
        self.entries = []


def fill(url: str, ids: dict[str, int], n_items: int) -> float:
    """``n_items`` items in deliveries of 1,000 and four events each, with their audit entries; seconds taken."""
    started = time.perf_counter()
    engine = create_engine(url)
    gtins = sorted(ids)
    with engine.begin() as conn:
        chain = _Chain(Session(bind=conn))
        item_id = event_id = 0
        for d in range(0, n_items, PER_DELIVERY):
            reference = f"BENCH-{d // PER_DELIVERY:04d}"
            batch = [
                (gtins[(d + i) % len(gtins)], f"L{d // PER_DELIVERY:04d}", f"{d + i:07d}")
                for i in range(min(PER_DELIVERY, n_items - d))
            ]
            keys = [f"01/{g}/10/{lot}/21/{serial}" for g, lot, serial in batch]
            after = deliveries.snapshot_state(reference, "BENCH", "CSCEC3B", [(k, {}) for k in keys])
            seq = chain.add("create", "trace_delivery", reference, after)
            delivery_id = d // PER_DELIVERY + 1
            conn.execute(insert(Delivery.__table__), [{"id": delivery_id, "reference": reference, "project": "BENCH",
                         "organization": "CSCEC3B", "items": len(batch), "seq": seq, "created_at": T0}])  # fmt: skip
            item_rows, event_rows = [], []
            for (gtin, lot, serial), key in zip(batch, keys, strict=True):
                item_id += 1
                item_rows.append({"id": item_id, "key": key, "product_id": ids[gtin], "gtin": gtin, "cpv": None,
                                  "lot": lot, "serial": serial, "attributes": None, "project": "BENCH",
                                  "delivery_id": delivery_id, "organization": "CSCEC3B", "seq": seq,
                                  "created_at": T0})  # fmt: skip
                for n, (kind, org, result) in enumerate(EVENTS, start=1):
                    at = T0 + dt.timedelta(days=n)
                    state = {"item": key, "n": n, "type": kind, "at": at, "result": result, "note": None,
                             "organization": org, "actor": "bench"}  # fmt: skip
                    event_id += 1
                    event_rows.append({"id": event_id, "item_id": item_id, "n": n, "type": kind, "at": at,
                                       "result": result, "note": None, "organization": org, "actor": "bench",
                                       "seq": chain.add(kind, "trace_event", f"{key}#{n}", state),
                                       "recorded_at": T0})  # fmt: skip
            chain.flush(conn)
            conn.execute(insert(Item.__table__), item_rows)
            conn.execute(insert(Event.__table__), event_rows)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "postgresql":
            for table in (
                "trace_delivery",
                "trace_item",
                "trace_event",
            ):  # explicit ids: move the sequences on
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                    )
                )
            for table in ("audit_entry", "audit_tree", "trace_item", "trace_event", "trace_delivery"):
                conn.execute(text(f"VACUUM ANALYZE {table}"))
        else:
            conn.execute(text("ANALYZE"))
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()
    merkle_store.forget_frontiers()
    return time.perf_counter() - started


def _median_ms(fn, keys: list[str]) -> float:
    times = []
    for key in keys:
        t = time.perf_counter()
        fn(key)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def measure(url: str, workdir: Path, label: str) -> list[Figure]:
    migrations.upgrade(url)
    db = Database(url)
    ids = _setup(db)
    db.dispose()
    built = fill(url, ids, ITEMS)
    app = create_app(
        Config(database_url=url, secret_key="bench", instance_path=str(workdir / f"inst-{label}"))
    )
    client = app.test_client()
    rng = random.Random(13)
    with app.extensions["yima"].db.session() as s:
        keys = list(s.scalars(select(Item.key)))
        events = s.scalar(select(Event.id).order_by(Event.id.desc()).limit(1)) or 0
    sample = [keys[rng.randrange(len(keys))] for _ in range(101)]

    def page(key):
        r = client.get("/" + key)
        assert r.status_code == 200 and b"trail" in r.data, r.status_code

    def item_json(key):
        r = client.get("/api/v1/trace/items/" + key)
        assert r.status_code == 200 and len(r.get_json()["events"]) == 4, r.status_code

    def health(_key):
        assert client.get("/api/v1/health").status_code == 200

    def entry(_key):
        assert client.get(f"/api/v1/audit/{rng.randrange(1, 1000)}").status_code == 200

    page(sample[0])  # the first request signs and keeps the checkpoint of the filled log's size
    resolver = _median_ms(page, sample)
    json_ms = _median_ms(item_json, sample)
    health_ms = _median_ms(health, sample[:51])
    entry_ms = _median_ms(entry, sample[:51])

    csv = "GTIN,批号,序列号\n" + "".join(f"{GTINS[i % 10]},F1,{i:06d}\n" for i in range(FILE_ITEMS))
    with app.extensions["yima"].db.writer() as s:
        _, secret = parties.create_token(
            s, "bench-contractor", "contributor", actor="bench", organization="CSCEC3B"
        )
    headers = {"Authorization": f"Bearer {secret}"}
    t = time.perf_counter()
    r = client.post("/api/v1/trace/deliveries/import?reference=FILE-1&dry_run=true", data=csv.encode(),
                    content_type="text/csv", headers=headers)  # fmt: skip
    dry = time.perf_counter() - t
    assert r.status_code == 200 and r.get_json()["added"] == FILE_ITEMS, r.get_json()
    t = time.perf_counter()
    r = client.post("/api/v1/trace/deliveries/import?reference=FILE-1", data=csv.encode(),
                    content_type="text/csv", headers=headers)  # fmt: skip
    registered = time.perf_counter() - t
    assert r.status_code == 201 and r.get_json()["added"] == FILE_ITEMS, r.get_json()
    app.extensions["yima"].db.dispose()
    n = f"{len(keys):,} items, {events:,} events"
    return [
        Figure(f"[{label}] fixture fill ({n})", built, "s"),
        Figure(f"[{label}] resolver page GET /01/… (HTML), median", resolver, "ms", "< 30 ms", resolver < 30),
        Figure(f"[{label}]   baseline: GET /api/v1/health, median", health_ms, "ms"),
        Figure(
            f"[{label}] item JSON with 4 proofs + checkpoint, median", json_ms, "ms", "< 20 ms", json_ms < 20
        ),
        Figure(f"[{label}]   baseline: GET /api/v1/audit/{{seq}} (1 proof), median", entry_ms, "ms"),
        Figure(
            f"[{label}] register a 10,000-item delivery file (CSV, API)",
            registered,
            "s",
            "< 5 s",
            registered < 5,
        ),
        Figure(f"[{label}]   baseline: the same file's dry run (read + check)", dry, "s"),
    ]


def run(workdir: Path) -> list[Figure]:
    figures = measure(f"sqlite:///{workdir / 'trace.db'}", workdir, "sqlite")
    with scratch_database("trace") as url:
        if url:
            figures += measure(url, workdir, "postgresql")
    return figures
