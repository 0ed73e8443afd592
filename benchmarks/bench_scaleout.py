"""Scale-out on one PostgreSQL: validation and intake throughput with 2 `yima serve` processes against 1, and how soon a change through one is seen by a validation in the other."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import migrations
from benchmarks.bench_lineage import generate
from benchmarks.common import ROOT, Figure, load_figure
from tests.web.processes import Served, request, token, yima_env

CLIENT_PROCESSES = 4  # client load in processes of its own (one Python process would be the ceiling)
#: with wrk installed (Debian's ``wrk``), the load comes from it instead: keep-alive connections in all,
#: split between the servers; a C client leaves the two cores to the servers and PostgreSQL
WRK = shutil.which("wrk")
WRK_CONNECTIONS = int(os.environ.get("YIMA_BENCH_SCALEOUT_CONNECTIONS", 8))
#: intake's load: the group commit answers a batch of concurrent events per commit, so 8 connections
#: split 4 + 4 left each of two processes 4 events at a time, and the load, not the servers, set the rate
#: (2 processes / 1: 1.0x with 8, 1.34x with 32 in the same hour); 32 saturate one process and two
INTAKE_CONNECTIONS = int(os.environ.get("YIMA_BENCH_SCALEOUT_INTAKE_CONNECTIONS", 32))
#: seconds of validations before each measurement, not counted
WARM_UP = 3
WRK_SCRIPT = ROOT / "benchmarks" / "wrk_load.lua"
SECONDS = float(os.environ.get("YIMA_BENCH_SCALEOUT_SECONDS", 15))
CODES = 40
VALIDATE = "/api/v1/validate/codes?scheme=szgws-me&code={}"


def code(i: int) -> str:
    return f"40-{10 + i % CODES}.00.00"


def _client(bases: list[str], k: int, headers: dict, seconds: float, bodies: list[bytes] | None) -> int:
    """Requests answered in ``seconds`` by one keep-alive client on server ``k % len(bases)``."""
    host, port = bases[k % len(bases)].split("//", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    done, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        if bodies is None:
            conn.request("GET", VALIDATE.format(code(done)), headers=headers)
        else:
            if done >= len(bodies):
                break
            conn.request("POST", "/api/v1/lineage", body=bodies[done], headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status not in (200, 201):
            raise RuntimeError(f"answered {response.status}")
        done += 1
    conn.close()
    return done


def _rate(bases: list[str], headers: dict, bodies_of=None) -> float:
    with ProcessPoolExecutor(CLIENT_PROCESSES) as pool:
        t = time.perf_counter()
        futures = [
            pool.submit(_client, bases, k, headers, SECONDS, bodies_of(k) if bodies_of else None)
            for k in range(CLIENT_PROCESSES)
        ]
        total = sum(f.result() for f in futures)
        return total / (time.perf_counter() - t)


def _wrk_rate(
    bases: list[str], headers: dict, workdir: Path, bodies_of=None, seconds=SECONDS, connections=None
) -> float:
    """Requests per second answered by ``bases`` under wrk's load: one wrk per server, run at once."""
    secret = headers["Authorization"].split(" ", 1)[1]
    each = connections or max(1, WRK_CONNECTIONS // len(bases))
    procs = []
    for k, base in enumerate(bases):
        args = ["validate", secret]
        if bodies_of is not None:
            path = workdir / f"wrk-bodies-{k}.jsonl"
            path.write_bytes(b"\n".join(bodies_of(k, len(bases))) + b"\n")
            args = ["intake", secret, str(path)]
        cmd = [WRK, "-t1", f"-c{each}", f"-d{seconds:g}s", "--timeout", "60s", "-s", str(WRK_SCRIPT), base]
        procs.append(subprocess.Popen([*cmd, "--", *args], stdout=subprocess.PIPE, text=True))
    total, own = 0.0, []
    for proc in procs:
        out, _ = proc.communicate(timeout=seconds + 120)
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        errors = re.search(r"Socket errors: (.*)", out)
        if proc.returncode or bad or errors:
            raise RuntimeError(f"wrk: {out.strip()}")
        total += float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        found = re.search(r"Intake answered: (\d+) from ([\d.]+) to ([\d.]+)", out)
        if found:
            own.append((int(found.group(1)), float(found.group(2)), float(found.group(3))))
    if bodies_of is not None and len(own) == len(procs):
        # wrk's Requests/sec divides by the whole -d even when the lines ran out before it ended: the
        # events answered by all, from the first request of any to the last answer of any
        return sum(n for n, _, _ in own) / (max(t for _, _, t in own) - min(t for _, t, _ in own))
    return total


def _seed(base: str, admin: dict) -> None:
    csv = "编码,名称\n" + "".join(f"{code(i)},材料{i}\n" for i in range(CODES))
    path = "/api/v1/schemes/szgws-me/releases/s1/import?filename=s1.csv"
    assert request(base, "POST", path, csv, {**admin, "Content-Type": "text/csv"})[0] == 200
    assert request(base, "POST", "/api/v1/schemes/szgws-me/releases/s1/publish", {}, admin)[0] == 200


def _visibility(one: str, other: str, steward: dict, reader: dict) -> list[float]:
    """Seconds from a deprecation answered by ``one`` to ``other``'s validation saying so, per code."""
    seen = []
    for i in range(10):
        path = f"/api/v1/schemes/szgws-me/codes/{code(i)}/deprecate"
        assert request(one, "POST", path, {"successor": code(CODES - 1)}, steward)[0] == 200
        t = time.perf_counter()
        while "deprecated" not in str(request(other, "GET", VALIDATE.format(code(i)), headers=reader)[2]):
            if time.perf_counter() - t > 10:
                raise RuntimeError("a change was not seen within 10 s")
        seen.append(time.perf_counter() - t)
    return seen


def _events_for(k: int, offset: int, clients: int = CLIENT_PROCESSES) -> list[bytes]:
    events = generate(seed=13 + offset)
    return [json.dumps(e).encode() for e in events[k::clients]]


def run(workdir: Path) -> list[Figure]:
    pg = os.environ.get("YIMA_BENCH_POSTGRES_URL") or os.environ.get("YIMA_TEST_POSTGRES_URL")
    if not pg:
        return [Figure("scale-out needs PostgreSQL: set YIMA_TEST_POSTGRES_URL", 0, "")]
    base = make_url(pg).set(drivername="postgresql+psycopg")
    name = f"yima_bench_scaleout_{os.getpid()}"
    admin_engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    figures = [load_figure()]
    by_load: dict[int, float] = {}
    try:
        migrations.upgrade(url)
        admin, steward = token(url, "admin"), token(url, "steward")
        contributor = {**token(url, "contributor"), "Content-Type": "application/json"}
        env = yima_env(url, workdir / "instance")
        servers = [Served(env, workdir / f"serve-{k}.log") for k in (1, 2)]
        servers[0].start()
        try:
            _seed(servers[0].url, admin)
            one = [servers[0].url]
            if WRK:
                _wrk_rate(one, contributor, workdir, seconds=WARM_UP)  # caches, pools, prepared statements
                # one process's best, not its rate at the two processes' load: 8 connections on one
                # server's 8 threads contend for its GIL and answer fewer than 2 do
                by_load = {
                    c: _wrk_rate(one, contributor, workdir, connections=c) for c in (2, WRK_CONNECTIONS)
                }
                v1 = max(by_load.values())
                i1 = _wrk_rate(
                    one,
                    contributor,
                    workdir,
                    lambda k, n: _events_for(k, 0, n),
                    connections=INTAKE_CONNECTIONS,
                )
            else:
                v1 = _rate(one, contributor)
                i1 = _rate(one, contributor, lambda k: _events_for(k, 0))
            servers[1].start()
            both = [s.url for s in servers]
            if WRK:
                _wrk_rate(both, contributor, workdir, seconds=WARM_UP)
                v2 = _wrk_rate(both, contributor, workdir)
                i2 = _wrk_rate(
                    both,
                    contributor,
                    workdir,
                    lambda k, n: _events_for(k, 1, n),
                    connections=INTAKE_CONNECTIONS // 2,
                )
            else:
                v2 = _rate(both, contributor)
                i2 = _rate(both, contributor, lambda k: _events_for(k, 1))
            seen = _visibility(servers[0].url, servers[1].url, steward, contributor)
        finally:
            for s in servers:
                s.stop()
    finally:
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()
    load = (
        f"wrk, {WRK_CONNECTIONS} keep-alive connections"
        if WRK
        else f"{CLIENT_PROCESSES} Python keep-alive clients; install wrk for a load that leaves the cores to the servers"
    )
    return figures + [
        Figure(f"one-code validations, 1 process, its best ({load})", v1, "req/s"),
        *(
            Figure(f"   1 process, {c} connections", rate, "req/s")
            for c, rate in (by_load.items() if WRK else ())
        ),
        Figure("one-code validations, 2 processes on one PostgreSQL", v2, "req/s"),
        Figure("   validation: 2 processes / 1", v2 / v1, "x", ">= 1.5", v2 / v1 >= 1.5),
        Figure(
            f"lineage intake (RunEvents, 12 datasets), 1 process"
            f"{f' ({INTAKE_CONNECTIONS} wrk connections in all)' if WRK else ''}",
            i1,
            "ev/s",
        ),
        Figure("lineage intake, 2 processes on one PostgreSQL", i2, "ev/s"),
        Figure("   intake: 2 processes / 1", i2 / i1, "x", ">= 1.5", i2 / i1 >= 1.5),
        Figure(
            "a deprecation through one process seen by the other's validation, median",
            statistics.median(seen) * 1000,
            "ms",
            "< 1000 ms",
            max(seen) < 1,
        ),
        Figure("   the slowest of 10", max(seen) * 1000, "ms"),
        load_figure(),
    ]
