"""Alembic migrations, the only way Yima's schema changes; ``upgrade``/``downgrade``/``current`` run them."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

HERE = Path(__file__).resolve().parent

#: every module that defines tables; all must be imported for autogenerate and drift checks to see them
MODEL_MODULES = (
    "registry.audit",
    "registry.merkle_store",
    "registry.checkpoints",
    "registry.tokens",
    "catalog.models",
    "standards.models",
    "lineage.models",
    "traceability.models",
    "webhooks.models",
    "review.models",
)


#: database-specific search indexes created by hand in migrations (SQLite FTS5 tables and their shadow
#: tables, PostgreSQL trigram indexes): names starting with these are left out of model comparisons
UNMODELLED_PREFIXES = ("resource_fts",)


def include_name(name, type_, parent_names) -> bool:
    """Alembic ``include_name`` hook: compare everything but the hand-made search indexes."""
    return not (name or "").startswith(UNMODELLED_PREFIXES)


def load_models():
    """Import every model module and return the metadata they share."""
    import importlib

    from registry.db import Base

    for name in MODEL_MODULES:
        importlib.import_module(name)
    return Base.metadata


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def needs_upgrade(engine) -> bool:
    with engine.connect() as conn:
        return current_revision(conn) != head_revision()
