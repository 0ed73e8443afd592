"""Lineage: 20,000 datasets, 5,000 jobs, 60,000 edges over 200 systems loaded through the API; impact, GraphML export, intake rate."""

from __future__ import annotations

import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import networkx as nx
import requests

import migrations
from benchmarks.common import ROOT, Figure
from lineage import intake
from registry.db import Database
from registry.tokens import create_token

SYSTEMS, DATASETS, JOBS = 200, 20_000, 5_000
OUTPUTS_PER_JOB, INPUTS_PER_JOB, WINDOW = 4, 8, 3_000
CLIENTS = 8
#: ``yima serve --workers/--threads``: intake is CPU-bound Python holding a write lock, so processes
#: rather than many threads (a thread in the serial section waits for the GIL after every statement)
WORKERS = int(os.environ.get("YIMA_BENCH_WORKERS", 2 * (os.cpu_count() or 2)))
THREADS = int(os.environ.get("YIMA_BENCH_THREADS", 2))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dataset(rank: int) -> tuple[str, str]:
    """Dataset ``rank`` lives in system ``rank % SYSTEMS``."""
    return f"sys{rank % SYSTEMS:03d}", f"table_{rank:05d}"


def generate(seed: int = 5) -> list[dict]:
    """One COMPLETE RunEvent per job: job k writes datasets 4k..4k+3 and reads 8 of the 3,000 before
    them, so the graph is a deep DAG (a root's downstream is most of the graph) with exactly 60,000 edges."""
    rng = random.Random(seed)
    events = []
    base = 1_735_689_600  # 2025-01-01T00:00:00Z
    short = 0
    for k in range(JOBS):
        outputs = [dataset(r) for r in range(OUTPUTS_PER_JOB * k, OUTPUTS_PER_JOB * (k + 1))]
        pool = range(max(0, OUTPUTS_PER_JOB * k - WINDOW), OUTPUTS_PER_JOB * k)
        want = INPUTS_PER_JOB + (short if k == JOBS - 1 else 0)
        inputs = [dataset(r) for r in rng.sample(pool, min(want, len(pool)))]
        short += INPUTS_PER_JOB - len(inputs) if k < JOBS - 1 else 0
        ns = outputs[0][0]
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(base + k * 6_000))
        events.append(
            {
                "eventType": "COMPLETE",
                "eventTime": when,
                "producer": "https://example.org/yima-bench",
                "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
                "run": {"runId": str(uuid.UUID(int=rng.getrandbits(128), version=4))},
                "job": {"namespace": ns, "name": f"job_{k:05d}"},
                "inputs": [{"namespace": a, "name": b} for a, b in inputs],
                "outputs": [{"namespace": a, "name": b} for a, b in outputs],
            }
        )
    return events


def _start_server(url: str, workdir: Path, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "YIMA_DATABASE_URL": url,
        "YIMA_SECRET_KEY": "bench",
        "YIMA_INSTANCE_PATH": str(workdir),
        "PYTHONPATH": str(ROOT),  # the server runs the same code as this benchmark
    }
    code = "import sys; from web.cli import main; sys.exit(main())"
    serve = ["serve", "--port", str(port), "--threads", str(THREADS), "--workers", str(WORKERS)]
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *serve],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=workdir,
    )
    try:
        for _ in range(300):
            try:
                if requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=5).ok:
                    return proc
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("yima serve did not start")
    except BaseException:
        proc.kill()
        raise


class _Client:
    """One keep-alive HTTP connection per client thread (http.client: the client costs little CPU)."""

    def __init__(self, base: str):
        self.host, self.port = urllib.parse.urlsplit(base)[1].split(":")
        self.conn = None

    def request(self, method: str, path: str, body: bytes | None, headers: dict) -> tuple[int, bytes]:
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, int(self.port), timeout=120)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError


def _run_clients(base: str, method: str, path: str, bodies: list, headers: dict) -> float:
    """Send every body with CLIENTS concurrent keep-alive clients; seconds taken. Raises on any error."""
    local = threading.local()

    def send(body):
        client = getattr(local, "c", None) or _Client(base)
        local.c = client
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        status, text = client.request(method, path, data, {**headers, "Content-Type": "application/json"})
        if status not in (200, 201):
            raise RuntimeError(f"{path}: {status} {text[:200]!r}")

    t = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(send, bodies))
    return time.perf_counter() - t


def _tree_cpu(pid: int) -> float:
    """CPU seconds used so far by a process and its children (Linux /proc; 0 elsewhere)."""
    try:
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        total = 0.0
        for p in [pid, *map(int, children)]:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total
    except (OSError, ValueError):
        return 0.0


