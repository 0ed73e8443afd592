"""Faults survived, with real processes: ``kill -9`` during an import and under intake load, a PostgreSQL
server restarted under a serving Yima, a SQLite file locked by another process. The audit chain verifies
after each. ``-m faults`` selects them (they run in ``make test`` too).
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import create_engine, text

import migrations
from tests.web.processes import (
    YIMA,
    PrivatePostgres,
    Served,
    audit_verifies,
    is_error_shape,
    postgres_bin,
    request,
    run_event,
    run_yima,
    token,
    yima_env,
)

pytestmark = pytest.mark.faults

#: rows of the generated code table: its write phase takes a second or more, room to kill it mid-way
IMPORT_ROWS = 20_000


def write_code_table(path, rows: int) -> int:
    """A szgws-me code table of ``rows`` codes (every parent before its children), as a CSV."""
    lines, n = ["编码,名称"], 0
    for a in range(10, 100):
        for b in range(0, 100, 1):
            for c in range(0, 100):
                if n >= rows:
                    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
                    return n
                if b == 0 and c > 0 or b > 0 and b < 10 or c > 0 and c < 10:
                    continue  # only real codes: 40-AA.00.00, 40-AA.BB.00, 40-AA.BB.CC with BB, CC ≥ 10
                lines.append(f"40-{a:02d}.{b:02d}.{c:02d},材料{a}-{b}-{c}")
                n += 1
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return n


def writing(url: str, conn):
    """A function telling whether an uncommitted write of another process is under way on ``url``."""
    if url.startswith("sqlite"):
        wal = url.split("///", 1)[1] + "-wal"
        start = os.path.getsize(wal) if os.path.exists(wal) else 0
        # the import's pages spill into the WAL long before its commit
        return lambda: os.path.exists(wal) and os.path.getsize(wal) > start + 512 * 1024
    probe = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
    )
    return lambda: conn.execute(probe).scalar() > 0 or conn.rollback()


def test_an_import_killed_while_writing_leaves_no_partial_release(database_url, tmp_path):
    env = yima_env(database_url, tmp_path / "instance")
    table = tmp_path / "codes.csv"
    rows = write_code_table(table, IMPORT_ROWS)
    engine = create_engine(database_url)
    with engine.connect() as conn:
        busy = writing(database_url, conn)
        cmd = [YIMA, "standards", "import", "szgws-me", str(table), "--release", "big-1"]
        proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 300
        while not busy() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)
        output = proc.communicate(timeout=30)[0].decode(errors="replace")
    engine.dispose()
    assert proc.returncode == -signal.SIGKILL, f"the import was not killed mid-way:\n{output}"

    engine = create_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM code_release WHERE release = 'big-1'")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM code")).scalar() == 0
    engine.dispose()
    audit_verifies(env)
    small = tmp_path / "small.csv"
    write_code_table(small, 500)  # and the same release imports afterwards: nothing was left half-done
    again = run_yima(env, "standards", "import", "szgws-me", small, "--release", "big-1")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "imported 500 rows (500 new" in again.stdout and rows == IMPORT_ROWS
    audit_verifies(env)


def test_intake_killed_under_load_loses_no_event_it_answered_201(database_url, tmp_path):
    env = yima_env(database_url, tmp_path / "instance")
    headers = token(database_url, "contributor")
    server = Served(env, tmp_path / "serve.log").start()
    answered: list[str] = []
    failures: list = []
    enough = threading.Event()

    def client(i: int) -> None:
        for n in range(10_000):
            event = run_event(job=f"job_{i}", n=n)
            try:
                status, _, body = request(server.url, "POST", "/api/v1/lineage", event, headers, timeout=30)
            except (OSError, http.client.HTTPException):
                return  # the server is gone: this request's outcome is unknown, and claims nothing
            if status == 201:
                answered.append(event["run"]["runId"])
                if len(answered) >= 40:
                    enough.set()
            else:
                failures.append((status, body))

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(8)]
    for t in threads:
        t.start()
    enough.wait(120)
    server.kill()
    for t in threads:
        t.join(60)
    assert not failures, (failures[:3], server.output()[-4000:])
    assert len(answered) >= 40, server.output()

    engine = create_engine(database_url)
    with engine.connect() as conn:
        stored = set(conn.execute(text("SELECT run_id FROM lineage_event")).scalars())
    engine.dispose()
    lost = set(answered) - stored
    assert not lost, f"{len(lost)} events answered 201 are gone"
    audit_verifies(env)
    with Served(env, tmp_path / "serve2.log") as again:  # and the server starts again on the same data
        assert request(again.url, "POST", "/api/v1/lineage", run_event(), headers)[0] == 201
    audit_verifies(env)


@pytest.fixture
def private_postgres():
    """A PostgreSQL server of this test's own (restarting the shared one would break others' runs)."""
    if postgres_bin() is None:
        if os.environ.get("YIMA_REQUIRE_POSTGRES"):
            pytest.fail("initdb and pg_ctl are not installed (PostgreSQL server binaries)")
        pytest.skip("initdb and pg_ctl are not installed: no PostgreSQL server of the test's own")
    pg = PrivatePostgres().init()
    pg.start()
    yield pg
    pg.remove()


def test_a_postgresql_restart_gives_503s_then_recovers_without_restarting_yima(private_postgres, tmp_path):
    pg = private_postgres
    url = pg.create_database("yima")
    migrations.upgrade(url)
    env = yima_env(url, tmp_path / "instance")
    steward = token(url, "steward")
    with Served(env, tmp_path / "serve.log") as server:
        org = {"code": "BEFORE", "name": "重启前的单位", "kind": "other"}
        assert request(server.url, "POST", "/api/v1/organizations", org, steward)[0] == 201
        pg.stop("fast")
        down = [
            request(
                server.url, "POST", "/api/v1/organizations", {"code": f"DOWN-{i}", "name": "停机"}, steward
            )
            if i % 2
            else request(server.url, "GET", "/api/v1/organizations")
            for i in range(6)
        ]
        for status, headers, body in down:
            assert status == 503 and is_error_shape(503, body), (status, body)
            assert "unavailable" in body["message"] and headers.get("Retry-After") == "1"
        pg.start()
        deadline = time.monotonic() + 60
        while request(server.url, "GET", "/api/v1/organizations")[0] != 200:
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.2)
        after = {"code": "AFTER", "name": "重启后的单位", "kind": "other"}
        assert request(server.url, "POST", "/api/v1/organizations", after, steward)[0] == 201
        codes = {o["code"] for o in request(server.url, "GET", "/api/v1/organizations")[2]["items"]}
        assert {"BEFORE", "AFTER"} <= codes and not any(c.startswith("DOWN-") for c in codes)
        assert request(server.url, "GET", "/api/v1/audit/verify")[2]["ok"] is True
    audit_verifies(env)


LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(600)
"""


