"""One export, made once for the API and the CLI: the graph query, the file, its sha256, the audit head
it was read at, and the manifest that proves it."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from dataclasses import dataclass

from sqlalchemy.orm import Session

from lineage.columns import queries as column_queries
from lineage.export import graphml
from lineage.export.formats import file_name, media_type, render
from lineage.ids import DIRECTIONS, iso
from lineage.queries import subgraph
from registry import audit, evidence
from registry.audit import GENESIS
from registry.db import Database
from registry.jsonutil import sha256_hex
from registry.signed_note import Signer


@dataclass(frozen=True)
class Export:
    """A rendered export and what proves it unaltered."""

    format: str
    file_name: str
    media_type: str
    body: bytes
    sha256: str
    #: the audit chain's head the graph was read at (64 zeros for an empty chain)
    audit_head: str
    as_of: str
    query: dict
    nodes: int
    edges: int

    def manifest(self, generated_at: dt.datetime | None = None) -> dict:
        """The contract's ``manifest.json``: when, the query, the counts, the audit head, the file's hash."""
        moment = generated_at or dt.datetime.now(dt.UTC)
        return {
            "generated_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "as_of": self.as_of,
            "format": self.format,
            "query": self.query,
            "nodes": self.nodes,
            "edges": self.edges,
            "audit_head": self.audit_head,
            "files": {self.file_name: {"sha256": self.sha256, "bytes": len(self.body)}},
        }


def export(
    session: Session,
    fmt: str,
    *,
    node: str | None = None,
    direction: str | None = "both",
    depth: int | None = None,
    level: str | None = "dataset",
    as_of=None,
) -> Export:
    """Render the graph query's answer as ``fmt`` (render → sha256 → audit head → manifest).

    The same ``as_of`` and query give the same bytes. Raises Invalid (bad format or query),
    NotFound (a node never seen).
    """
    file_name(fmt)  # an unknown format is refused before any query runs
    level = level or "dataset"
    query = {
        "node": node,
        "direction": DIRECTIONS.get(direction or "both") if node else None,
        "depth": depth,
        "level": level,
    }
    if fmt == "graphml" and level == column_queries.LEVEL:  # 400,000 fields: straight from the graph
        columns, moment, chosen = column_queries.selection(
            session, node=node, direction=direction, depth=depth, as_of=as_of
        )
        body, nodes, edges = graphml.render_columns(columns, chosen, iso(moment), query)
        return _made(fmt, body, columns.ctl.head, iso(moment), query, nodes, edges)
    graph = subgraph(session, node=node, direction=direction, depth=depth, level=level, as_of=as_of)
    body = render(fmt, graph, query)
    return _made(
        fmt, body, graph["audit_head"], graph["as_of"], query, len(graph["nodes"]), len(graph["edges"])
    )


def _made(fmt: str, body: bytes, head: str | None, as_of: str, query: dict, nodes: int, edges: int) -> Export:
    return Export(
        format=fmt,
        file_name=file_name(fmt),
        media_type=media_type(fmt),
        body=body,
        sha256=sha256_hex(body),
        audit_head=head or GENESIS,
        as_of=as_of,
        query=query,
        nodes=nodes,
        edges=edges,
    )


EXPORT_ENTITY = "lineage_export"


def audited_manifest(database: Database, made: Export, *, actor: str, signer: Signer) -> dict:
    """The manifest of an export that is itself audited (contract v1.1, "Verifiable audit log").

    Records the export as an audit entry (action ``export``, its ``after`` every manifest field and the
    file's sha256), commits it, then adds the proof material: that entry, a signed checkpoint whose size
    includes it, and its inclusion proof. ``yima verify-export`` checks the result step by step.
    """
    manifest = made.manifest()
    with database.writer() as s:
        entry = audit.record(
            s,
            actor=actor,
            action=evidence.EXPORT_ACTION,
            entity_type=EXPORT_ENTITY,
            entity_key=made.sha256,
            before=None,
            after=evidence.export_after(manifest),
        )
        s.commit()
    with database.writer() as s:
        manifest |= evidence.bundle(s, entry, signer)
        s.commit()
    return manifest


MANIFEST = "manifest.json"


def manifest_bytes(manifest: dict) -> bytes:
    """``manifest.json`` as the CLI writes it and the API's zip holds it (UTF-8, indented, final newline)."""
    return (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def zipped(made: Export, manifest: dict) -> bytes:
    """The export file and its ``manifest.json`` in one zip, as ``POST /api/v1/lineage/export`` answers it.

    The same two files the CLI writes into its folder, so ``yima verify-export`` and the standalone
    verifier check the zip (or its unpacked folder) the same way. Members are dated with the
    manifest's ``generated_at``, so the zip's bytes depend only on the two files.
    """
    moment = dt.datetime.strptime(manifest["generated_at"], "%Y-%m-%dT%H:%M:%SZ")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in ((made.file_name, made.body), (MANIFEST, manifest_bytes(manifest))):
            info = zipfile.ZipInfo(name, date_time=moment.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()
