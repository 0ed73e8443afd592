"""A newcomer's first commands, run as they would run them (the installed ``yima`` in a subprocess): one clear line, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

YIMA = str(Path(sys.executable).with_name("yima"))
PG_URL = os.environ.get("YIMA_TEST_POSTGRES_URL")


def _yima(*args, cwd: Path, timeout: int = 120, **env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("YIMA_")}
    return subprocess.run(
        [YIMA, *map(str, args)],
        cwd=cwd,
        env={**base, "YIMA_INSTANCE_PATH": str(cwd / "instance"), **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def _one_clear_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize(
    "url, says",
    [
        ("notaurl", "is not a database URL"),
        ("mysql://root:hunter2@localhost/yima", "SQLite and PostgreSQL only"),
        ("postgresql+psycopg2://u:hunter2@localhost/yima", "'psycopg2' driver"),
    ],
)
def test_a_database_url_yima_cannot_use_is_one_line(tmp_path, url, says):
    done = _yima("standards", "list", cwd=tmp_path, YIMA_DATABASE_URL=url)
    line = _one_clear_line(done)
    assert done.returncode == 1 and "YIMA_DATABASE_URL" in line and says in line
    assert "hunter2" not in done.stderr + done.stdout


READ_COMMANDS = [
    ["audit", "verify"],
    ["standards", "list"],
    ["token", "list"],
    ["validate", "codes", "gtin", "codes.txt"],
    ["catalog", "export", "--format", "csv", "--out", "out"],
    ["lineage", "export", "--format", "json", "--out", "out"],
    ["token", "create", "bot", "--role", "viewer"],
]


@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_command_in_the_wrong_folder_creates_no_database(tmp_path, command):
    (tmp_path / "codes.txt").write_text("6901234567892\n")
    done = _yima(*command, cwd=tmp_path)
    line = _one_clear_line(done)
    assert done.returncode == 1
    assert f"no database at {tmp_path / 'yima.db'}" in line and "yima db upgrade" in line
    assert not (tmp_path / "yima.db").exists()


def test_an_import_creates_the_database_and_says_so(tmp_path):
    codes = Path(__file__).resolve().parents[2] / "standards" / "data" / "gbt51269-excerpt.csv"
    done = _yima("standards", "import", "gbt51269", codes, "--release", "r1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"Creating a new database in {tmp_path / 'yima.db'}" in done.stderr
    assert (tmp_path / "yima.db").exists()


def test_db_upgrade_still_creates_the_database(tmp_path):
    assert _yima("db", "upgrade", cwd=tmp_path).returncode == 0
    listed = _yima("standards", "list", cwd=tmp_path)
    assert listed.returncode == 0 and "szgws-me" in listed.stdout


@pytest.mark.skipif(not PG_URL, reason="YIMA_TEST_POSTGRES_URL is not set")
def test_an_empty_postgresql_database_is_not_silently_migrated(tmp_path):
    base = make_url(PG_URL).set(drivername="postgresql+psycopg")
    name = f"yima_empty_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = base.set(database=name).render_as_string(hide_password=False)
        line = _one_clear_line(_yima("audit", "verify", cwd=tmp_path, YIMA_DATABASE_URL=url))
        assert "no Yima database in" in line and name in line
        probe = create_engine(url)
        with probe.connect() as conn:
            tables = conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).scalar()
        probe.dispose()
        assert tables == 0
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_serve_on_a_busy_port_fails_before_saying_serving(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = _yima("serve", "--port", port, cwd=tmp_path, timeout=60)
    line = _one_clear_line(done)
    assert f"cannot listen on 127.0.0.1:{port}" in line
    assert "serving" not in (done.stdout + done.stderr).lower()
    assert not (tmp_path / "yima.db").exists()


def test_demo_with_a_wrong_uniclass_dir_fails_and_loads_nothing(tmp_path):
    wrong = tmp_path / "no-such-folder"
    line = _one_clear_line(_yima("demo", cwd=tmp_path, YIMA_UNICLASS_DIR=str(wrong)))
    assert f"YIMA_UNICLASS_DIR={wrong}" in line and "Uniclass2015_*.csv" in line
    assert not (tmp_path / "yima.db").exists()


@pytest.mark.slow
def test_demo_without_uniclass_says_it_was_not_loaded(tmp_path):
    """No YIMA_UNICLASS_DIR and no ../shared/data/uniclass2015: the demo loads, and says what it skipped."""
    done = _yima("demo", cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Uniclass 2015: not loaded" in done.stderr and "YIMA_UNICLASS_DIR" in done.stderr


def test_token_revoke_twice_writes_one_entry(runner, client):
    assert runner(["token", "create", "bot", "--role", "viewer"]).exit_code == 0
    assert runner(["token", "revoke", "bot"]).exit_code == 0
    again = runner(["token", "revoke", "bot"])
    assert again.exit_code == 1 and "already revoked" in again.output
    entries = client.get("/api/v1/audit?entity_type=token&entity_key=bot").get_json()["items"]
    assert [e["action"] for e in entries] == ["create", "revoke"]


def test_token_create_after_a_revoke_does_not_advise_revoking(runner):
    runner(["token", "create", "bot", "--role", "viewer"])
    runner(["token", "revoke", "bot"])
    again = runner(["token", "create", "bot", "--role", "viewer"])
    assert again.exit_code == 1
    assert "revoke it" not in again.output and "never reused" in again.output
    live = runner(["token", "create", "bot2", "--role", "viewer"])
    taken = runner(["token", "create", "bot2", "--role", "viewer"])
    assert "already exists" in taken.output and "revoke" not in taken.output and live.exit_code == 0