def test_a_sqlite_file_locked_by_another_process_is_a_503_after_the_busy_timeout(tmp_path, sqlite_template):
    import shutil

    path = tmp_path / "yima.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    env = yima_env(url, tmp_path / "instance", YIMA_SQLITE_BUSY_TIMEOUT=1000)
    steward, contributor = token(url, "steward"), token(url, "contributor")
    with Served(env, tmp_path / "serve.log") as server:
        assert (
            request(server.url, "POST", "/api/v1/organizations", {"code": "A", "name": "甲"}, steward)[0]
            == 201
        )
        locker = subprocess.Popen(
            [sys.executable, "-c", LOCKER, str(path)], stdout=subprocess.PIPE, text=True
        )
        try:
            assert locker.stdout.readline().strip() == "locked"
            writes = [
                request(
                    server.url,
                    "POST",
                    "/api/v1/organizations",
                    {"code": "B", "name": "乙"},
                    steward,
                    timeout=20,
                ),
                request(server.url, "POST", "/api/v1/lineage", run_event(), contributor, timeout=20),
            ]
            for status, headers, body in writes:  # an answer, not a hang (the client waits 20 s at most)
                assert status == 503 and is_error_shape(503, body), (status, body)
                assert "busy" in body["message"] and headers.get("Retry-After") == "1"
            status, _, body = request(server.url, "GET", "/api/v1/organizations")
            assert status == 200 and [o["code"] for o in body["items"]] == ["A"]  # reads go on (WAL)
        finally:
            locker.kill()
            locker.wait(10)
        assert (
            request(server.url, "POST", "/api/v1/organizations", {"code": "B", "name": "乙"}, steward)[0]
            == 201
        )
    audit_verifies(env)
