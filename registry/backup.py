"""A consistent copy of the database while Yima serves: SQLite's online backup API, PostgreSQL's pg_dump.

SQLite: ``sqlite3.Connection.backup`` copies every page under one read transaction (writers go on in
WAL mode), into a temporary file renamed into place once it passed ``PRAGMA quick_check``.
PostgreSQL: ``pg_dump`` (custom format, or plain SQL for a ``.sql`` file) of a snapshot exported from
a read-only repeatable-read transaction, so the audit head reported is exactly the dump's. Restoring
is described in the README ("Backup and restore").
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import make_url

from registry.errors import Conflict, Invalid, YimaError

_HEAD = "SELECT seq, hash FROM audit_entry ORDER BY seq DESC LIMIT 1"


class BackupFailed(YimaError):
    """The copy could not be made (no pg_dump, pg_dump refused, the copy failed its check)."""

    status = 503


@dataclass(frozen=True)
class Backup:
    """What was written: where, how (``sqlite`` or ``pg_dump custom|plain``), its size and digest, and
    the audit chain's head in the copy (``seq`` 0 and ``head`` None for an empty chain)."""

    path: Path
    method: str
    bytes: int
    sha256: str
    seq: int
    head: str | None


def backup(url: str, out: Path, *, busy_timeout_ms: int = 30_000) -> Backup:
    """Copy the database at ``url`` to ``out`` (which must not exist) while it may be in use.

    Raises Invalid (an in-memory database), Conflict (``out`` exists), BackupFailed (no pg_dump on
    PATH, pg_dump's refusal, a copy that fails its check).
    """
    out = Path(out)
    if out.exists():
        raise Conflict(f"{out} already exists; a backup never overwrites a file: choose another name")
    out.parent.mkdir(parents=True, exist_ok=True)
    if make_url(url).get_backend_name() == "sqlite":
        method, (seq, head) = "sqlite backup API", _sqlite(url, out, busy_timeout_ms)
    else:
        method, (seq, head) = _pg_dump(url, out)
    data = out.read_bytes()
    return Backup(out, method, len(data), hashlib.sha256(data).hexdigest(), seq, head)


def _sqlite(url: str, out: Path, busy_timeout_ms: int) -> tuple[int, str | None]:
    source = make_url(url).database
    if not source or source == ":memory:" or source.startswith("file::memory:"):
        raise Invalid("an in-memory SQLite database cannot be backed up")
    if not Path(source).exists():
        raise Invalid(f"there is no database at {source}")
    partial = out.with_name(out.name + ".partial")
    src = sqlite3.connect(source, timeout=busy_timeout_ms / 1000)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)  # all pages in one step: one consistent read transaction
            check = dst.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise BackupFailed(f"the copy failed its integrity check: {check}")
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
            row = dst.execute(_HEAD).fetchone()
        finally:
            dst.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupFailed(f"the SQLite backup failed: {exc}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    os.replace(partial, out)
    return (row[0], row[1]) if row else (0, None)


def _libpq_env(url: str) -> dict[str, str]:
    """The connection as libpq variables: the password never appears on a command line."""
    u = make_url(url)
    env = {
        "PGHOST": u.host or str(u.query.get("host") or ""),
        "PGPORT": str(u.port or u.query.get("port") or ""),
        "PGUSER": u.username or "",
        "PGPASSWORD": u.password or "",
        "PGDATABASE": u.database or "",
    }
    return {k: v for k, v in env.items() if v}


def _pg_dump(url: str, out: Path) -> tuple[str, tuple[int, str | None]]:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise BackupFailed(
            "pg_dump is not on PATH: a PostgreSQL backup needs the PostgreSQL client tools of the "
            "server's version or newer (Debian: apt install postgresql-client)"
        )
    plain = out.suffix.lower() == ".sql"
    env = _libpq_env(url)
    names = {
        "PGHOST": "host",
        "PGPORT": "port",
        "PGUSER": "user",
        "PGPASSWORD": "password",
        "PGDATABASE": "dbname",
    }
    dsn = make_conninfo(**{names[k]: v for k, v in env.items()})
    partial = out.with_name(out.name + ".partial")
    # pg_dump reads the snapshot this transaction exports; holding the transaction open keeps it valid
    with psycopg.connect(dsn) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        row = conn.execute(_HEAD).fetchone()
        args = [pg_dump, "--no-password", f"--snapshot={snapshot}", f"--file={partial}"]
        args.append("--format=plain" if plain else "--format=custom")
        done = subprocess.run(args, env={**os.environ, **env}, capture_output=True, text=True)
        conn.rollback()
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        reason = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise BackupFailed(f"pg_dump failed: {reason}")
    os.replace(partial, out)
    return f"pg_dump {'plain' if plain else 'custom'}", ((row[0], row[1]) if row else (0, None))
