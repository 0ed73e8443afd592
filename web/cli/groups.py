"""The command groups, shared helpers (config, database, actor, progress) and clean error reporting."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import click
from alembic.util import CommandError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

import migrations
from registry.config import Config
from registry.db import Database
from registry.errors import YimaError
from standards import formats


class YimaGroup(click.Group):
    """Turns domain and database errors into one clear line on stderr and a non-zero exit, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except YimaError as exc:
            click.secho(f"error: {exc.message}", fg="red", err=True)
            _echo_errors(exc.errors)
            ctx.exit(1)
        except OperationalError as exc:
            click.secho(f"error: the database cannot be used: {exc.orig}", fg="red", err=True)
            ctx.exit(1)
        except CommandError as exc:  # Alembic: an unknown revision and the like
            click.secho(f"error: {exc}", fg="red", err=True)
            ctx.exit(1)


def _echo_errors(errors, prefix="  ") -> None:
    if isinstance(errors, dict):
        for key, value in errors.items():
            click.echo(
                f"{prefix}{key}: {value if not isinstance(value, list) else '; '.join(map(str, value))}",
                err=True,
            )
    elif isinstance(errors, list):
        for item in errors[:200]:
            click.echo(f"{prefix}{item}", err=True)
        if len(errors) > 200:
            click.echo(f"{prefix}… and {len(errors) - 200} more", err=True)


YimaGroup.group_class = click.Group


@click.group(
    cls=YimaGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110}
)
@click.version_option(package_name="yima", prog_name="yima")
def main():
    """Yima (一码): data resource catalog, classification code registry and lineage.

    Configuration comes from YIMA_* variables: YIMA_DATABASE_URL (default: sqlite:///yima.db in the
    current folder), YIMA_SECRET_KEY, YIMA_READ_REQUIRES_TOKEN, YIMA_MAX_BATCH. See the README.
    """


@main.group()
def validate():
    """Validate codes or records the way other systems do through the API."""


def get_config() -> Config:
    ctx = click.get_current_context()
    root = ctx.find_root()
    if root.obj is None:
        root.obj = {}
    if "config" not in root.obj:
        root.obj["config"] = Config.from_env()
        formats.configure(root.obj["config"].scheme_paths)  # YIMA_SCHEME_PATH, for every command
    return root.obj["config"]


#: the commands that may create a database where there is none (``yima db upgrade`` always does): they
#: bring data (or serve it). Any other command run in the wrong folder must not leave an empty
#: ``yima.db`` there and report no data: it says there is no database and exits 1.
CREATING_COMMANDS = {"demo", "serve", "catalog import", "standards import"}


def get_db(*, create: bool | None = None) -> Database:
    """The database, upgraded to the newest schema if it is behind.

    A database that does not exist yet (no SQLite file, or no Yima tables) is created only by the
    ``CREATING_COMMANDS`` (or with ``create=True``), saying so; for any other command it is an error.
    """
    ctx = click.get_current_context()
    root = ctx.find_root()
    get_config()
    if create is None:
        create = " ".join(ctx.command_path.split()[1:]) in CREATING_COMMANDS
    if "db" not in root.obj:
        url = root.obj["config"].database_url
        if not create:
            _require_existing(url)
        database = Database(url, sqlite_busy_timeout=root.obj["config"].sqlite_busy_timeout)
        if migrations.needs_upgrade(database.engine):
            if _revision(database) is None:
                if not create:
                    database.dispose()
                    raise NoDatabase(f"no Yima database in {_shown(url)} ({NO_DATABASE_HINT})")
                click.echo(f"Creating a new database in {_shown(url)}…", err=True)
            else:
                click.echo("Upgrading the database schema…", err=True)
            migrations.upgrade(database.url)
        root.obj["db"] = database
        ctx.call_on_close(database.dispose)
    return root.obj["db"]


NO_DATABASE_HINT = "run `yima db upgrade` to create one here, or set YIMA_DATABASE_URL"


class NoDatabase(YimaError):
    """The configured database does not exist yet, and this command does not create one."""


def _require_existing(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if not path.exists() or path.stat().st_size == 0:
            raise NoDatabase(f"no database at {path.resolve()} ({NO_DATABASE_HINT})")


def _revision(database: Database) -> str | None:
    with database.engine.connect() as conn:
        return migrations.current_revision(conn)


def _shown(url: str) -> str:
    """The database as a person finds it: a SQLite file's full path, else the URL without its password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return str(Path(parsed.database).resolve())
    return parsed.render_as_string(hide_password=True)


def cli_actor() -> str:
    """Who a command-line change is attributed to in the audit chain."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in some containers
        return "cli"


def progress(length: int, label: str):
    """A progress bar on a terminal; silent otherwise (CI logs, pipes)."""
    return (
        click.progressbar(length=length, label=label, file=sys.stderr) if sys.stderr.isatty() else _Silent()
    )


class _Silent:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n):
        pass
