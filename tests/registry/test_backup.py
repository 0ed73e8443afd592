"""``yima backup OUT`` while ``yima serve`` takes writes: the copy restores into an empty database (SQLite: the
file; PostgreSQL: pg_restore) where ``yima db upgrade`` and ``yima audit verify`` pass, holding exactly the
chain up to the head the backup reported."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import migrations
from tests.web.processes import Served, audit_verifies, request, run_event, run_yima, token, yima_env

pytestmark = pytest.mark.faults


def chain(url: str) -> list[tuple[int, str]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT seq, hash FROM audit_entry ORDER BY seq")).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def libpq_env(url: str) -> dict:
    u = make_url(url)
    return {**os.environ, "PGHOST": u.host or "", "PGPORT": str(u.port or 5432), "PGUSER": u.username or ""}


@pytest.fixture
def restored_url(database_url, tmp_path):
    """An empty database of the same kind to restore into (dropped afterwards on PostgreSQL)."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    name = f"yima_restore_{os.getpid()}"
    admin = create_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def restore(backup, url: str) -> None:
    """The README's restore: copy the SQLite file into place, or pg_restore into the empty database."""
    if url.startswith("sqlite"):
        shutil.copy(backup, make_url(url).database)
        return
    done = subprocess.run(
        ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={make_url(url).database}", str(backup)],
        env=libpq_env(url),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_backup_while_writing_restores_into_an_empty_database(database_url, restored_url, tmp_path):
    env = yima_env(database_url, tmp_path / "instance")
    contributor = token(database_url, "contributor")
    written, stop = [], threading.Event()

    with Served(env, tmp_path / "serve.log") as server:

        def writer():
            while not stop.is_set():
                status = request(
                    server.url, "POST", "/api/v1/lineage", run_event(n=len(written)), contributor
                )[0]
                assert status == 201
                written.append(status)

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        while len(written) < 10:
            thread.join(0.1)
        out = tmp_path / ("backup.db" if database_url.startswith("sqlite") else "backup.dump")
        done = run_yima(env, "backup", out)
        during = len(written)
        while len(written) < during + 5:  # the writer went on during and after the backup
            thread.join(0.1)
        stop.set()
        thread.join(30)
    assert done.returncode == 0, done.stdout + done.stderr
    seq, head = re.search(r"audit seq (\d+), head ([0-9a-f]{64})", done.stdout).groups()

    restore(out, restored_url)
    restored_env = yima_env(restored_url, tmp_path / "instance")
    migrations.upgrade(restored_url)  # what `yima db upgrade` runs (a no-op here: the copy is at head)
    audit_verifies(restored_env)
    copy, live = chain(restored_url), chain(database_url)
    assert copy[-1] == (int(seq), head)  # the head the backup reported is the copy's
    assert copy == live[: len(copy)] and len(live) > len(copy)  # a prefix of the live chain


def test_backup_never_overwrites_a_file(sqlite_template, tmp_path):
    env = yima_env(f"sqlite:///{sqlite_template}", tmp_path / "instance")
    taken = tmp_path / "taken.db"
    taken.write_text("keep me")
    done = run_yima(env, "backup", taken)
    assert done.returncode == 1 and "already exists" in done.stderr and taken.read_text() == "keep me"


def test_backup_of_postgresql_says_when_pg_dump_is_missing(pg_database, tmp_path):
    env = yima_env(pg_database, tmp_path / "instance", PATH=tmp_path / "empty-bin")  # yima runs by full path
    done = run_yima(env, "backup", tmp_path / "x.dump")
    assert done.returncode == 1 and "pg_dump is not on PATH" in done.stderr
    assert not (tmp_path / "x.dump").exists()