def _service_rate(n: int = 1_000) -> float:
    """Events per second through ``lineage.intake.ingest`` alone, one writer, on a fresh SQLite file."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'service.db'}"
        migrations.upgrade(url)
        database = Database(url)
        events = generate(seed=7)[:n]
        t = time.perf_counter()
        for event in events:
            with database.writer() as s:
                intake.ingest(s, event, actor="bench")
        took = time.perf_counter() - t
        database.dispose()
    return n / took


def run(workdir: Path) -> list[Figure]:
    url = os.environ.get("YIMA_BENCH_DATABASE_URL") or f"sqlite:///{workdir / 'lineage.db'}"
    migrations.upgrade(url)
    db = Database(url)
    with db.writer() as s:
        _, contributor = create_token(s, "bench-contributor", "contributor", actor="bench")
        _, steward = create_token(s, "bench-steward", "steward", actor="bench")
    db.dispose()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _start_server(url, workdir, port)
    figures: list[Figure] = []
    try:
        systems = [
            {
                "code": f"SYS{i:03d}",
                "name": f"业务系统{i:03d}",
                "namespaces": [f"sys{i:03d}"],
                "description": "基准",
            }
            for i in range(SYSTEMS)
        ]
        try:
            _run_clients(base, "POST", "/api/v1/systems", systems, {"Authorization": f"Bearer {steward}"})
        except RuntimeError as exc:
            print(f"   (systems not created through the catalog API: {exc}; system names fall back to codes)")
        events = generate()
        edges = sum(len(e["inputs"]) + len(e["outputs"]) for e in events)
        health_rate = 2_000 / _run_clients(base, "GET", "/api/v1/health", [None] * 2_000, {})
        cpu_before = _tree_cpu(server.pid)
        took = _run_clients(
            base, "POST", "/api/v1/lineage", events, {"Authorization": f"Bearer {contributor}"}
        )
        cpu = _tree_cpu(server.pid) - cpu_before
        rate = len(events) / took
        figures.append(
            Figure(
                f"intake over HTTP: {len(events)} RunEvents, {edges} edges, {CLIENTS} clients, "
                f"{WORKERS}x{THREADS} workers",
                rate,
                "ev/s",
                ">= 500",
                rate >= 500,
            )
        )
        if cpu > 0:
            figures.append(
                Figure("   server CPU per event (all worker processes)", cpu / len(events) * 1000, "ms")
            )
            figures.append(Figure("   server cores busy during intake", cpu / took, "cores"))
        figures.append(
            Figure("   intake through the service alone, in process (no HTTP)", _service_rate(), "ev/s")
        )
        figures.append(Figure("   baseline: GET /api/v1/health, same clients", health_rate, "req/s"))
        figures.append(Figure("   ratio health / intake", health_rate / rate, "x"))

        http = requests.Session()
        roots = [f"dataset:{a}:{b}" for a, b in (dataset(r) for r in range(0, 40, 4))]
        t = time.perf_counter()
        first = http.get(f"{base}/api/v1/lineage/impact", params={"node": roots[0]}, timeout=120)
        cold = time.perf_counter() - t
        first.raise_for_status()
        reached = first.json()["counts"]
        times = []
        for root in roots[1:]:  # a new root each time: the impact is computed on the cached graph
            t = time.perf_counter()
            http.get(f"{base}/api/v1/lineage/impact", params={"node": root}, timeout=60).raise_for_status()
            times.append(time.perf_counter() - t)
        impact_ms = statistics.median(times) * 1000
        figures.append(Figure("impact, first request (builds the graph cache)", cold, "s"))
        figures.append(
            Figure(
                f"impact, unbounded downstream, cached graph ({reached['datasets']} datasets, {reached['systems']} systems)",
                impact_ms,
                "ms",
                "< 100 ms",
                impact_ms < 100,
            )
        )
        repeat = []
        for _ in range(5):
            t = time.perf_counter()
            http.get(
                f"{base}/api/v1/lineage/impact", params={"node": roots[1]}, timeout=60
            ).raise_for_status()
            repeat.append(time.perf_counter() - t)
        figures.append(
            Figure("impact, same root again (answer memoised)", statistics.median(repeat) * 1000, "ms")
        )
        q = urllib.parse.urlencode({"node": roots[2], "direction": "downstream"})
        t = time.perf_counter()
        down = http.get(f"{base}/api/v1/lineage/graph?{q}", timeout=60)
        down.raise_for_status()
        figures.append(
            Figure(
                f"graph downstream of a root ({len(down.json()['nodes'])} nodes)",
                (time.perf_counter() - t) * 1000,
                "ms",
            )
        )

        t = time.perf_counter()
        export = http.get(f"{base}/api/v1/lineage/export", params={"format": "graphml"}, timeout=120)
        export_s = time.perf_counter() - t
        export.raise_for_status()
        n_nodes, n_edges = export.headers["X-Lineage-Nodes"], export.headers["X-Lineage-Edges"]
        figures.append(
            Figure(
                f"GraphML export, whole graph ({n_nodes} nodes, {n_edges} edges, {len(export.content) >> 20} MB)",
                export_s,
                "s",
                "< 3 s",
                export_s < 3,
            )
        )

        # baselines in-process: networkx alone on the same graph
        g = nx.read_graphml(__import__("io").BytesIO(export.content))
        t = time.perf_counter()
        nx.single_source_shortest_path_length(g, roots[3])
        bfs = time.perf_counter() - t
        figures.append(Figure("   baseline: bare networkx BFS from a root, in process", bfs * 1000, "ms"))
        figures.append(Figure("   ratio impact over HTTP / bare BFS", impact_ms / 1000 / bfs, "x"))
        t = time.perf_counter()
        nx.write_graphml(g, workdir / "baseline.graphml")
        nx_write = time.perf_counter() - t
        figures.append(Figure("   baseline: networkx.write_graphml of the same graph", nx_write, "s"))
        figures.append(Figure("   ratio export over HTTP / networkx write", export_s / nx_write, "x"))
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    return figures
