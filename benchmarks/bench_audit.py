"""Audit chain: cost of an audited write over a bare insert, with and without the Merkle tree, and of verifying."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from sqlalchemy import text

import migrations
from benchmarks.common import Figure
from catalog import organizations
from registry import audit, merkle_store
from registry.db import Database

N = 1000
ROUNDS = 10


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
    cost = audited_with_and_without_tree(db)
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
        *tree_figures("", cost),
        Figure("ratio audited (with the tree) / bare", cost["with"] / (bare / N), "x"),
        Figure(f"verify {result.count} entries with state checks", verify, "s", meets=result.ok),
    ]


def audited_with_and_without_tree(db, writes: int = N, rounds: int = ROUNDS, tag: str = "AUD") -> dict:
    """Per audited create, in seconds: ``with`` the tree (as shipped), ``without`` it (``merkle_store.append``
    a no-op: the write as it was before the tree), best of alternating rounds so both see the same
    machine; and ``append``, the median time spent inside ``merkle_store.append`` during the writes with
    the tree, which a busy machine disturbs far less than the difference of two totals.

    Before each round with the tree, one untimed write lets the tree catch up with the entries the
    round without it wrote (a cost only this benchmark's switching causes)."""
    per_round = writes // rounds
    best = {True: float("inf"), False: float("inf")}
    inside: list[float] = []
    original = merkle_store.append

    def timed_append(*args, **kwargs):
        t = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            inside.append(time.perf_counter() - t)

    def write(code):
        with db.writer() as s:
            organizations.create(s, {"code": code, "name": "单位"}, actor="bench")

    try:
        for r in range(rounds):
            for tree in (False, True):
                merkle_store.append = timed_append if tree else (lambda *a, **k: 0)
                if tree:
                    write(f"{tag}-catch-up-{r}")
                    inside.pop()
                t = time.perf_counter()
                for i in range(per_round):
                    write(f"{tag}-{tree:d}-{r}-{i}")
                best[tree] = min(best[tree], (time.perf_counter() - t) / per_round)
    finally:
        merkle_store.append = original
    return {"with": best[True], "without": best[False], "append": statistics.median(inside)}


def tree_figures(label: str, cost: dict) -> list[Figure]:
    """The audited write with and without the tree, and the two ways of reading the ratio."""
    by_append = 1 + cost["append"] / cost["without"]
    return [
        Figure(f"{label}audited write, without the tree (before issue 11)", cost["without"] * 1000, "ms"),
        Figure(f"{label}audited write, with the tree", cost["with"] * 1000, "ms"),
        Figure(f"{label}  of which inside merkle_store.append (median)", cost["append"] * 1000, "ms"),
        Figure(f"{label}ratio with / without the tree (totals)", cost["with"] / cost["without"], "x", "≤ 1.2",
               cost["with"] / cost["without"] <= 1.2),
        Figure(f"{label}ratio 1 + append / without (load-robust)", by_append, "x", "≤ 1.2", by_append <= 1.2),
    ]  # fmt: skip
