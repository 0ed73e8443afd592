"""Core commands: ``db``, ``serve``, ``demo``, ``token`` and ``audit``."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import click

import migrations
from catalog import demo as catalog_demo
from lineage import demo as lineage_demo
from registry import audit, backup, log_check, tokens
from registry.db import Database
from registry.signed_note import signer_for
from review import demo as review_demo
from review import parties
from standards import demo as standards_demo
from traceability import demo as trace_demo
from web import domains
from web.cli.groups import cli_actor, get_config, get_db, main
from web.server import THREADS, check_port, run

#: what ``yima demo`` loads, in order; each is ``function(db, actor[, config=]) -> int`` (objects created)
DEMO_STEPS = (
    ("organizations", catalog_demo.load_organizations),
    ("code schemes and the bureau's code set", standards_demo.load),
    ("catalog of the bureau's systems", catalog_demo.load_catalog),
    ("lineage between the systems", lineage_demo.load),
    ("material traceability (products, a delivery, items and their trails)", trace_demo.load),
)


# --- db ------------------------------------------------------------------------------------


@main.group()
def db():
    """Schema migrations (Alembic) on YIMA_DATABASE_URL."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision):
    """Upgrade the database to REVISION (default: the newest)."""
    url = get_config().database_url
    migrations.upgrade(url, revision)
    click.echo(f"database at {_current(url)}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision):
    """Downgrade the database to REVISION ('base' removes every table, data included)."""
    url = get_config().database_url
    migrations.downgrade(url, revision)
    click.echo(f"database at {_current(url) or 'base'}")


@db.command("current")
def db_current():
    """Print the database's revision, and whether it is the newest."""
    url = get_config().database_url
    current, head = _current(url), migrations.head_revision()
    click.echo(
        f"{current or 'base (empty)'}{' (head)' if current == head else f' (newest is {head}: run yima db upgrade)'}"
    )


def _current(url: str) -> str | None:
    database = Database(url)
    try:
        with database.engine.connect() as conn:
            return migrations.current_revision(conn)
    finally:
        database.dispose()


# --- serve ---------------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on."
)
@click.option(
    "--threads",
    default=THREADS,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Request threads per worker process (concurrent intake requests share a transaction).",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes (each keeps its own validation and lineage caches).",
)
@click.option(
    "--timeout",
    default=300,
    show_default=True,
    type=click.IntRange(10, 3600),
    help="Seconds a request may take (large imports and exports).",
)
@click.option(
    "--deliver/--no-deliver",
    default=None,
    help="Run the webhook delivery loop in each worker process (default: on, unless YIMA_DELIVER=0).",
)
def serve(host, port, threads, workers, timeout, deliver):
    """Upgrade the database if needed, then serve the browse UI and the API (gunicorn, threaded)."""
    try:
        check_port(host, port)  # before anything says "serving"
    except OSError as exc:
        raise click.ClickException(str(exc)) from None
    get_db()  # creates or upgrades first (serve is one of the CREATING_COMMANDS)
    deliver = get_config().deliver if deliver is None else deliver
    click.echo(f"Yima serving on http://{host}:{port}/  (API: /api/v1, docs: /api/v1/docs)  Ctrl+C stops.")
    run(
        get_config(), host=host, port=port, threads=threads, workers=workers, timeout=timeout, deliver=deliver
    )


# --- demo ----------------------------------------------------------------------------------


@main.command()
@click.option(
    "--tokens",
    is_flag=True,
    help="Also print a sample token for each unit of the three-party review (施工单位 contractor, 监理单位 "
    "supervisor, 建设单位 owner); a re-run revokes the previous sample tokens and prints new ones.",
)
def demo(tokens):
    """Load the bureau's demo data: organizations, code schemes and codes, catalog, lineage (idempotent).

    Uniclass 2015 is loaded when its CSVs are found (YIMA_UNICLASS_DIR, else ../shared/data/uniclass2015);
    a YIMA_UNICLASS_DIR that holds none is an error, so a typo never passes for "no Uniclass".
    """
    config = get_config()
    uniclass = standards_demo.uniclass_dir(config.uniclass_dir)
    if config.uniclass_dir and uniclass is None:
        raise click.ClickException(
            f"YIMA_UNICLASS_DIR={config.uniclass_dir} holds no Uniclass2015_*.csv files: "
            "point it at the folder of the Uniclass 2015 CSVs, or unset it to load the demo without Uniclass"
        )
    database = get_db()  # demo is one of the CREATING_COMMANDS
    actor = cli_actor()
    for label, load in DEMO_STEPS:
        wants_config = "config" in inspect.signature(load).parameters
        created = load(database, actor, config=config) if wants_config else load(database, actor)
        click.echo(f"{label}: {created} created" if created else f"{label}: already loaded")
    if uniclass is None:
        click.secho(
            f"Uniclass 2015: not loaded (no Uniclass2015_*.csv in {standards_demo.DEFAULT_UNICLASS_DIR}); "
            "set YIMA_UNICLASS_DIR to the folder of its CSVs and run `yima demo` again",
            fg="yellow",
            err=True,
        )
    else:
        click.echo(f"Uniclass 2015: from {uniclass}")
    if tokens:  # review: sample tokens of the three parties
        for t in review_demo.sample_tokens(database, actor):
            click.echo(f"{t['party']}\t{t['organization']}\t{t['role']}\t{t['name']}\t{t['secret']}")


