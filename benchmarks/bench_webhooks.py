"""Webhooks: 10,000 changes delivered by a real `yima worker` to a local receiver (latency, rate); a receiver down for 30 s.

Three processes, as in production: this one commits the changes (the catalog's organization service,
one audited change per transaction), ``yima worker`` delivers them, and the receiver
(``benchmarks/webhook_receiver.py``) records when each arrives. Latency is from the producer's
commit to the receiver's arrival, on one clock. The baseline is the receiver's own ceiling: bare
POSTs of the same size over one kept-alive connection. ``YIMA_BENCH_WEBHOOK_CHANGES`` and
``YIMA_BENCH_WEBHOOK_OUTAGE`` shrink the run; PostgreSQL is measured too when
``YIMA_BENCH_POSTGRES_URL`` (or ``YIMA_TEST_POSTGRES_URL``) is set.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import urllib3

import migrations
from benchmarks.common import ROOT, Figure, scratch_database
from catalog import organizations
from registry.db import Database
from webhooks import events, service
from webhooks.crypto import SecretBox
from webhooks.guard import Guard

N = int(os.environ.get("YIMA_BENCH_WEBHOOK_CHANGES", 10_000))
OUTAGE = float(os.environ.get("YIMA_BENCH_WEBHOOK_OUTAGE", 30))
OUTAGE_CHANGES = max(10, N // 10)
#: a short schedule so that the outage ends in seconds, not at the default's 5-minute second retry
RETRY = "1,2,4,8" + ",8" * 20
YIMA = Path(sys.executable).with_name("yima")


def run(workdir: Path) -> list[Figure]:
    print(f"   load average before: {_load()}; {N} changes, outage {OUTAGE:g} s, retries {RETRY[:16]}… s")
    figures = _measure("sqlite", f"sqlite:///{workdir / 'bench.db'}", workdir)
    with scratch_database("webhooks") as url:
        if url:
            figures += _measure("postgresql", url, workdir)
    print(f"   load average after: {_load()}")
    return figures


def _measure(label: str, url: str, workdir: Path) -> list[Figure]:
    migrations.upgrade(url)
    database = Database(url)
    port, control = _free_port(), _free_port()
    receiver = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.webhook_receiver", str(port), str(control)], cwd=ROOT
    )
    env = {
        **os.environ,
        "YIMA_DATABASE_URL": url,
        "YIMA_WEBHOOK_KEY": str(workdir / "webhook_key"),
        "YIMA_WEBHOOK_ALLOW": "127.0.0.1",
        "YIMA_WEBHOOK_RETRY": RETRY,
        "YIMA_INSTANCE_PATH": str(workdir / "instance"),
    }
    try:
        _wait_port(control)
        _subscribe(database, env, f"http://127.0.0.1:{port}/hook")
        figures = _live(label, database, env, control, workdir)
        figures += _backlog(label, database, env, port, control, workdir)
        figures += _outage(label, database, env, control, workdir)
        return figures
    finally:
        receiver.terminate()
        receiver.wait(10)
        database.dispose()


def _live(label, database, env, control, workdir) -> list[Figure]:
    """Changes committed one after another while the worker delivers: commit-to-delivery latency."""
    worker = _worker(env, workdir / f"{label}-live.log")
    try:
        start = _head(database)
        started = time.perf_counter()
        committed = _produce(database, "L", N)
        rate = N / (time.perf_counter() - started)
        arrivals = _wait_all(control, range(start + 1, start + N + 1), timeout=600)
    finally:
        _stop(worker)
    latencies = [arrivals[start + 1 + i] - at for i, at in enumerate(committed)]
    median = statistics.median(latencies) * 1000
    return [
        Figure(f"{label}: changes committed/s (the producer)", rate, "/s"),
        Figure(
            f"{label}: median commit-to-delivery, {N} live changes", median, "ms", "< 1000 ms", median < 1000
        ),
        Figure(f"{label}: 95th percentile commit-to-delivery", _pct(latencies, 95) * 1000, "ms"),
    ]


def _backlog(label, database, env, port, control, workdir) -> list[Figure]:
    """A backlog of N changes delivered by a worker started after them: deliveries per second, beside
    the receiver's ceiling measured just before (bare POSTs over one kept-alive connection)."""
    start = _head(database)
    with ThreadPoolExecutor(4) as pool:  # only the backlog's size matters here, not its pace
        list(pool.map(lambda k: _produce(database, f"B{k}-", N // 4), range(4)))
    baseline = _bare_posts(port)
    _post(control, "/reset")
    worker = _worker(env, workdir / f"{label}-backlog.log")
    try:
        arrivals = _wait_all(control, range(start + 1, start + 4 * (N // 4) + 1), timeout=600)
    finally:
        _stop(worker)
    times = sorted(arrivals.values())
    rate = (len(times) - 1) / (times[-1] - times[0])
    return [
        Figure(f"{label}: bare POSTs/s to the receiver (its ceiling, baseline)", baseline, "/s"),
        Figure(f"{label}: deliveries/s, backlog of {N} (one webhook)", rate, "/s", "≥ 500/s", rate >= 500),
        Figure(f"{label}: deliveries/s ÷ bare POSTs/s", rate / baseline, "×"),
    ]


def _outage(label, database, env, control, workdir) -> list[Figure]:
    """The receiver goes down for OUTAGE seconds while changes keep coming, then comes back."""
    worker = _worker(env, workdir / f"{label}-outage.log")
    try:
        _post(control, "/reset")
        start = _head(database)
        _post(control, "/down")
        down_at = time.monotonic()
        pace = OUTAGE * 0.8 / OUTAGE_CHANGES
        for i in range(OUTAGE_CHANGES):
            _produce(database, f"O{i:05d}-", 1)
            time.sleep(pace)
        time.sleep(max(0.0, OUTAGE - (time.monotonic() - down_at)))
        _post(control, "/up")
        back = time.time()
        _wait_all(control, range(start + 1, start + OUTAGE_CHANGES + 1), timeout=300)
        stats = _stats(control)
    finally:
        _stop(worker)
    seqs = [s for s, _ in stats["arrivals"]]
    first_seen = list(dict.fromkeys(seqs))
    wanted = list(range(start + 1, start + OUTAGE_CHANGES + 1))
    recovered = max(t for _, t in stats["arrivals"]) - back
    print(
        f"   {label} outage checks: every event arrived {set(seqs) == set(wanted)}, in order {first_seen == wanted}, "
        f"at most one in flight {stats['max_inflight'] == 1}, sent again {len(seqs) - len(set(seqs))}"
    )
    return [
        Figure(
            f"{label}: events missing after a {OUTAGE:g} s outage",
            len(set(wanted) - set(seqs)),
            "",
            "0",
            set(wanted) <= set(seqs),
        ),
        Figure(
            f"{label}: events out of order after the outage",
            sum(a > b for a, b in zip(first_seen, first_seen[1:], strict=False)),
            "",
            "0",
            first_seen == wanted,
        ),
        Figure(
            f"{label}: most sends in flight to the webhook",
            stats["max_inflight"],
            "",
            "1",
            stats["max_inflight"] == 1,
        ),
        Figure(f"{label}: seconds from receiver back to all delivered", recovered, "s"),
    ]


# --- helpers --------------------------------------------------------------------------------


def _produce(database: Database, prefix: str, n: int) -> list[float]:
    """``n`` audited changes, one transaction each; the time each commit returned."""
    done = []
    for i in range(n):
        with database.writer() as s:
            organizations.create(
                s, {"code": f"{prefix}{i:05d}", "name": f"单位{i}", "kind": "contractor"}, actor="bench"
            )
        done.append(time.time())
    return done


def _subscribe(database: Database, env: dict, url: str) -> None:
    with database.writer() as s:
        service.create(
            s,
            {"url": url, "events": ["organization.*"]},
            actor="bench",
            guard=Guard(["127.0.0.1"]),
            box=SecretBox(env["YIMA_WEBHOOK_KEY"]),
        )


def _head(database: Database) -> int:
    with database.session() as s:
        return events.head_seq(s)


def _worker(env: dict, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen([str(YIMA), "worker"], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    for _ in range(300):
        if "delivering on" in log.read_text() or proc.poll() is not None:
            break
        time.sleep(0.05)
    return proc


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    proc.wait(60)


def _wait_all(control: int, seqs, timeout: float) -> dict[int, float]:
    """Wait until every seq has arrived; the first arrival time of each."""
    wanted = set(seqs)
    deadline = time.monotonic() + timeout
    while True:
        first: dict[int, float] = {}
        for seq, at in _stats(control)["arrivals"]:
            first.setdefault(seq, at)
        if wanted <= set(first) or time.monotonic() > deadline:
            missing = wanted - set(first)
            if missing:
                raise RuntimeError(f"{len(missing)} events never arrived (first: {min(missing)})")
            return {s: first[s] for s in wanted}
        time.sleep(0.5)


def _bare_posts(port: int, n: int = 3000) -> float:
    pool = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=1)
    body = json.dumps({"type": "organization.create", "timestamp": "x", "data": {"pad": "x" * 600}}).encode()
    started = time.perf_counter()
    for i in range(n):
        pool.urlopen(
            "POST",
            "/baseline",
            body=body,
            headers={"webhook-id": f"msg_0_{i}", "Content-Type": "application/json"},
        )
    return n / (time.perf_counter() - started)


def _stats(control: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{control}/stats", timeout=30) as r:
        return json.loads(r.read())


def _post(control: int, path: str) -> None:
    urllib.request.urlopen(
        urllib.request.Request(f"http://127.0.0.1:{control}{path}", data=b"", method="POST"), timeout=30
    ).read()


def _pct(values: list[float], p: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int) -> None:
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the receiver did not start")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())
