"""Column lineage: 20,000 datasets x 20 fields, 400,000 column edges; field impact, GraphML export, intake with columnLineage."""

from __future__ import annotations

import datetime as dt
import gc
import io
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import networkx as nx
from sqlalchemy import insert

import migrations
from benchmarks.bench_lineage import DATASETS, SYSTEMS, dataset, generate
from benchmarks.common import Figure
from catalog.models import System
from lineage import intake
from lineage.columns import queries as column_queries
from lineage.columns.facet import ColumnEdge, canonical
from lineage.columns.graph import column_timeline
from lineage.columns.store import pack
from lineage.export.bundle import export
from lineage.models import LineageColumnEdge, LineageEdge, LineageNode
from registry.db import Database

FIELDS = 20
#: datasets 4..83 also get one dataset-wide entry each, so the fixture holds exactly 400,000 column edges
#: (the 4 roots have no inputs) and the dataset-wide path is exercised
WIDE = range(4, 84)
INTAKE_EVENTS = int(os.environ.get("YIMA_BENCH_COLUMN_EVENTS", 1_000))
INTAKE_FIELDS = 50
_TRANSFORMATIONS = [
    canonical([{"type": "DIRECT", "subtype": s, "description": None, "masking": False}])
    for s in ("IDENTITY", "TRANSFORMATION", "AGGREGATION")
]
_FILTER = canonical([{"type": "INDIRECT", "subtype": "FILTER", "description": None, "masking": False}])


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def _fixture(db: Database) -> tuple[int, list[str]]:
    """The dataset graph of ``bench_lineage`` (20,000 datasets, 5,000 jobs, 60,000 edges, 200 systems)
    and 20 fields per dataset, each fed by one field of one of its job's inputs, bulk-inserted."""
    events = generate()
    nodes, edges, columns = {}, [], []
    rng = random.Random(15)
    for k, ev in enumerate(events):
        when = dt.datetime.fromisoformat(ev["eventTime"].replace("Z", "")).replace(tzinfo=None)
        job = f"job:{ev['job']['namespace']}:{ev['job']['name']}"
        nodes[job] = (job, "job", ev["job"]["namespace"], ev["job"]["name"], when)
        ins = [f"dataset:{d['namespace']}:{d['name']}" for d in ev["inputs"]]
        outs = [f"dataset:{d['namespace']}:{d['name']}" for d in ev["outputs"]]
        for d in ev["inputs"] + ev["outputs"]:
            node = f"dataset:{d['namespace']}:{d['name']}"
            nodes.setdefault(node, (node, "dataset", d["namespace"], d["name"], when))
        edges += [(i, job, "input", job, when) for i in ins]
        edges += [(job, o, "output", job, when) for o in outs]
        if not ins:
            continue
        for o in outs:
            rank = int(o.rsplit("_", 1)[1])
            for j in range(FIELDS):
                src = ins[(j + k) % len(ins)]
                f = f"f{(j * 7 + k) % FIELDS:02d}"
                columns.append((src, f, o, f"f{j:02d}", rng.choice(_TRANSFORMATIONS), job, when))
            if rank in WIDE:
                columns.append((ins[0], "f00", o, None, _FILTER, job, when))
    with db.writer() as s:
        s.execute(
            insert(System),
            [
                {"code": f"SYS{i:03d}", "name": f"业务系统{i:03d}", "namespaces": [f"sys{i:03d}"]}
                for i in range(SYSTEMS)
            ],
        )
        s.execute(
            insert(LineageNode),
            [
                {"node_id": n, "type": t, "namespace": ns, "name": name, "first_seen": w}
                for n, t, ns, name, w in nodes.values()
            ],
        )
        s.execute(
            insert(LineageEdge),
            [{"source": a, "target": b, "kind": k, "job": j, "valid_from": w} for a, b, k, j, w in edges],
        )
        # stored as intake stores them: a row per (event, output), its edges packed in the facet's order
        packed: dict[tuple, list[ColumnEdge]] = {}
        for src, sf, out, tf, trans, job, when in columns:
            packed.setdefault((out, job, when), []).append(ColumnEdge.of(src, sf, out, tf, trans))
        rows = []
        for (out, job, when), edges in packed.items():
            edges.sort(key=ColumnEdge.key)
            rows.append(
                {
                    "target_dataset": out,
                    "job": job,
                    "valid_from": when,
                    "edge_count": len(edges),
                    "edges": pack(edges),
                }
            )
            if len(rows) == 5_000:
                s.execute(insert(LineageColumnEdge), rows)
                rows = []
        if rows:
            s.execute(insert(LineageColumnEdge), rows)
        s.commit()
    # fields across the graph (seeded): their reach varies from a few fields to most of the graph
    sources = sorted({_as_field(src, sf) for src, sf, *_ in columns})
    picked = random.Random(16).sample(sources, 11)
    widest = sorted(_as_field(src, sf) for src, sf, *_ in columns if src in _ROOTS)[0]
    return len(columns), [widest, *picked]


