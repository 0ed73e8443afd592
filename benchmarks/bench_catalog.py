"""Catalog: record validation (polars, column-wise) against `frictionless validate`, and search over 50,000 resources."""

from __future__ import annotations

import csv
import datetime as dt
import os
import random
import statistics
import time
from pathlib import Path

from sqlalchemy import insert, select, text

import migrations
from benchmarks.common import Figure
from catalog.demo import load_organizations
from catalog.models import DataResource, ResourceField, ResourceSearch
from catalog.resources import create_resource
from catalog.search import search_resources, search_row
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


# --- search --------------------------------------------------------------------------------

DISTRICTS = [
    "福田区",
    "罗湖区",
    "南山区",
    "宝安区",
    "龙岗区",
    "龙华区",
    "坪山区",
    "光明区",
    "盐田区",
    "大鹏新区",
]
KINDS = [
    "学校",
    "医院",
    "体育中心",
    "保障性住房",
    "道路",
    "地铁配套",
    "文化馆",
    "图书馆",
    "公园",
    "污水处理厂",
]
SUBJECTS = [
    "招标公告",
    "中标结果",
    "合同台账",
    "工程变更记录",
    "进度月报",
    "质量安全巡查记录",
    "履约评价得分",
    "不良行为记录",
    "BIM模型审查意见",
    "构件库",
    "材料设备编码表",
    "采购订单",
    "进场验收记录",
    "二维码溯源记录",
    "竣工移交清单",
    "第三方质量评估报告",
    "混凝土强度检测",
    "钢筋进场复检",
    "安全文明施工检查",
]
QUALIFIERS = ["月度", "季度", "年度", "汇总", "明细", "台账"]
TAGS = ["合同", "招标", "质量", "安全", "一码到底", "BIM", "信用", "验收", "进度", "投资"]
QUERIES = [
    "招标公告",
    "履约评价得分",
    "进场验收",
    "审查意见",
    "竣工移交清单",
    "宝安区",
    "体育中心",
    "混凝土强度",
    "钢筋",
    "污水处理",
    "质量安全",
    "不良行为",
    "材料设备编码",
    "二维码溯源",
]


def _fill(db: Database, n: int) -> None:
    rnd = random.Random(11)
    categories = ["A0101", "A0201", "A0202", "A0302", "B0101", "C0101", "C0201", "D0101", "E0201", "E0301"]
    systems = [f"S-{i:02d}" for i in range(20)]
    with db.writer() as s:
        for code in systems:
            create_system(s, {"code": code, "name": f"业务系统{code}"}, actor="bench", commit=False)
        s.commit()
    with db.session() as s:
        offset = (s.scalar(select(text("max(id)")).select_from(text("data_resource"))) or 0) + 1
    batch = 5000
    for start in range(0, n, batch):
        res_rows, field_rows, search_rows = [], [], []
        for i in range(start, min(n, start + batch)):
            district, kind, subject = rnd.choice(DISTRICTS), rnd.choice(KINDS), rnd.choice(SUBJECTS)
            name = f"{district}{kind}工程{subject}（{rnd.randint(2018, 2025)}年{rnd.choice(QUALIFIERS)}）"
            tags = rnd.sample(TAGS, 2)
            values = {
                "code": f"R{i:06d}",
                "name": name,
                "summary": f"{district}{kind}项目{subject}数据，由建设单位按{rnd.choice(QUALIFIERS)}汇总上报。",
                "tags": tags,
                "fields": [
                    {"name": "project_no", "title": "项目编号"},
                    {"name": "record_no", "title": f"{subject}编号"},
                    {"name": "amount", "title": "金额"},
                ],
            }
            res_rows.append(
                {
                    "id": offset + i,
                    "code": values["code"],
                    "name": name,
                    "summary": values["summary"],
                    "category": rnd.choice(categories),
                    "provider": "SZGWS",
                    "system": rnd.choice(systems),
                    "share_type": rnd.choice(["unconditional", "conditional", "none"]),
                    "open_to_public": False,
                    "security_grade": rnd.choice(["general", "important", "core"]),
                    "related": [],
                    "tags": tags,
                    "status": rnd.choice(["draft", "published", "published", "retired"]),
                    "revision": 1,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            )
            for p, f in enumerate(values["fields"]):
                field_rows.append(
                    {
                        "resource_id": offset + i,
                        "position": p,
                        "name": f["name"],
                        "title": f["title"],
                        "type": "string",
                        "required": False,
                        "unique": False,
                        "constraints": {},
                    }
                )
            search_rows.append(search_row(offset + i, {**res_rows[-1], "fields": values["fields"]}))
        with db.writer() as s:
            s.execute(insert(DataResource), res_rows)
            s.execute(insert(ResourceField), field_rows)
            s.execute(insert(ResourceSearch), search_rows)
            s.commit()
    if db.dialect == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))


