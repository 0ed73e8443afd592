"""``yima lineage``: export the lineage graph for audits (file + manifest.json), list uncatalogued datasets."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import click

from catalog import lineage as service
from catalog import lineage_export
from registry.audit import GENESIS
from web.cli.groups import get_db, main


@main.group()
def lineage():
    """Lineage between systems: exports for audits, the stewards' to-do of uncatalogued datasets."""


@lineage.command("export")
@click.option(
    "--format",
    "fmt",
    required=True,
    type=click.Choice(list(lineage_export.FORMATS)),
    help="graphml (yEd, Gephi), json (node-link), prov (W3C PROV-JSON), csv (edge list for Excel), dot.",
)
@click.option("--as-of", help="ISO 8601 date or date-time: the graph as it stood then (default: now).")
@click.option("--node", help="Only this node's neighbourhood: dataset:NS:NAME, job:NS:NAME or system:CODE.")
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
    type=click.Choice(list(service.LEVELS)),
    default="dataset",
    show_default=True,
    help="dataset (datasets and jobs) or system (system A → B when A's data feeds B's).",
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
    database = get_db()
    with database.session() as s:
        moment = service.parse_time(as_of)
        graph = service.subgraph(s, node=node, direction=direction, depth=depth, level=level, as_of=moment)
    query = {
        "node": node,
        "direction": service.DIRECTIONS[direction] if node else None,
        "depth": depth,
        "level": level,
    }
    body = lineage_export.render(fmt, graph, query)
    name = lineage_export.file_name(fmt)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / name).write_bytes(body)
    manifest = {
        "generated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "as_of": graph["as_of"],
        "format": fmt,
        "query": query,
        "nodes": len(graph["nodes"]),
        "edges": len(graph["edges"]),
        "audit_head": graph["audit_head"] or GENESIS,
        "files": {name: {"sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)}},
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", "utf-8")
    click.echo(
        f"wrote {out_dir / name} ({len(graph['nodes'])} nodes, {len(graph['edges'])} edges) and manifest.json"
    )


@lineage.command("uncatalogued")
@click.option("--as-of", help="ISO 8601 date or date-time (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def uncatalogued(as_of, as_json):
    """Datasets seen in lineage that no catalog resource describes (a steward's to-do)."""
    with get_db().session() as s:
        items = service.uncatalogued(s, as_of=as_of)
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False, indent=2))
        return
    for item in items:
        click.echo(f"{item['id']}\t{item['system'] or '-'}\t{item['first_seen']}")
    click.echo(f"{len(items)} uncatalogued dataset(s)", err=True)
