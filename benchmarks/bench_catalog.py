"""Catalog: record validation (polars, column-wise) against `frictionless validate` (search: bench_search.py)."""

from __future__ import annotations

import csv
import datetime as dt
import random
import time
from pathlib import Path

import migrations
from benchmarks.common import Figure
from catalog.demo import load_organizations
from catalog.resources import create_resource
from catalog.systems import create_system
from registry.db import Database

ROWS = 100_000
NOW = dt.datetime(2025, 1, 1)
RESOURCES = 50_000

# --- record validation ---------------------------------------------------------------------

FIELDS = [
    {"name": "id", "type": "integer", "required": True, "unique": True},
    {"name": "contract_no", "type": "string", "required": True, "constraints": {"pattern": "HT-[0-9]{6}"}},
    {"name": "qty", "type": "number", "constraints": {"minimum": 0}},
    {"name": "price", "type": "number", "constraints": {"minimum": 0, "maximum": 1000000}},
    {"name": "batch", "type": "string", "constraints": {"max_length": 8}},
    {"name": "grade", "type": "string", "constraints": {"enum": ["合格", "不合格"]}},
    {"name": "passed", "type": "boolean"},
    {"name": "on", "type": "date"},
    {"name": "at", "type": "datetime"},
    {"name": "level", "type": "integer", "constraints": {"minimum": 1, "maximum": 5}},
]


def _rows(n: int, seed_errors: bool) -> tuple[list[list[str]], set]:
    rnd = random.Random(7)
    rows, expected = [], set()
    for i in range(n):
        row = [
            str(i + 1),
            f"HT-{i % 1000000:06d}",
            f"{rnd.random() * 100:.2f}",
            f"{rnd.random() * 5000:.2f}",
            f"B{i % 9999:04d}",
            "合格" if i % 7 else "不合格",
            "true" if i % 3 else "false",
            f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}",
            f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
            str(1 + i % 5),
        ]
        if seed_errors and i % 97 == 5:
            kind = (i // 97) % 10
            if kind == 0:
                row[0] = "x" + row[0]
                expected.add((i, "id", "type"))
            elif kind == 1:
                row[0] = "1"  # duplicate of the first row
                expected.add((i, "id", "unique"))
            elif kind == 2:
                row[1] = ""
                expected.add((i, "contract_no", "required"))
            elif kind == 3:
                row[1] = "HT-12"
                expected.add((i, "contract_no", "constraint"))
            elif kind == 4:
                row[2] = "-4"
                expected.add((i, "qty", "constraint"))
            elif kind == 5:
                row[4] = "BATCH-TOO-LONG"
                expected.add((i, "batch", "constraint"))
            elif kind == 6:
                row[5] = "优秀"
                expected.add((i, "grade", "constraint"))
            elif kind == 7:
                row[6] = "maybe"
                expected.add((i, "passed", "type"))
            elif kind == 8:
                row[7] = "2024-02-30"
                expected.add((i, "on", "type"))
            else:
                row[9] = "9"
                expected.add((i, "level", "constraint"))
        rows.append(row)
    return rows, expected


def _write_csv(path: Path, rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow([f["name"] for f in FIELDS])
        w.writerows(rows)


def _frictionless(path: Path):
    from frictionless import Resource, Schema

    from catalog.exchange.datapackage import table_schema

    schema = Schema.from_descriptor(table_schema(FIELDS))
    report = Resource(path=path.name, basepath=str(path.parent), schema=schema).validate(limit_errors=10**7)
    found = set()
    for task in report.tasks:
        for e in task.errors:
            kind = {"type-error": "type", "unique-error": "unique", "constraint-error": "constraint"}.get(
                e.type
            )
            if kind is None:
                continue
            if kind == "constraint" and '"required"' in (e.note or ""):
                kind = "required"
            found.add((e.row_number - 2, e.field_name, kind))
    return found


def _ours(db: Database, path: Path):
    from catalog.records import validate_records

    with db.session() as s:
        result = validate_records(s, "BENCH-REC", csv=path.read_bytes())
    return {(r["index"], e["field"], e["type"]) for r in result["results"] for e in r["errors"]}


def bench_records(workdir: Path, db: Database) -> list[Figure]:
    with db.writer() as s:
        create_system(s, {"code": "BENCH", "name": "基准系统"}, actor="bench", commit=False)
        create_resource(
            s,
            {
                "code": "BENCH-REC",
                "name": "基准记录",
                "summary": "基准",
                "category": "E0301",
                "provider": "SZGWS",
                "fields": FIELDS,
            },
            actor="bench",
        )
    clean, _ = _rows(ROWS, False)
    seeded, expected = _rows(ROWS, True)
    clean_path, seeded_path = workdir / "clean.csv", workdir / "seeded.csv"
    _write_csv(clean_path, clean)
    _write_csv(seeded_path, seeded)

    t = time.perf_counter()
    theirs = _frictionless(seeded_path)
    t_fl = time.perf_counter() - t
    ours_times = []
    for _ in range(3):
        t = time.perf_counter()
        ours = _ours(db, seeded_path)
        ours_times.append(time.perf_counter() - t)
    t_ours = min(ours_times)
    t = time.perf_counter()
    clean_errors = _ours(db, clean_path)
    t_clean = time.perf_counter() - t
    same = ours == theirs
    from web import create_app

    app = create_app({"database_url": db.url, "secret_key": "bench"})
    client = app.test_client()
    body = seeded_path.read_bytes()
    http_times = []
    for _ in range(3):
        t = time.perf_counter()
        response = client.post(
            "/api/v1/validate/records?resource=BENCH-REC", data=body, headers={"Content-Type": "text/csv"}
        )
        response.get_json()
        http_times.append(time.perf_counter() - t)
    app.extensions["yima"].db.dispose()
    http_ok = response.status_code == 200 and response.get_json()["invalid"] == len({e[0] for e in expected})
    return [
        Figure(f"frictionless validate, {ROWS:,} rows x 10 fields (seeded)", t_fl, "s"),
        Figure("yima validate records (polars), same file", t_ours, "s"),
        Figure("speed-up over frictionless", t_fl / t_ours, "x", ">= 10x", t_fl / t_ours >= 10),
        Figure("yima, the clean copy (no errors)", t_clean, "s", meets=not clean_errors),
        Figure(
            "the same CSV over HTTP (POST /api/v1/validate/records, JSON parsed)",
            min(http_times),
            "s",
            meets=http_ok,
        ),
        Figure(
            f"errors found: yima {len(ours)}, frictionless {len(theirs)}, seeded {len(expected)}",
            len(ours),
            "errors",
            "identical sets",
            same and ours == expected,
        ),
    ]


def _database(url: str) -> Database:
    migrations.upgrade(url)
    db = Database(url)
    load_organizations(db, "bench")
    return db


def run(workdir: Path) -> list[Figure]:
    db = _database(f"sqlite:///{workdir / 'catalog.db'}")
    try:
        return bench_records(workdir, db)
    finally:
        db.dispose()
