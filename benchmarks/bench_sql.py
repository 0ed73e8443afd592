"""SQL lineage: 1,000 generated view/ETL statements; statements/s and correct column edges for Yima, DataHub and openlineage-sql.

The statements (views with joins and GROUP BY, CTEs, UNION, INSERT…SELECT, MERGE) come from
``benchmarks/sql_corpus.py`` with their true column edges known from construction. Yima and
DataHub get every table's columns (DataHub's SchemaResolver, Yima's ``schema=``); openlineage-sql
takes none. A column edge is (source field, target field) for one target column — DIRECT or the
column's own CONDITIONAL/WINDOW sources, which all three report per column; Yima's statement-wide
JOIN/FILTER/GROUP BY sources are not counted. The peers run in a subprocess
(``benchmarks/sql_peers.py``) under the first interpreter that has them: this one, or
``.venv-bench`` (DataHub pins its own sqlglot; see docs/sql-lineage.md for installing it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import ROOT, Figure
from benchmarks.sql_corpus import Corpus, Statement, schema
from lineage.sql import analyse

STATEMENTS = int(os.environ.get("YIMA_BENCH_SQL_STATEMENTS", 1000))
WARMUP = 30
PEERS = {"datahub": "datahub.sql_parsing.sqlglot_lineage", "openlineage": "openlineage_sql"}
INSTALL = {
    "datahub": "python3 -m venv .venv-bench && .venv-bench/bin/pip install 'acryl-datahub[sql-parser]'",
    "openlineage": ".venv/bin/pip install -e '.[bench]'  (openlineage-sql; or into .venv-bench)",
}


def _yima(statements: list[str], warmup: list[str], tables: dict) -> dict:
    def run(sql: str) -> dict:
        st = analyse(sql, dialect="postgres", namespace="bench", schema=tables)[0]
        edges = [
            [_short(s), _short(c.target)] for c in st.columns for s in c.sources
        ]  # DIRECT and per-column INDIRECT
        return {
            "inputs": sorted(i.split(":", 2)[2] for i in st.inputs),
            "outputs": sorted(o.split(":", 2)[2] for o in st.outputs),
            "edges": edges,
            "typed": [
                [_short(s), _short(c.target), c.transformation.subtype] for c in st.columns for s in c.sources
            ],
            "error": st.error,
        }

    for sql in warmup:
        run(sql)
    wall, cpu = time.perf_counter(), time.process_time()
    results = [run(sql) for sql in statements]
    return {
        "seconds": time.perf_counter() - wall,
        "cpu_seconds": time.process_time() - cpu,
        "results": results,
    }


def _short(field_id: str) -> str:
    _, _, rest = field_id.split(":", 2)
    table, column = rest.rsplit(":", 1)
    return f"{table}.{column}".lower()


def _interpreter(module: str) -> str | None:
    """The first Python that can import ``module``: this one, then the worktree's ``.venv-bench``."""
    for python in (sys.executable, str(ROOT / ".venv-bench" / "bin" / "python")):
        if Path(python).exists():
            probe = subprocess.run([python, "-c", f"import {module}"], capture_output=True)
            if probe.returncode == 0:
                return python
    return None