def _time_queries(db: Database) -> tuple[dict[str, float], dict[str, int]]:
    medians, totals = {}, {}
    with db.session() as s:
        for q in QUERIES:
            times = []
            for _ in range(7):
                t = time.perf_counter()
                result = search_resources(s, {"q": q, "per_page": 20})
                [r.to_dict() for r in result.items]
                times.append(time.perf_counter() - t)
            medians[q] = statistics.median(times)
            totals[q] = result.total
    return medians, totals


def _like_scan(db: Database) -> float:
    """Baseline: the same substrings as an un-indexed LIKE scan that only counts (no facets, no page)."""
    times = []
    with db.session() as s:
        for q in QUERIES:
            t = time.perf_counter()
            s.execute(
                select(text("count(*)")).select_from(text("resource_search")).where(text("text LIKE :p")),
                {"p": f"%{q}%"},
            ).scalar()
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_search(db: Database, label: str) -> list[Figure]:
    t = time.perf_counter()
    _fill(db, RESOURCES)
    fill = time.perf_counter() - t
    medians, totals = _time_queries(db)
    overall = statistics.median(medians.values())
    worst = max(medians, key=medians.get)
    short = {q: m for q, m in medians.items() if len(q) < 3}
    figures = [
        Figure(f"[{label}] load {RESOURCES:,} resources (bulk, search text computed)", fill, "s"),
        Figure(
            f"[{label}] search median over {len(QUERIES)} Chinese queries (page + total + facets)",
            overall * 1000,
            "ms",
            "< 20 ms",
            overall < 0.020,
        ),
        Figure(f"[{label}] slowest query {worst!r} ({totals[worst]:,} hits)", medians[worst] * 1000, "ms"),
        Figure(
            f"[{label}] baseline: the bare match as LIKE, count only, median", _like_scan(db) * 1000, "ms"
        ),
    ]
    with db.session() as s:
        t = time.perf_counter()
        broad = search_resources(s, {"q": "工程", "per_page": 20})
        figures.append(
            Figure(
                f"[{label}] worst case: '工程' matches all {broad.total:,} resources",
                (time.perf_counter() - t) * 1000,
                "ms",
            )
        )
    for q, m in short.items():
        figures.append(Figure(f"[{label}] two-character query {q!r} ({totals[q]:,} hits)", m * 1000, "ms"))
    return figures


def _database(url: str) -> Database:
    migrations.upgrade(url)
    db = Database(url)
    load_organizations(db, "bench")
    return db


def run(workdir: Path) -> list[Figure]:
    figures = []
    db = _database(f"sqlite:///{workdir / 'catalog.db'}")
    try:
        figures += bench_records(workdir, db)
        figures += bench_search(db, "sqlite")
    finally:
        db.dispose()
    pg = os.environ.get("YIMA_BENCH_POSTGRES_URL") or os.environ.get("YIMA_TEST_POSTGRES_URL")
    if pg:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        base = make_url(pg).set(drivername="postgresql+psycopg")
        name = f"yima_bench_catalog_{os.getpid()}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            db = _database(base.set(database=name).render_as_string(hide_password=False))
            try:
                figures += bench_search(db, "postgresql")
            finally:
                db.dispose()
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    return figures
