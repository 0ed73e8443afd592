"""What every benchmark shares: a figure line, a timer, the Uniclass data's location."""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
UNICLASS_DIR = Path(os.environ.get("YIMA_UNICLASS_DIR", ROOT.parent / "shared" / "data" / "uniclass2015"))


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    target: str = ""
    meets: bool | None = None

    def line(self) -> str:
        verdict = "" if self.meets is None else ("  ok" if self.meets else "  MISSES TARGET")
        target = f"  (target {self.target})" if self.target else ""
        return f"   {self.name:<58} {self.value:>12.3f} {self.unit:<8}{target}{verdict}"


def best_of(fn, repeat: int = 5) -> float:
    """The fastest of ``repeat`` runs, in seconds (least disturbed by the rest of the machine)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def median_of(fn, repeat: int = 21) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def load_figure() -> Figure:
    """The machine's 1-minute load average now (2 cores shared): printed beside timings taken under it."""
    return Figure("machine load (1-min average, 2 cores shared)", os.getloadavg()[0], "load")


def postgres_base() -> str | None:
    """The PostgreSQL server the benchmarks use (YIMA_BENCH_POSTGRES_URL, else YIMA_TEST_POSTGRES_URL)."""
    return os.environ.get("YIMA_BENCH_POSTGRES_URL") or os.environ.get("YIMA_TEST_POSTGRES_URL") or None


@contextlib.contextmanager
def scratch_database(tag: str) -> Iterator[str | None]:
    """A fresh PostgreSQL database ``yima_bench_{tag}_{pid}`` for one measurement, dropped afterwards;
    None when no PostgreSQL is configured (the benchmark then measures SQLite only)."""
    pg = postgres_base()
    if not pg:
        yield None
        return
    base = make_url(pg).set(drivername="postgresql+psycopg")
    name = f"yima_bench_{tag}_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
