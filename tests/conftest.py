"""Fixtures shared by every test: an app on SQLite and (when YIMA_TEST_POSTGRES_URL is set) on PostgreSQL.

Each test gets an empty, fully migrated database: a copy of a migrated SQLite template, or a
PostgreSQL database (created once per run) with every table truncated.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import migrations
from registry.config import Config
from registry.tokens import create_token

PG_URL = os.environ.get("YIMA_TEST_POSTGRES_URL")
ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("YIMA_SHARED_DIR", ROOT.parent / "shared"))
UNICLASS_DIR = Path(os.environ.get("YIMA_UNICLASS_DIR", SHARED / "data" / "uniclass2015"))


def _pg(url: str) -> str:
    u = make_url(url)
    return str(u.set(drivername="postgresql+psycopg")) if u.drivername in ("postgresql", "postgres") else url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrations.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_database():
    """A PostgreSQL database of this run's own, migrated to head; dropped at the end."""
    if not PG_URL:
        if os.environ.get("YIMA_REQUIRE_POSTGRES"):
            pytest.fail("YIMA_REQUIRE_POSTGRES is set but YIMA_TEST_POSTGRES_URL is not")
        pytest.skip("YIMA_TEST_POSTGRES_URL is not set")
    base = make_url(_pg(PG_URL))
    name = f"yima_test_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    migrations.upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate(url: str) -> None:
    metadata = migrations.load_models()
    engine = create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """An empty migrated database: every test that uses it runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        target = tmp_path / "yima.db"
        shutil.copy(template, target)
        return f"sqlite:///{target}"
    url = request.getfixturevalue("pg_database")
    _truncate(url)
    return url


@pytest.fixture
def config(database_url, tmp_path) -> Config:
    return Config(
        database_url=database_url, secret_key="test-secret", instance_path=str(tmp_path / "instance")
    )


@pytest.fixture
def app(config):
    from web import create_app

    application = create_app(config)
    application.config["TESTING"] = True
    yield application
    application.extensions["yima"].db.dispose()


@pytest.fixture
def db(app):
    """The app's Database (``db.writer()`` / ``db.session()``)."""
    return app.extensions["yima"].db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_token(db):
    """``make_token(role, name=None)`` → headers with a fresh Bearer token of that role."""
    counter = iter(range(1, 10_000))

    def make(role: str, name: str | None = None) -> dict:
        with db.writer() as s:
            _, secret = create_token(s, name or f"test-{role}-{next(counter)}", role, actor="test")
        return {"Authorization": f"Bearer {secret}"}

    return make


@pytest.fixture
def steward(make_token):
    return make_token("steward", "steward-1")


@pytest.fixture
def admin(make_token):
    return make_token("admin", "admin-1")


@pytest.fixture
def runner(config):
    """Invoke ``yima`` in-process against the test database: ``runner(["audit", "verify"])``."""
    from web.cli import main

    cli = CliRunner()
    env = {
        "YIMA_DATABASE_URL": config.database_url,
        "YIMA_SECRET_KEY": "test-secret",
        "YIMA_INSTANCE_PATH": config.instance_path,
    }

    def invoke(args, **kwargs):
        return cli.invoke(main, [str(a) for a in args], env=env, catch_exceptions=False, **kwargs)

    return invoke


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def free_port():
    """A function returning a free localhost port."""
    return _free_port


@pytest.fixture
def live_server(app):
    """The app behind a real HTTP server on a free localhost port; yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", _free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