# --- token ---------------------------------------------------------------------------------


@main.group()
def token():
    """API tokens: each has a name (recorded as the actor of its changes) and a role."""


@token.command("create")
@click.argument("name")
@click.option(
    "--role",
    required=True,
    type=click.Choice(tokens.ROLES),
    help="viewer < contributor (lineage, proposals) < steward (catalog, codes) < admin (schemes, tokens).",
)
@click.option("--org", "organization", metavar="CODE", help="The organization the token acts for (its code).")
def token_create(name, role, organization):
    """Create a token NAME (acting for organization CODE); the secret is printed once, alone on the last line."""
    with get_db().writer() as s:
        _, secret = parties.create_token(s, name, role, actor=cli_actor(), organization=organization)
    of = f" for {organization}" if organization else ""
    click.echo(f"token {name!r} ({role}{of}) created; store it now, it cannot be shown again:", err=True)
    click.echo(secret)


@token.command("list")
def token_list():
    """List tokens (names, roles, organizations, whether revoked); secrets are never stored."""
    with get_db().session() as s:
        for t in tokens.list_tokens(s):
            click.echo(
                f"{t.name}\t{t.role}\t{t.organization or '-'}\t{'revoked' if t.revoked else 'active'}"
                f"\t{t.created_at:%Y-%m-%d %H:%M}"
            )


@token.command("revoke")
@click.argument("name")
def token_revoke(name):
    """Revoke the token NAME; it stops working at once."""
    with get_db().writer() as s:
        tokens.revoke_token(s, name, actor=cli_actor())
    click.echo(f"token {name!r} revoked")


# --- audit ---------------------------------------------------------------------------------


@main.group("audit")
def audit_group():
    """The tamper-evident audit chain."""


@audit_group.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
# --- evidence (issue 11) ---
@click.option(
    "--against",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A checkpoint kept outside (yima audit checkpoint --out FILE): also prove today's log extends it.",
)
@click.option("--key", help="Verifier key text for --against's signature (default: this instance's key).")
def audit_verify(as_json, against, key):
    """Re-check every hash and that each audited object still matches its last entry; recompute the Merkle
    tree from the entries and check it against the stored tree, every checkpoint issued and --against.
    Exit 0 intact, 1 not."""
    domains.check()
    with get_db().session() as s:
        result = audit.verify(s)
        note = against.read_text("utf-8", errors="replace") if against else None
        tree = log_check.check_log(s, signer_for(get_config()), note, key)  # evidence (issue 11)
    if as_json:
        click.echo(json.dumps({**result.to_dict(), "tree": tree.to_dict()}, ensure_ascii=False, indent=2))
    elif result.ok:
        click.echo(f"audit chain intact: {result.count} entries, head {result.head}")
    else:
        where = f" first bad entry: seq {result.first_bad_seq}." if result.first_bad_seq else ""
        click.secho(f"audit chain NOT intact ({result.count} entries).{where}", fg="red", err=True)
        for problem in result.problems[:50]:
            click.echo(f"  {problem}", err=True)
    if not as_json:  # evidence (issue 11)
        for line in tree.lines:
            click.secho(line, err=not tree.ok, fg=None if tree.ok else "red")
    raise SystemExit(0 if result.ok and tree.ok else 1)


@audit_group.command("list")
@click.option("--entity-type")
@click.option("--entity-key")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
def audit_list(entity_type, entity_key, limit):
    """Show the newest entries (seq, time, actor, action, entity)."""
    with get_db().session() as s:
        found = audit.list_entries(
            s, entity_type=entity_type, entity_key=entity_key, per_page=limit, newest_first=True
        )
    for e in found.items:
        click.echo(f"{e.seq}\t{e.at}\t{e.actor}\t{e.action}\t{e.entity_type}\t{e.entity_key}")


# --- backup --------------------------------------------------------------------------------


@main.command("backup")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(out):
    """Write a consistent copy of the database to OUT while Yima may be serving.

    SQLite: the online backup API (a single file; restore by copying it into place). PostgreSQL:
    pg_dump of one snapshot, custom format (restore with pg_restore), or plain SQL when OUT ends in
    .sql (restore with psql); pg_dump must be on PATH. Then `yima db upgrade` and `yima audit verify`
    on the restored database. OUT must not exist.
    """
    config = get_config()
    made = backup.backup(config.database_url, out, busy_timeout_ms=config.sqlite_busy_timeout)
    head = f"audit seq {made.seq}, head {made.head}" if made.head else "audit chain empty"
    click.echo(
        f"backup written to {made.path} ({made.method}, {made.bytes} bytes, sha256 {made.sha256}; {head})"
    )
