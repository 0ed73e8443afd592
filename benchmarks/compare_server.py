"""Alternating rounds of ``benchmarks server``'s intake figure for two checkouts, in the same minutes.

The machine's speed swings 2–3× within an hour (2 shared cores), so a figure measured now and one
measured an hour ago say little about a change. This runs the real ``AsyncHttpTransport`` (100
concurrent) against the do-nothing asyncio responder, then against ``yima serve`` from each checkout
in turn (each on a fresh SQLite file or PostgreSQL database), round after round, and prints each
rate as a ratio to the same round's responder, with the worker processes' CPU per event.

    python -m benchmarks.compare_server /path/to/other/checkout [--rounds 3] [--events 3000]
        [--kinds sqlite,postgresql] [--args "--threads 8"]

The other checkout is e.g. ``git worktree add --detach /tmp/old <commit>``; this checkout's venv
runs both (their code is put first on ``PYTHONPATH``). PostgreSQL needs ``YIMA_BENCH_POSTGRES_URL``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from collections import defaultdict
from pathlib import Path

from sqlalchemy import text

from benchmarks import bench_server as bs
from benchmarks.common import ROOT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="the other checkout (a git worktree)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--kinds", default="sqlite,postgresql")
    parser.add_argument("--args", default="", help="yima serve arguments for both checkouts")
    opts = parser.parse_args(argv)
    if not (opts.other / "web" / "cli").is_dir():
        parser.error(f"{opts.other} is not a Yima checkout")
    kinds = [k for k in opts.kinds.split(",") if k]
    if "postgresql" in kinds and not os.environ.get("YIMA_BENCH_POSTGRES_URL"):
        parser.error("postgresql needs YIMA_BENCH_POSTGRES_URL")
    checkouts = {"this": ROOT, "other": opts.other.resolve()}
    events = bs._events(opts.events)
    serve_args = opts.args.split()
    current = {"path": ROOT}
    start = bs._start

    def start_from(cmd, port, env=None, cwd=ROOT):
        return start(cmd, port, {**(env or {}), "PYTHONPATH": str(current["path"])}, cwd)

    bs._start = start_from
    ratios, cpus = defaultdict(list), defaultdict(list)
    for n in range(opts.rounds):
        current["path"] = ROOT
        floor, _ = bs._null("asyncio", events)
        line = [f"round {n + 1}: asyncio responder {floor:.0f} ev/s"]
        for kind in kinds:
            for name, path in checkouts.items():
                current["path"] = path
                work = Path(tempfile.mkdtemp(prefix="yima-compare-"))
                if kind == "postgresql":
                    url, admin = bs._pg_url(f"yima_bench_compare_{os.getpid()}")
                else:
                    url, admin = f"sqlite:///{work / 'compare.db'}", None
                try:
                    rate, stats, cpu = bs._yima(url, work, events, *serve_args)
                finally:
                    if admin is not None:
                        with admin.connect() as conn:
                            conn.execute(
                                text(
                                    f'DROP DATABASE IF EXISTS "yima_bench_compare_{os.getpid()}" WITH (FORCE)'
                                )
                            )
                        admin.dispose()
                ok = "" if bs._ok(stats, len(events)) else " (NOT ALL ANSWERED)"
                ratios[(kind, name)].append(rate / floor)
                cpus[(kind, name)].append(cpu or 0.0)
                line.append(f"{kind} {name} {rate / floor:.3f}x{ok}")
        print("; ".join(line), f"(load {os.getloadavg()[0]:.1f})", flush=True)
    for (kind, name), values in ratios.items():
        print(
            f"{kind:10} {name:5} {checkouts[name]}: median {statistics.median(values):.3f}x "
            f"(rounds {', '.join(f'{v:.3f}' for v in values)}); worker CPU per event median "
            f"{statistics.median(cpus[(kind, name)]):.2f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