def _peer(tool: str, job: dict) -> dict | None:
    python = _interpreter(PEERS[tool])
    if python is None:
        print(f"   {tool}: not installed, skipped — install with: {INSTALL[tool]}", flush=True)
        return None
    proc = subprocess.run(
        [python, str(ROOT / "benchmarks" / "sql_peers.py"), tool],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if proc.returncode != 0:
        print(f"   {tool}: failed — {proc.stderr.strip().splitlines()[-1:]}", flush=True)
        return None
    out = json.loads(proc.stdout)
    out["python"] = python
    return out


def _score(name: str, run: dict, corpus: list[Statement]) -> dict:
    truth = {(s, t) for st in corpus for s, t, _ in st.edges}
    truth_tables = {(i, st.output) for st in corpus for i in st.inputs}
    got, got_tables, failed = set(), set(), 0
    for res in run["results"]:
        got |= {(s, t) for s, t in res["edges"] if t}
        got_tables |= {(i, o) for i in res["inputs"] for o in res["outputs"]}
        failed += bool(res["error"])
    correct = len(got & truth)
    return {
        "name": name,
        "rate": len(corpus) / run["seconds"],
        "cpu_rate": len(corpus) / run["cpu_seconds"],
        "correct": correct,
        "precision": correct / len(got) if got else 0.0,
        "recall": correct / len(truth),
        "table_recall": len(got_tables & truth_tables) / len(truth_tables),
        "failed": failed,
        "truth": len(truth),
    }


def _typed(run: dict, corpus: list[Statement]) -> float:
    """Of Yima's correct edges, the share whose transformation subtype matches the construction."""
    truth: dict[tuple[str, str], set[str]] = {}
    for st in corpus:
        for s, t, sub in st.edges:
            truth.setdefault((s, t), set()).add(sub)  # one field may feed a column two ways
    typed = [(s, t, sub) for res in run["results"] for s, t, sub in res["typed"] if (s, t) in truth]
    return sum(sub in truth[(s, t)] for s, t, sub in typed) / max(1, len(typed))


def _by_kind(scores: dict, runs: dict, corpus: list[Statement]) -> None:
    """Recall per statement kind, printed: where each parser gains or loses its edges."""
    kinds = sorted({st.kind for st in corpus})
    print("   recall of column edges by statement kind:", flush=True)
    print("   " + f"{'kind':<16}{'edges':>7}" + "".join(f"{name:>13}" for name in runs), flush=True)
    for kind in kinds:
        picked = [(st, i) for i, st in enumerate(corpus) if st.kind == kind]
        truth = {(s, t) for st, _ in picked for s, t, _ in st.edges}
        cells = []
        for result in runs.values():
            got = {(s, t) for _, i in picked for s, t in result["results"][i]["edges"]}
            cells.append(f"{len(got & truth) / max(1, len(truth)):>13.3f}")
        print("   " + f"{kind:<16}{len(truth):>7}" + "".join(cells), flush=True)


def run(workdir: Path) -> list[Figure]:
    load = os.getloadavg()[0]
    corpus = Corpus(seed=15).generate(STATEMENTS)
    warmup = [s.sql for s in Corpus(seed=99).generate(WARMUP)]
    tables = schema()
    statements = [s.sql for s in corpus]
    job = {"statements": statements, "warmup": warmup, "schema": tables, "dialect": "postgres"}
    kinds = {}
    for st in corpus:
        kinds[st.kind] = kinds.get(st.kind, 0) + 1
    print(f"   {len(corpus)} statements {kinds}; load average {load:.2f} at the start", flush=True)
    runs = {"yima": (yima := _yima(statements, warmup, tables))}
    for tool in PEERS:
        result = _peer(tool, job)
        if result is not None:
            runs[tool] = result
    scores = {name: _score(name, result, corpus) for name, result in runs.items()}
    figures = [Figure("load average (1 min) at the start", load, "", "< 3 for figures to trust", load < 3)]
    dh = scores.get("datahub")
    for name, sc in scores.items():
        vs = ""
        meets = None
        if name == "yima" and dh:
            vs, meets = f">= DataHub's {dh['rate']:.0f}/s", sc["rate"] >= dh["rate"]
        figures += [
            Figure(f"{name}: statements/s (wall clock)", sc["rate"], "stmt/s", vs, meets),
            Figure(f"{name}: statements/s per CPU second", sc["cpu_rate"], "stmt/s"),
        ]
        target, meets = "", None
        if name == "yima" and dh:
            target, meets = f">= DataHub's {dh['correct']}", sc["correct"] >= dh["correct"]
        figures += [
            Figure(f"{name}: correct column edges (of {sc['truth']})", sc["correct"], "edges", target, meets),
            Figure(f"{name}: column-edge precision", sc["precision"], ""),
            Figure(f"{name}: column-edge recall", sc["recall"], ""),
            Figure(f"{name}: dataset-edge recall", sc["table_recall"], ""),
            Figure(f"{name}: statements with an error", sc["failed"], "stmts"),
        ]
    figures.append(Figure("yima: share of correct edges typed as constructed", _typed(yima, corpus), ""))
    _by_kind(scores, runs, corpus)
    if dh:
        figures.append(
            Figure(
                "yima / DataHub statements/s",
                scores["yima"]["rate"] / dh["rate"],
                "x",
                ">= 1",
                scores["yima"]["rate"] >= dh["rate"],
            )
        )
    return figures
