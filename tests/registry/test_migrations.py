"""Migrations: an empty database upgrades to head, matches the models exactly, and downgrades to base."""

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

import migrations
from registry.db import make_engine


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    pg = os.environ.get("YIMA_TEST_POSTGRES_URL")
    if not pg:
        pytest.skip("YIMA_TEST_POSTGRES_URL is not set")
    base = make_url(pg).set(drivername="postgresql+psycopg")
    name = f"yima_mig_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_migrations_upgrade_matches_models_and_downgrades_to_base(empty_url):
    metadata = migrations.load_models()
    migrations.upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        with engine.connect() as conn:
            assert migrations.current_revision(conn) == migrations.head_revision()
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_name": migrations.include_name}
            )
            drift = compare_metadata(ctx, metadata)
        assert drift == [], f"models and migrations differ: {drift}"
        migrations.downgrade(empty_url, "base")
        tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
        assert tables == set(), f"left behind after downgrade: {tables}"
        migrations.upgrade(empty_url)  # and back up again, cleanly
        assert {"audit_entry", "organization"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
