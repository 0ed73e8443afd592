"""Alternating rounds of ``benchmarks intake``'s group-commit figure for two checkouts, in the same minutes.

In-process intake (no HTTP), 32 writer threads, each event through ``intake.ingest``: the rate, the
process's CPU per event and its voluntary context switches per event, for this checkout and another
one in turn, round after round, each run in a fresh process (so each checkout's own code is imported)
on a fresh SQLite file or PostgreSQL database. The machine's speed swings within minutes: only rounds
run side by side compare two versions.

    python -m benchmarks.compare_intake /path/to/other/checkout [--rounds 3] [--events 2000]
        [--kinds sqlite,postgresql]

The other checkout is e.g. ``git worktree add --detach /tmp/old <commit>``; this checkout's venv runs
both. PostgreSQL needs ``YIMA_BENCH_POSTGRES_URL``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from sqlalchemy import text

from benchmarks import bench_server  # the throwaway PostgreSQL database, as compare_server makes it
from benchmarks.common import ROOT

#: what each run executes in a process of its own, with the checkout first on ``sys.path``
_RUN = """
import json, resource, sys
from benchmarks import bench_intake
from benchmarks.bench_lineage import generate
url, count = sys.argv[1], int(sys.argv[2])
events = generate(seed=7)[:count]
bench_intake.migrations.upgrade(url)
before = resource.getrusage(resource.RUSAGE_SELF)
rate, stored, fallbacks = bench_intake._rate(url, events, bench_intake.group_commit.MAX_BATCH)
after = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({
    "rate": rate,
    "cpu_ms": 1000 * (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) / count,
    "switches": (after.ru_nvcsw - before.ru_nvcsw) / count,
    "ok": stored == count and fallbacks == 0,
}))
"""


def _one(path: Path, url: str, count: int) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _RUN, url, str(count)],
        env={**os.environ, "PYTHONPATH": str(path)},
        cwd=path,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the run from {path} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="the other checkout (a git worktree)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--kinds", default="sqlite,postgresql")
    opts = parser.parse_args(argv)
    if not (opts.other / "lineage" / "intake.py").is_file():
        parser.error(f"{opts.other} is not a Yima checkout")
    kinds = [k for k in opts.kinds.split(",") if k]
    if "postgresql" in kinds and not os.environ.get("YIMA_BENCH_POSTGRES_URL"):
        parser.error("postgresql needs YIMA_BENCH_POSTGRES_URL")
    checkouts = {"this": ROOT, "other": opts.other.resolve()}
    results: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for n in range(opts.rounds):
        line = [f"round {n + 1}:"]
        for kind in kinds:
            for name, path in checkouts.items():
                name_db = f"yima_bench_compare_intake_{os.getpid()}"
                admin = None
                if kind == "postgresql":
                    url, admin = bench_server._pg_url(name_db)
                else:
                    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='yima-compare-')) / 'intake.db'}"
                try:
                    found = _one(path, url, opts.events)
                finally:
                    if admin is not None:
                        with admin.connect() as conn:
                            conn.execute(text(f'DROP DATABASE IF EXISTS "{name_db}" WITH (FORCE)'))
                        admin.dispose()
                results[(kind, name)].append(found)
                ok = "" if found["ok"] else " (NOT ALL STORED, or batches redone)"
                line.append(f"{kind} {name} {found['rate']:.0f} ev/s{ok};")
        print(" ".join(line), f"(load {os.getloadavg()[0]:.1f})", flush=True)
    for (kind, name), runs in results.items():
        rates = [r["rate"] for r in runs]
        print(
            f"{kind:10} {name:5} {checkouts[name]}: median {statistics.median(rates):.0f} ev/s "
            f"(rounds {', '.join(f'{r:.0f}' for r in rates)}); CPU per event median "
            f"{statistics.median(r['cpu_ms'] for r in runs):.3f} ms, voluntary context switches per "
            f"event {statistics.median(r['switches'] for r in runs):.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
