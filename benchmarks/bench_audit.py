"""Audit chain: cost of an audited write over a bare insert, and of verifying the chain."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import text

import migrations
from benchmarks.common import Figure
from catalog import organizations
from registry import audit
from registry.db import Database

N = 1000


def run(workdir: Path) -> list[Figure]:
    url = f"sqlite:///{workdir / 'audit.db'}"
    migrations.upgrade(url)
    db = Database(url)
    t = time.perf_counter()
    with db.writer() as s:
        for i in range(N):
            s.execute(
                text(
                    "INSERT INTO organization (code, name, kind, created_at, updated_at) "
                    "VALUES (:c, :n, 'other', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"c": f"BARE-{i}", "n": f"单位{i}"},
            )
            s.commit()
    bare = time.perf_counter() - t
    t = time.perf_counter()
    for i in range(N):
        with db.writer() as s:
            organizations.create(s, {"code": f"AUD-{i}", "name": f"单位{i}"}, actor="bench")
    audited = time.perf_counter() - t
    with db.writer() as s:
        s.execute(text("DELETE FROM organization WHERE code LIKE 'BARE-%'"))
        s.commit()
    t = time.perf_counter()
    with db.session() as s:
        result = audit.verify(s)
    verify = time.perf_counter() - t
    db.dispose()
    return [
        Figure(f"bare insert + commit, per row ({N} rows)", bare / N * 1000, "ms"),
        Figure("audited create through the service, per row", audited / N * 1000, "ms"),
        Figure("ratio audited / bare", audited / bare, "x"),
        Figure(f"verify {result.count} entries with state checks", verify, "s", meets=result.ok),
    ]
