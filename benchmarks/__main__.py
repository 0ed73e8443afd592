"""Run the benchmarks: ``python -m benchmarks [NAME ...]`` (names are bench_<NAME>.py files here).

Each module has ``run(workdir: Path) -> list[Figure]``; figures are printed as a table with the
target each issue states, measured against a baseline in the same run — never pass/fail timings.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Figure  # noqa: F401  (re-exported for bench modules)

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    known = sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    if any(a in ("-h", "--help", "help") for a in argv):
        print(__doc__.strip() + "\n\nbenchmarks: " + " ".join(known))
        return 0
    unknown = [a for a in argv if a not in known]
    if unknown:
        print(f"no benchmark named {', '.join(unknown)}; there are: {' '.join(known)}", file=sys.stderr)
        return 2
    for name in argv or known:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        print(f"\n== {name}: {(module.__doc__ or '').strip().splitlines()[0]}", flush=True)
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix=f"yima-bench-{name}-") as tmp:
            figures = module.run(Path(tmp))
        for fig in figures:
            print(fig.line(), flush=True)
        print(f"   ({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
