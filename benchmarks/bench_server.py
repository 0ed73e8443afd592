"""Server stack: the real openlineage-python AsyncHttpTransport (100 concurrent) against `yima serve` (SQLite, PostgreSQL) and against do-nothing servers (asyncio, gunicorn, granian) in the same run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.transport.async_http import AsyncHttpConfig, AsyncHttpTransport
from openlineage.client.transport.http import ApiKeyTokenProvider
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import migrations
from benchmarks.bench_lineage import generate
from benchmarks.common import ROOT, Figure, load_figure
from registry.db import Database
from registry.tokens import create_token
from web.server import THREADS

EVENTS = int(os.environ.get("YIMA_BENCH_SERVER_EVENTS", 5_000))
CONCURRENT = 100
#: the tuned figure's worker processes: one per core
WORKERS = os.cpu_count() or 2
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(port: int, proc: subprocess.Popen) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def _start(cmd: list[str], port: int, env: dict | None = None, cwd: Path = ROOT) -> subprocess.Popen:
    proc = subprocess.Popen(
        cmd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait(port, proc)
    time.sleep(0.5)
    return proc


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _events(n: int) -> list[RunEvent]:
    """n/2 runs, each a START and a COMPLETE (the transport holds a COMPLETE until its START is sent)."""
    out = []
    for k, raw in enumerate(generate(seed=11)[: n // 2]):
        run = Run(runId=str(uuid.UUID(int=k + 1, version=4)))
        job = Job(namespace=raw["job"]["namespace"], name=raw["job"]["name"])
        inputs = [InputDataset(namespace=d["namespace"], name=d["name"]) for d in raw["inputs"]]
        outputs = [OutputDataset(namespace=d["namespace"], name=d["name"]) for d in raw["outputs"]]
        for state, second in ((RunState.START, 0), (RunState.COMPLETE, 1)):
            when = raw["eventTime"].replace(":00Z", f":{second:02d}Z")
            out.append(
                RunEvent(
                    eventType=state,
                    eventTime=when,
                    run=run,
                    job=job,
                    producer="https://example.org/yima-bench",
                    inputs=inputs,
                    outputs=outputs,
                )
            )
    return out


def _send(port: int, token: str, events: list[RunEvent]) -> tuple[float, dict]:
    """Events per second through AsyncHttpTransport (100 concurrent) until every one is answered."""
    config = AsyncHttpConfig(
        url=f"http://127.0.0.1:{port}",
        endpoint="api/v1/lineage",
        auth=ApiKeyTokenProvider({"apiKey": token}),
        max_concurrent_requests=CONCURRENT,
        timeout=60.0,
    )
    transport = AsyncHttpTransport(config)
    t = time.perf_counter()
    for event in events:
        transport.emit(event)
    transport.wait_for_completion()
    took = time.perf_counter() - t
    stats = dict(transport.get_stats())
    transport.close()
    return len(events) / took, stats


def _ok(stats: dict, n: int) -> bool:
    return stats.get("success", 0) == n and not stats.get("failed")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _workers_cpu(master: int) -> float | None:
    """The CPU seconds used so far by gunicorn's worker processes (the master's children), or None off Linux."""
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        return sum(_cpu_seconds(int(pid)) for pid in children)
    except (OSError, ValueError):
        return None


def _yima(
    url: str, workdir: Path, events: list[RunEvent], *serve_args: str
) -> tuple[float, dict, float | None]:
    """The rate, the client's stats and the worker processes' CPU per event (ms; the steadier figure
    when the machine's speed varies: the rate depends on how much of the cores the client got)."""
    migrations.upgrade(url)
    database = Database(url)
    with database.writer() as s:
        _, token = create_token(s, "bench-contributor", "contributor", actor="bench")
    database.dispose()
    port = _free_port()
    env = {"YIMA_DATABASE_URL": url, "YIMA_SECRET_KEY": "bench", "YIMA_INSTANCE_PATH": str(workdir)}
    code = "import sys; from web.cli import main; sys.exit(main())"
    cmd = [sys.executable, "-c", code, "serve", "--port", str(port), *serve_args]
    proc = _start(cmd, port, env, cwd=workdir)
    try:
        before = _workers_cpu(proc.pid)
        rate, stats = _send(port, token, events)
        after = _workers_cpu(proc.pid)
        per_event = None if before is None or after is None else 1000 * (after - before) / len(events)
        return rate, stats, per_event
    finally:
        _stop(proc)


def _cpu_figure(per_event: float | None) -> list[Figure]:
    return [] if per_event is None else [Figure("   worker processes' CPU per event", per_event, "ms")]


def _null(kind: str, events: list[RunEvent]) -> tuple[float, dict]:
    port = _free_port()
    cmds = {
        "asyncio": [sys.executable, "-m", "benchmarks.null_servers", str(port)],
        # as `yima serve` runs gunicorn: one worker, gthread, its threads
        "gunicorn": [
            *(str(BIN / "gunicorn"), "-k", "gthread", "--threads", str(THREADS), "-w", "1"),
            *("-b", f"127.0.0.1:{port}", "benchmarks.null_servers:wsgi"),
        ],
        "granian": [
            *(
                str(BIN / "granian"),
                "--interface",
                "wsgi",
                "--workers",
                "1",
                "--blocking-threads",
                str(THREADS),
            ),
            *("--host", "127.0.0.1", "--port", str(port), "benchmarks.null_servers:wsgi"),
        ],
    }
    proc = _start(cmds[kind], port)
    try:
        return _send(port, "unused", events)
    finally:
        _stop(proc)


def _pg_url(name: str):
    pg = os.environ.get("YIMA_BENCH_POSTGRES_URL") or os.environ.get("YIMA_TEST_POSTGRES_URL")
    if not pg:
        return None, None
    base = make_url(pg).set(drivername="postgresql+psycopg")
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return base.set(database=name).render_as_string(hide_password=False), admin


def run(workdir: Path) -> list[Figure]:
    events = _events(EVENTS)
    n = len(events)
    figures = [load_figure()]
    floor, stats = _null("asyncio", events)
    figures.append(
        Figure(
            f"do-nothing asyncio responder ({n:,} events, {CONCURRENT} concurrent)",
            floor,
            "ev/s",
            meets=_ok(stats, n),
        )
    )
    for kind in ("gunicorn", "granian"):
        if not (BIN / kind).exists():  # granian is only for this comparison: `pip install granian`
            figures.append(
                Figure(f"do-nothing WSGI app under {kind}: not installed (pip install {kind})", 0, "")
            )
            continue
        rate, stats = _null(kind, events)
        figures.append(
            Figure(
                f"do-nothing WSGI app under {kind} (1 worker, {THREADS} threads)",
                rate,
                "ev/s",
                meets=_ok(stats, n),
            )
        )
        figures.append(Figure(f"   {kind} do-nothing / asyncio responder", rate / floor, "x"))
    rate, stats, cpu = _yima(f"sqlite:///{workdir / 'server.db'}", workdir, events)
    figures.append(Figure("yima serve (default), SQLite", rate, "ev/s", meets=_ok(stats, n)))
    figures += _cpu_figure(cpu)
    figures.append(
        Figure("   SQLite / asyncio responder", rate / floor, "x", ">= 0.75", rate / floor >= 0.75)
    )
    # tuned, not the default: a worker process per core (gunicorn's advice), the GIL no longer the ceiling
    rate, stats, cpu = _yima(
        f"sqlite:///{workdir / 'server-2.db'}", workdir, events, "--workers", str(WORKERS)
    )
    figures.append(
        Figure(f"yima serve --workers {WORKERS} (tuned), SQLite", rate, "ev/s", meets=_ok(stats, n))
    )
    figures += _cpu_figure(cpu)
    figures.append(Figure("   tuned SQLite / asyncio responder", rate / floor, "x"))
    name = f"yima_bench_server_{os.getpid()}"
    url, admin = _pg_url(name)
    if url:
        try:
            rate, stats, cpu = _yima(url, workdir, events)
            figures.append(Figure("yima serve (default), PostgreSQL", rate, "ev/s", meets=_ok(stats, n)))
            figures += _cpu_figure(cpu)
            figures.append(
                Figure(
                    "   PostgreSQL / asyncio responder", rate / floor, "x", ">= 0.75", rate / floor >= 0.75
                )
            )
            tuned, _ = _pg_url(name + "_tuned")  # a fresh database: the same events, none a duplicate
            rate, stats, cpu = _yima(tuned, workdir, events, "--workers", str(WORKERS))
            figures.append(
                Figure(
                    f"yima serve --workers {WORKERS} (tuned), PostgreSQL", rate, "ev/s", meets=_ok(stats, n)
                )
            )
            figures += _cpu_figure(cpu)
            figures.append(Figure("   tuned PostgreSQL / asyncio responder", rate / floor, "x"))
            # the former default's 8 threads: the group commit's batches are at most 8 events
            former, _ = _pg_url(name + "_t8")
            rate, stats, cpu = _yima(former, workdir, events, "--threads", "8")
            figures.append(
                Figure(
                    "yima serve --threads 8 (former default), PostgreSQL", rate, "ev/s", meets=_ok(stats, n)
                )
            )
            figures += _cpu_figure(cpu)
            figures.append(Figure("   8 threads PostgreSQL / asyncio responder", rate / floor, "x"))
        finally:
            with admin.connect() as conn:
                for db in (name, name + "_tuned", name + "_t8"):
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
            admin.dispose()
    figures.append(load_figure())
    return figures
