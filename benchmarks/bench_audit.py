"""Audit chain: cost of an audited write over a bare insert, with and without the Merkle tree, and of verifying."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import text

import migrations
from benchmarks.common import Figure
from catalog import organizations
from registry import audit, merkle_store
from registry.db import Database

N = 1000
ROUNDS = 5


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
    audited, untreed = audited_with_and_without_tree(db)
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
        Figure("audited create, without the Merkle tree (before issue 11)", untreed * 1000, "ms"),
        Figure("audited create through the service, per row", audited * 1000, "ms"),
        Figure("ratio audited / bare", audited / (bare / N), "x"),
        Figure(
            "ratio audited with / without the tree", audited / untreed, "x", "≤ 1.2", audited / untreed <= 1.2
        ),
        Figure(f"verify {result.count} entries with state checks", verify, "s", meets=result.ok),
    ]


def audited_with_and_without_tree(
    db, writes: int = N, rounds: int = ROUNDS, tag: str = "AUD"
) -> tuple[float, float]:
    """Seconds per audited create, with the tree (as shipped) and without (``merkle_store.append`` a no-op,
    i.e. the write as it was before the tree), in alternating rounds so both see the same machine.

    Before each round with the tree, one untimed write lets the tree catch up with the entries the
    round without it wrote (a cost only this benchmark's switching causes)."""
    per_round = writes // rounds
    best = {True: float("inf"), False: float("inf")}
    original = merkle_store.append

    def write(code):
        with db.writer() as s:
            organizations.create(s, {"code": code, "name": "单位"}, actor="bench")

    try:
        for r in range(rounds):
            for tree in (False, True):
                merkle_store.append = original if tree else (lambda *a, **k: 0)
                if tree:
                    write(f"{tag}-catch-up-{r}")
                t = time.perf_counter()
                for i in range(per_round):
                    write(f"{tag}-{tree:d}-{r}-{i}")
                best[tree] = min(best[tree], (time.perf_counter() - t) / per_round)
    finally:
        merkle_store.append = original
    return best[True], best[False]
