"""``GET /api/v1/health`` and one OpenLineage event on one keep-alive connection, beside a one-code validation (health the cheapest call, an event within 2×)."""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import migrations
from benchmarks.bench_lineage import generate
from benchmarks.common import ROOT, Figure, load_figure
from registry.db import Database
from registry.tokens import create_token
from standards import demo as standards_demo

REQUESTS = 2000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(url: str, workdir: Path, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "YIMA_DATABASE_URL": url,
        "YIMA_SECRET_KEY": "bench",
        "YIMA_INSTANCE_PATH": str(workdir),
        "PYTHONPATH": str(ROOT),  # the server runs the same code as this benchmark
    }
    code = "import sys; from web.cli import main; sys.exit(main())"
    return subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--port", str(port), "--threads", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=workdir,
    )


def _per_request(conn: http.client.HTTPConnection, path: str, n: int = REQUESTS) -> float:
    """Median milliseconds per request over ``n`` sequential requests on one keep-alive connection."""
    times = []
    for _ in range(n):
        t = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        times.append(time.perf_counter() - t)
        assert response.status == 200, (path, response.status)
    return statistics.median(times) * 1000


def _per_post(conn: http.client.HTTPConnection, path: str, bodies: list[bytes], headers: dict) -> float:
    """Median milliseconds per POST of each body, sequentially, on one keep-alive connection (201 each)."""
    times = []
    for body in bodies:
        t = time.perf_counter()
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        times.append(time.perf_counter() - t)
        assert response.status == 201, (path, response.status)
    return statistics.median(times) * 1000


def _connect(port: int) -> http.client.HTTPConnection:
    for _ in range(300):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("GET", "/api/v1/health")
            conn.getresponse().read()
            return conn
        except OSError:
            conn.close()
            time.sleep(0.1)
    raise RuntimeError("yima serve did not start")


def run(workdir: Path) -> list[Figure]:
    url = f"sqlite:///{workdir / 'health.db'}"
    database = Database(url)
    migrations.upgrade(url)
    standards_demo.load(database, "bench", with_uniclass=False)
    with database.writer() as s:
        _, contributor = create_token(s, "bench-contributor", "contributor", actor="bench")
    database.dispose()
    headers = {"Authorization": f"Bearer {contributor}", "Content-Type": "application/json"}
    events = [json.dumps(e).encode() for e in generate(seed=9)[:1200]]
    port = _free_port()
    server = _serve(url, workdir, port)
    try:
        conn = _connect(port)
        one_code = "/api/v1/validate/codes?scheme=szgws-me&code=30-11.40.30"
        _per_request(conn, "/api/v1/health", 200)  # warm both paths up
        _per_request(conn, one_code, 200)
        health = _per_request(conn, "/api/v1/health")
        validate = _per_request(conn, one_code)
        _per_post(conn, "/api/v1/lineage", events[:200], headers)  # warm up
        event = _per_post(conn, "/api/v1/lineage", events[200:], headers)
        conn.close()
    finally:
        server.terminate()
        server.wait(10)
    return [
        load_figure(),
        Figure("GET /api/v1/health, median per request (one keep-alive connection)", health, "ms"),
        Figure("GET /api/v1/validate/codes, one code (same connection)", validate, "ms"),
        Figure("health / one-code validation", health / validate, "×", "≤ 1", health <= validate),
        Figure("POST /api/v1/lineage, one RunEvent (12 datasets), same connection", event, "ms"),
        Figure("event / one-code validation", event / validate, "×", "≤ 2", event <= 2 * validate),
        load_figure(),
    ]