_ROOTS = {f"dataset:{ns}:{name}" for ns, name in (dataset(r) for r in range(4))}


def _as_field(dataset_id: str, field: str) -> str:
    return dataset_id.replace("dataset:", "datasetField:", 1) + ":" + field


def _calibration() -> float:
    """Seconds for 10 million integer additions: about 0.4 s on this machine when it is quiet, so the
    figures can be read against how busy the machine was during the run."""
    t = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - t


def _queries(db: Database, figures: list[Figure], count: int, roots: list[str]) -> None:
    """``roots[0]`` is a root's field (its reach is most of the graph), the others fields across it."""
    gc.collect()
    rss = _rss_mb()
    with db.session() as s:
        t, cpu = time.perf_counter(), time.process_time()
        column_queries.impact_json(s, roots[1])
        cold, cold_cpu = time.perf_counter() - t, time.process_time() - cpu
        ctl = column_timeline(s)
        graph = ctl.graph(dt.datetime.now(dt.UTC).replace(tzinfo=None))
        grown = _rss_mb() - rss
        times, reach = [], []
        for root in roots[2:]:
            t = time.perf_counter()
            body = column_queries.impact_json(s, root)
            times.append(time.perf_counter() - t)
            reach.append(json.loads(body)["counts"]["fields"])
        warm = statistics.median(times) * 1000
        t = time.perf_counter()
        widest = json.loads(column_queries.impact_json(s, roots[0]))["counts"]
        widest_ms = (time.perf_counter() - t) * 1000
        again = []
        for _ in range(5):
            t = time.perf_counter()
            column_queries.impact_json(s, roots[2])
            again.append(time.perf_counter() - t)
    figures.append(
        Figure(f"fixture: column edges (bulk-inserted), fields {len(ctl.field_ids)}", count, "edges")
    )
    figures.append(
        Figure("field impact, first query (cold: loads and builds the caches)", cold, "s", "< 2 s", cold < 2)
    )
    figures.append(
        Figure("   the same, CPU time of this process (what the load does not add)", cold_cpu, "s")
    )
    figures.append(
        Figure(
            f"field impact, unbounded downstream, cached graph, median of {len(times)} fields "
            f"(reach {min(reach)}–{max(reach)} fields, median {int(statistics.median(reach))})",
            warm,
            "ms",
            "< 100 ms",
            warm < 100,
        )
    )
    figures.append(
        Figure(
            f"   the widest: a root's field ({widest['fields']} fields, {widest['datasets']} datasets, "
            f"{widest['systems']} systems)",
            widest_ms,
            "ms",
        )
    )
    figures.append(
        Figure("field impact, same field again (answer memoised)", statistics.median(again) * 1000, "ms")
    )
    figures.append(Figure("memory of the column timeline + graph (RSS growth)", grown, "MB"))
    # baseline: a bare networkx BFS on the same column graph, in process
    g = nx.DiGraph()
    ids = graph.ids
    g.add_edges_from((ids[k >> 32], ids[k & 0xFFFFFFFF]) for k in graph.edges)
    g.add_edges_from((ids[h], ids[m]) for h, members in graph.hub_fields.items() for m in members)
    base = []
    for root in roots[1:]:
        t = time.perf_counter()
        nx.single_source_shortest_path_length(g, root)
        base.append(time.perf_counter() - t)
    figures.append(
        Figure("   baseline: bare networkx BFS from the same fields", statistics.median(base) * 1000, "ms")
    )
    del g


def _export(db: Database, figures: list[Figure]) -> None:
    with db.session() as s:
        t, cpu = time.perf_counter(), time.process_time()
        made = export(s, "graphml", level="column")
        took, took_cpu = time.perf_counter() - t, time.process_time() - cpu
    figures.append(
        Figure(
            f"GraphML export at column level ({made.nodes} nodes, {made.edges} edges, {len(made.body) // 2**20} MB)",
            took,
            "s",
            "< 10 s",
            took < 10,
        )
    )
    figures.append(Figure("   the same, CPU time of this process", took_cpu, "s"))
    if os.environ.get("YIMA_BENCH_NX_GRAPHML"):
        g = nx.read_graphml(io.BytesIO(made.body))
        t = time.perf_counter()
        nx.write_graphml(g, io.BytesIO())
        figures.append(
            Figure("   baseline: networkx.write_graphml of the same graph", time.perf_counter() - t, "s")
        )


