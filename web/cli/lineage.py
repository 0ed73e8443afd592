"""``yima lineage``: export the lineage graph for audits (file + manifest.json), list uncatalogued datasets."""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path

import click

from lineage import queries
from lineage.export.bundle import MANIFEST, audited_manifest, manifest_bytes
from lineage.export.bundle import export as export_bundle
from lineage.export.formats import FORMATS
from lineage.ids import GRAPH_LEVELS
from lineage.sql.record import lineage_from_sql
from registry.errors import Invalid
from registry.signed_note import signer_for
from web.cli.groups import cli_actor, get_config, get_db, main

#: the lineage services' parameter names (the API's words) → this CLI's options
_OPTIONS = {
    "as_of": "--as-of",
    "node": "--node",
    "level": "--level",
    "depth": "--depth",
    "direction": "--direction",
}
#: ``level=system`` anywhere, and a parameter's name opening the message ("as_of must be …")
_API_WORDS = re.compile(r"\b(as_of|node|level|depth|direction)=(\w+)|^(as_of|node|level|depth|direction)\b")


def _option(match: re.Match) -> str:
    if match.group(1):
        return f"{_OPTIONS[match.group(1)]} {match.group(2)}"
    return _OPTIONS[match.group(3)]


@contextlib.contextmanager
def cli_words():
    """Say a service's refusal with this command's options (``--level system``), not the API's
    parameters (``level=system``)."""
    try:
        yield
    except Invalid as exc:
        errors = exc.errors
        if isinstance(errors, dict):
            errors = {
                _OPTIONS.get(k, k): [
                    _API_WORDS.sub(_option, str(m)) for m in (v if isinstance(v, list) else [v])
                ]
                for k, v in errors.items()
            }
        raise Invalid(_API_WORDS.sub(_option, exc.message), errors) from None


@main.group()
def lineage():
    """Lineage between systems: exports for audits, the stewards' to-do of uncatalogued datasets,
    lineage from SQL files."""


@lineage.command("export")
@click.option(
    "--format",
    "fmt",
    required=True,
    type=click.Choice(list(FORMATS)),
    help="graphml (yEd, Gephi), json (node-link), prov (W3C PROV-JSON), csv (edge list for Excel), dot.",
)
@click.option("--as-of", help="ISO 8601 date or date-time: the graph as it stood then (default: now).")
@click.option(
    "--node",
    help="Only this node's neighbourhood: dataset:NS:NAME, job:NS:NAME, system:CODE or "
    "datasetField:NS:NAME:FIELD.",
)
@click.option(
    "--direction",
    type=click.Choice(["up", "down", "both", "upstream", "downstream"]),
    default="both",
    show_default=True,
    help="With --node: upstream, downstream or both.",
)
@click.option(
    "--depth", type=click.IntRange(min=0), help="With --node: at most this many edges away (default: all)."
)
@click.option(
    "--level",
    type=click.Choice(list(GRAPH_LEVELS)),
    help="dataset (datasets and jobs), system (system A → B when A's data feeds B's) or column (fields "
    "and column edges); default: system for a --node system:CODE, column for a --node datasetField:…, "
    "else dataset.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write lineage.<ext> and manifest.json into (created if missing).",
)
def export(fmt, as_of, node, direction, depth, level, out_dir):
    """Write the lineage graph to OUT/lineage.<ext> and OUT/manifest.json (sha256 and size of the file,
    the audit chain's head, the query). Exporting the same --as-of twice gives byte-identical files."""
    if (direction != "both" or depth is not None) and not node:
        raise click.UsageError("--direction and --depth need --node")
    if level is None:
        level = "system" if node and node.startswith("system:") else "dataset"
        level = "column" if node and node.startswith("datasetField:") else level
    database = get_db()
    with database.session() as s, cli_words():
        made = export_bundle(s, fmt, node=node, direction=direction, depth=depth, level=level, as_of=as_of)
    signed = audited_manifest(database, made, actor=cli_actor(), signer=signer_for(get_config()))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / made.file_name).write_bytes(made.body)
    (out_dir / MANIFEST).write_bytes(manifest_bytes(signed))
    click.echo(f"wrote {out_dir / made.file_name} ({made.nodes} nodes, {made.edges} edges) and manifest.json")


@lineage.command("uncatalogued")
@click.option("--as-of", help="ISO 8601 date or date-time (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def uncatalogued(as_of, as_json):
    """Datasets seen in lineage that no catalog resource describes (a steward's to-do)."""
    with get_db().session() as s, cli_words():
        items = queries.uncatalogued(s, as_of=as_of)
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False, indent=2))
        return
    for item in items:
        click.echo(f"{item['id']}\t{item['system'] or '-'}\t{item['first_seen']}")
    click.echo(f"{len(items)} uncatalogued dataset(s)", err=True)


@lineage.command("sql")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--dialect",
    required=True,
    help="sqlglot's names (oracle, mysql, postgres, tsql, hive, spark, …), plus dm/dameng (read as Oracle), "
    "kingbase (PostgreSQL), gbase and oceanbase (MySQL).",
)
@click.option("--namespace", required=True, help="The OpenLineage namespace of every dataset the SQL names.")
@click.option(
    "--job",
    help="Record every statement as one run of this job (NAME in the namespace, or job:NS:NAME); "
    "default: one job per written dataset, sql/<dataset>.",
)
@click.option("--default-schema", help="Prefixed to unqualified table names.")
@click.option("--dry-run", is_flag=True, help="Analyse and print; record nothing.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the API's JSON instead of one line per statement."
)
def sql(files, dialect, namespace, job, default_schema, dry_run, as_json):
    """Lineage from SQL files (views, ETL scripts): per statement, the datasets it reads and writes and
    the column edges; recorded as OpenLineage events (audited) unless --dry-run. Catalogued resources
    in the namespace lend their field lists, so SELECT * expands. Exit 1 when a statement could not be
    parsed (the others are still recorded)."""
    scripts = [(name, _read_sql(name)) for name in files]
    with get_db().writer() as s:
        result = lineage_from_sql(
            s,
            scripts,
            dialect=dialect,
            namespace=namespace,
            job=job,
            default_schema=default_schema,
            record=not dry_run,
            actor=cli_actor(),
        )
    failed = [st for st in result["statements"] if st["error"]]
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        _print_statements(result, dry_run)
    if failed:
        raise SystemExit(1)


def _read_sql(name: str) -> str:
    try:
        with click.open_file(name, encoding="utf-8-sig") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read {name}: {exc}", param_hint="FILES") from None


def _short(node: str, namespace: str) -> str:
    return node.split(":", 1)[1].removeprefix(namespace + ":")


def _print_statements(result: dict, dry_run: bool) -> None:
    ns = result["namespace"]
    for st in result["statements"]:
        where = f"{st.get('file', '-')}:{st['line']}"
        if st["error"]:
            click.echo(f"{where}\terror: {st['error']}")
            continue
        reads = ", ".join(_short(i, ns) for i in st["inputs"]) or "-"
        writes = ", ".join(_short(o, ns) for o in st["outputs"]) or "-"
        click.echo(f"{where}\t{st['type']}\t{reads} → {writes}\t{len(st['columns'])} column edge(s)")
        for warning in st["warnings"]:
            click.echo(f"{where}\twarning: {warning}")
    if dry_run:
        click.echo("dry run: nothing recorded", err=False)
        return
    for event in result["events"]:
        click.echo(f"recorded event {event['id']} for {event['job']}")
    if not result["events"]:
        click.echo("nothing recorded")
