"""Real processes: ``yima serve`` delivers by default, a killed ``yima worker``'s queue is resumed by another,
and two workers on one PostgreSQL share the webhooks without ever sending one webhook's events in parallel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from catalog import organizations
from registry.db import Database
from tests.webhooks.receiver import Receiver
from webhooks import service
from webhooks.crypto import SecretBox
from webhooks.guard import Guard
from webhooks.models import Webhook

pytestmark = pytest.mark.slow
YIMA = Path(sys.executable).with_name("yima")


@pytest.fixture
def env(database_url, tmp_path):
    """The environment of every process of one test: one database, one webhook key, fast retries, short leases."""
    return {
        **os.environ,
        "YIMA_DATABASE_URL": database_url,
        "YIMA_INSTANCE_PATH": str(tmp_path / "instance"),
        "YIMA_SECRET_KEY": "test-secret",
        "YIMA_WEBHOOK_ALLOW": "127.0.0.1",
        "YIMA_WEBHOOK_KEY": str(tmp_path / "webhook_key"),
        "YIMA_WEBHOOK_RETRY": "0.2,0.2,0.2,0.2,0.2",
        "YIMA_WEBHOOK_TIMEOUT": "1",
        "YIMA_WEBHOOK_LEASE": "4",
        "YIMA_WEBHOOK_POLL": "0.1",
    }


@pytest.fixture
def database(database_url):
    found = Database(database_url)
    yield found
    found.dispose()


def _spawn(env, *args, log: Path) -> subprocess.Popen:
    out = log.open("w")
    proc = subprocess.Popen(
        [str(YIMA), *args], env=env, cwd=log.parent, stdout=out, stderr=subprocess.STDOUT, text=True
    )
    proc.log_path = log
    return proc


def _subscribe(database, env, url: str, events=("organization.*",)) -> dict:
    with database.writer() as s:
        hook, secret = service.create(
            s,
            {"url": url, "events": list(events)},
            actor="test",
            guard=Guard(["127.0.0.1"]),
            box=SecretBox(env["YIMA_WEBHOOK_KEY"]),
        )
        return {"id": hook.id, "secret": secret}


def _changes(database, prefix: str, n: int) -> list[str]:
    codes = [f"{prefix}{i:03d}" for i in range(n)]
    for code in codes:
        with database.writer() as s:
            organizations.create(s, {"code": code, "name": code, "kind": "contractor"}, actor="test")
    return codes


def _stop(proc: subprocess.Popen) -> int:
    """SIGTERM once the process says it runs (a signal during start-up is another test), then its exit code."""
    for _ in range(150):
        if proc.poll() is not None or any(
            m in proc.log_path.read_text() for m in ("delivering on", "Booting worker")
        ):
            break
        time.sleep(0.1)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    return proc.wait(30)


def _keys(received) -> list[str]:
    return [r.json["data"]["entity_key"] for r in received]


def test_yima_serve_delivers_by_default(env, database, receiver, tmp_path, free_port):
    port = free_port()
    made = _subscribe(database, env, receiver.url("/serve"))
    log = tmp_path / "serve.log"
    server = _spawn(env, "serve", "--port", str(port), "--threads", "2", "--workers", "2", log=log)
    try:
        _wait_healthy(port, server, log)
        codes = _changes(database, "S", 30)  # committed by another process: woken by NOTIFY or the poll
        got = receiver.wait_for(30, "/serve", timeout=30)
        assert list(dict.fromkeys(_keys(got))) == codes
        assert got[0].verify(made["secret"])["type"] == "organization.create"
        assert receiver.max_inflight["/serve"] == 1
    finally:
        assert _stop(server) == 0
    assert log.read_text().count("delivery loop started") == 2  # one per gunicorn worker, after the fork
    with database.session() as s:
        assert s.scalar(select(Webhook.lease_owner)) is None  # a clean stop hands the webhook back at once


def test_yima_serve_no_deliver_leaves_delivery_to_workers(env, database, receiver, tmp_path, free_port):
    port = free_port()
    _subscribe(database, env, receiver.url("/quiet"))
    server = _spawn(
        env, "serve", "--port", str(port), "--threads", "2", "--no-deliver", log=tmp_path / "serve.log"
    )
    try:
        _wait_healthy(port, server, tmp_path / "serve.log")
        _changes(database, "Q", 2)
        time.sleep(1.5)
        assert receiver.on("/quiet") == []
    finally:
        _stop(server)
    once = subprocess.run(
        [str(YIMA), "worker", "--once"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert once.returncode == 0 and "delivered 2 messages" in once.stdout
    assert _keys(receiver.on("/quiet")) == ["Q000", "Q001"]


def test_a_killed_workers_queue_is_resumed_by_another_in_order(env, database, tmp_path):
    receiver = Receiver(hold=0.03)
    try:
        _subscribe(database, env, receiver.url("/kill"))
        codes = _changes(database, "K", 80)
        first = _spawn(env, "worker", "--threads", "2", log=tmp_path / "first.log")
        receiver.wait_for(15, "/kill", timeout=60)
        first.send_signal(signal.SIGKILL)  # mid-stream: no chance to record or release anything
        first.wait(10)
        before = len(receiver.on("/kill"))
        assert before < 80
        second = _spawn(env, "worker", "--threads", "2", log=tmp_path / "second.log")
        try:
            deadline = time.monotonic() + 90
            while set(_keys(receiver.on("/kill"))) != set(codes) and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            assert _stop(second) == 0
        got = _keys(receiver.on("/kill"))
        assert set(got) == set(codes), (tmp_path / "second.log").read_text()[-2000:]
        first_seen = list(dict.fromkeys(got))
        assert first_seen == codes  # in order, across the takeover
        assert len(got) - len(codes) <= 200  # at most what was sent and not yet recorded is sent again
        assert receiver.max_inflight["/kill"] == 1
        assert "stopped" in (tmp_path / "second.log").read_text()
    finally:
        receiver.close()


def test_two_workers_share_the_queue_on_postgresql_never_sending_one_webhook_in_parallel(
    env, database, database_url, tmp_path
):
    if not database_url.startswith("postgresql"):
        pytest.skip("several processes on one database: PostgreSQL (SQLite is covered by the test above)")
    receiver = Receiver(hold=0.02)
    try:
        paths = ["/a", "/b", "/c"]
        for path in paths:
            _subscribe(database, env, receiver.url(path))
        codes = _changes(database, "T", 40)
        workers = [_spawn(env, "worker", "--threads", "1", log=tmp_path / f"w{n}.log") for n in range(2)]
        try:
            for path in paths:
                receiver.wait_for(40, path, timeout=120)
        finally:
            for proc in workers:
                assert _stop(proc) == 0
        for path in paths:
            assert list(dict.fromkeys(_keys(receiver.on(path)))) == codes
            assert receiver.max_inflight[path] == 1, path  # never two of one webhook's messages at once
        shares = [_delivered((tmp_path / f"w{n}.log").read_text()) for n in range(2)]
        assert all(n > 0 for n in shares) and sum(shares) >= 120, shares
    finally:
        receiver.close()


def _delivered(log: str) -> int:
    line = [x for x in log.splitlines() if "stopped (" in x][-1]
    return int(line.split("stopped (")[1].split()[0])


def _wait_healthy(port: int, proc: subprocess.Popen, log: Path) -> None:
    for _ in range(150):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2) as r:
                if json.loads(r.read())["status"] == "ok":
                    return
        except OSError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError("yima serve did not come up: " + log.read_text()[-1500:])