def _intake_events(with_columns: bool, seed: int) -> list[dict]:
    """One COMPLETE RunEvent per job: 3 inputs, one output of 50 fields (each fed by an input field)."""
    rng = random.Random(seed)
    events = []
    base = dt.datetime(2025, 1, 1)
    for k in range(INTAKE_EVENTS):
        inputs = [f"src_{rng.randrange(5_000):05d}" for _ in range(3)]
        output = {"namespace": "bench", "name": f"out_{k:05d}"}
        if with_columns:
            fields = {
                f"c{j:02d}": {
                    "inputFields": [
                        {
                            "namespace": "bench",
                            "name": inputs[j % 3],
                            "field": f"c{j:02d}",
                            "transformations": [{"type": "DIRECT", "subtype": "IDENTITY", "masking": False}],
                        }
                    ]
                }
                for j in range(INTAKE_FIELDS)
            }
            output["facets"] = {
                "columnLineage": {
                    "_producer": "https://example.org/yima-bench",
                    "_schemaURL": "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json",
                    "fields": fields,
                    "dataset": [
                        {
                            "namespace": "bench",
                            "name": inputs[0],
                            "field": "ok",
                            "transformations": [{"type": "INDIRECT", "subtype": "FILTER"}],
                        }
                    ],
                }
            }
        events.append(
            {
                "eventType": "COMPLETE",
                "eventTime": (base + dt.timedelta(minutes=k)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "producer": "https://example.org/yima-bench",
                "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
                "run": {"runId": str(uuid.UUID(int=rng.getrandbits(128), version=4))},
                "job": {"namespace": "bench", "name": f"job_{k:05d}"},
                "inputs": [{"namespace": "bench", "name": n} for n in inputs],
                "outputs": [output],
            }
        )
    return events


def _intake(figures: list[Figure]) -> None:
    """Both kinds of event through ``lineage.intake.ingest``, one writer each, in alternating batches
    (so both see the same machine), each on a fresh SQLite file."""
    with tempfile.TemporaryDirectory() as tmp:
        dbs = {}
        for kind in ("plain", "columns"):
            url = f"sqlite:///{Path(tmp) / f'{kind}.db'}"
            migrations.upgrade(url)
            dbs[kind] = Database(url)
        events = {"plain": _intake_events(False, 3), "columns": _intake_events(True, 3)}
        spent = {"plain": 0.0, "columns": 0.0}
        for start in range(0, INTAKE_EVENTS, 100):
            for kind in ("plain", "columns"):
                t = time.perf_counter()
                for event in events[kind][start : start + 100]:
                    with dbs[kind].writer() as s:
                        intake.ingest(s, event, actor="bench")
                spent[kind] += time.perf_counter() - t
        for database in dbs.values():
            database.dispose()
    plain, cols = INTAKE_EVENTS / spent["plain"], INTAKE_EVENTS / spent["columns"]
    figures.append(
        Figure(f"intake with columnLineage ({INTAKE_FIELDS} output fields each), in process", cols, "ev/s")
    )
    figures.append(Figure("   baseline: the same events without columnLineage, same run", plain, "ev/s"))
    figures.append(Figure("   ratio with / without", cols / plain, "x", ">= 0.5", cols / plain >= 0.5))


def run(workdir: Path) -> list[Figure]:
    url = os.environ.get("YIMA_BENCH_DATABASE_URL") or f"sqlite:///{workdir / 'columns.db'}"
    migrations.upgrade(url)
    db = Database(url)
    figures: list[Figure] = [
        Figure("calibration: 10 million additions (quiet machine ≈ 0.4 s)", _calibration(), "s")
    ]
    try:
        t = time.perf_counter()
        count, roots = _fixture(db)
        figures.append(
            Figure(
                f"fixture of {DATASETS} datasets x {FIELDS} fields, bulk insert", time.perf_counter() - t, "s"
            )
        )
        _queries(db, figures, count, roots)
        _export(db, figures)
    finally:
        db.dispose()
    _intake(figures)
    return figures
