"""Lineage exports read back with the tools auditors use: networkx (GraphML, node-link), prov, csv; manifests;
the API's signed export (POST: audited, zipped with its manifest) checked by verify-export and the standalone verifier."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import networkx as nx
import prov.model
import pytest

from catalog import demo as catalog_demo
from lineage import demo as lineage_demo
from registry.signed_note import signer_for
from tests.registry.evidence_helpers import TAMPERING, rewrite

AS_OF = "2026-06-30T00:00:00Z"
EXTS = {
    "graphml": "lineage.graphml",
    "json": "lineage.json",
    "prov": "lineage.prov.json",
    "csv": "lineage.csv",
    "dot": "lineage.dot",
}


@pytest.fixture
def demo(db):
    """The bureau's demo catalog (systems and their namespaces) and its demo lineage."""
    catalog_demo.load_organizations(db, "demo-loader")
    catalog_demo.load_catalog(db, "demo-loader")
    lineage_demo.load(db, "demo-loader")
    return db


def export(client, fmt, **params):
    response = client.get("/api/v1/lineage/export", query_string={"format": fmt, "as_of": AS_OF, **params})
    assert response.status_code == 200, response.get_json()
    assert response.headers["X-Content-SHA256"] == hashlib.sha256(response.data).hexdigest()
    assert len(response.headers["X-Audit-Head"]) == 64
    return response


def test_every_export_reads_back_and_is_repeatable(client, demo, make_token):
    graph = client.get("/api/v1/lineage/graph", query_string={"as_of": AS_OF}).get_json()
    node_ids = {n["id"] for n in graph["nodes"]}
    edge_pairs = {(e["source"], e["target"]) for e in graph["edges"]}
    assert len(node_ids) > 30 and len(edge_pairs) > 30
    files = {fmt: export(client, fmt) for fmt in EXTS}

    # GraphML: networkx reads it; every attribute is there as a scalar (yEd/Gephi keep them)
    g = nx.read_graphml(io.BytesIO(files["graphml"].data))
    assert set(g.nodes) == node_ids and set(g.edges) == edge_pairs
    contract = g.nodes["dataset:szgws.gcjs:contract"]
    assert (
        contract["type"] == "dataset" and contract["system"] == "GCJS" and contract["resource"] == "A0201-001"
    )
    assert contract["label"] == "contract" and contract["namespace"] == "szgws.gcjs"
    assert g.graph["as_of"] == AS_OF
    assert {d["kind"] for _, _, d in g.edges(data=True)} == {"input", "output", "flow"}
    assert "application/graphml+xml" in files["graphml"].headers["Content-Type"]

    # node-link JSON
    data = json.loads(files["json"].data)
    h = nx.node_link_graph(data, directed=True, multigraph=False)
    assert set(h.nodes) == node_ids and set(h.edges) == edge_pairs and data["graph"]["as_of"] == AS_OF

    # PROV-JSON: datasets are entities, jobs activities, systems agents
    doc = prov.model.ProvDocument.deserialize(content=files["prov"].data.decode("utf-8"), format="json")
    records = doc.get_records()
    kinds = {}
    for record in records:
        kinds.setdefault(type(record).__name__, []).append(record)
    datasets = {n for n in node_ids if n.startswith("dataset:")}
    jobs = {n for n in node_ids if n.startswith("job:")}
    assert len(kinds["ProvEntity"]) == len(datasets) + 1  # plus the export's own description
    assert len(kinds["ProvActivity"]) == len(jobs)
    assert len(kinds["ProvAgent"]) >= 10
    assert len(kinds["ProvUsage"]) == sum(1 for e in graph["edges"] if e["kind"] == "input")
    assert len(kinds["ProvGeneration"]) == sum(1 for e in graph["edges"] if e["kind"] == "output")
    assert kinds["ProvDerivation"] and kinds["ProvAttribution"]
    labels = {str(r.label) for r in kinds["ProvEntity"] if r.label}
    assert "negative_list" in labels

    # CSV: UTF-8 with BOM, one row per edge, Chinese intact
    raw = files["csv"].data
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert {(r["source"], r["target"]) for r in rows} == edge_pairs
    assert {r["as_of"] for r in rows} == {AS_OF}
    system_rows = list(
        csv.DictReader(io.StringIO(export(client, "csv", level="system").data.decode("utf-8-sig")))
    )
    assert any("合同履约评价" in (r["source_name"] + r["target_name"]) for r in system_rows)  # Chinese intact

    dot = files["dot"].data.decode("utf-8")
    assert dot.startswith("digraph lineage {") and dot.count(" -> ") == len(edge_pairs)

    # the same as_of twice: byte-identical, even after more lineage arrived later
    later = lineage_demo.events()[-1] | {
        "eventTime": "2026-10-01T00:00:00Z",
        "run": {"runId": "0b5e3c2e-8c9d-4e07-9d3b-1b5d7c0b1f00"},
    }
    sent = client.post("/api/v1/lineage", json=later, headers=make_token("contributor"))
    assert sent.status_code == 201
    for fmt, first in files.items():
        again = export(client, fmt)
        assert again.data == first.data, fmt
        assert again.headers["X-Audit-Head"] != first.headers["X-Audit-Head"]

    # a neighbourhood export holds just that neighbourhood
    part = nx.read_graphml(
        io.BytesIO(
            export(
                client, "graphml", node="dataset:szgws.clbm:material_code", direction="downstream", depth=2
            ).data
        )
    )
    assert set(part.nodes) == {
        "dataset:szgws.clbm:material_code",
        "job:szgws.cggl:enter_purchase_order",
        "job:szgws.jcys:inspect_delivery",
        "job:szgws.ewm:sync_material_codes",
        "dataset:szgws.cggl:purchase_order",
        "dataset:szgws.jcys:delivery_inspection",
        "dataset:szgws.ewm:material_code_replica",
    }
    assert client.get("/api/v1/lineage/export?format=xlsx").status_code == 422


def test_cli_export_writes_file_and_manifest(runner, demo, tmp_path):
    for fmt, name in EXTS.items():
        out = tmp_path / fmt
        result = runner(["lineage", "export", "--format", fmt, "--as-of", AS_OF, "--out", out])
        assert result.exit_code == 0, result.output
        manifest = json.loads((out / "manifest.json").read_text("utf-8"))
        assert list(manifest) == [
            "generated_at",
            "as_of",
            "format",
            "query",
            "nodes",
            "edges",
            "audit_head",
            "files",
            "entry",
            "checkpoint",
            "inclusion",
        ]
        assert manifest["as_of"] == AS_OF and manifest["format"] == fmt
        # v1.1: the export is itself an audit entry, proved included in a signed checkpoint
        assert (
            manifest["entry"]["action"] == "export"
            and manifest["entry"]["after"]["sha256"] == (manifest["files"][name]["sha256"])
        )
        assert manifest["inclusion"]["tree_size"] >= manifest["entry"]["seq"]
        assert runner(["verify-export", out]).exit_code == 0
        assert manifest["query"] == {"node": None, "direction": None, "depth": None, "level": "dataset"}
        assert len(manifest["audit_head"]) == 64
        body = (out / name).read_bytes()
        assert manifest["files"] == {name: {"sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)}}
        assert manifest["nodes"] > 30 and manifest["edges"] > 30
        again = runner(["lineage", "export", "--format", fmt, "--as-of", AS_OF, "--out", tmp_path / "again"])
        assert again.exit_code == 0
        assert (tmp_path / "again" / name).read_bytes() == body, fmt


def test_cli_export_query_options_and_errors(runner, demo, tmp_path):
    out = tmp_path / "up"
    result = runner(
        [
            "lineage",
            "export",
            "--format",
            "json",
            "--node",
            "dataset:szgws.blxw:negative_list",
            "--direction",
            "up",
            "--depth",
            "2",
            "--as-of",
            "2025-12-31",
            "--out",
            out,
        ]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["query"] == {
        "node": "dataset:szgws.blxw:negative_list",
        "direction": "upstream",
        "depth": 2,
        "level": "dataset",
    }
    data = json.loads((out / "lineage.json").read_text())
    assert {n["id"] for n in data["nodes"]} == {
        "dataset:szgws.blxw:negative_list",
        "job:szgws.blxw:compile_negative_list",
        "dataset:szgws.blxw:bad_conduct",
    }
    bad = runner(["lineage", "export", "--format", "csv", "--as-of", "last tuesday", "--out", tmp_path / "x"])
    assert bad.exit_code != 0 and "--as-of must be an ISO 8601" in bad.output and "as_of" not in bad.output
    missing = runner(
        ["lineage", "export", "--format", "csv", "--node", "dataset:no:such", "--out", tmp_path / "y"]
    )
    assert missing.exit_code == 1 and "no lineage node" in missing.output
    orphan = runner(["lineage", "export", "--format", "csv", "--depth", "2", "--out", tmp_path / "z"])
    assert orphan.exit_code == 2
    todo = runner(["lineage", "uncatalogued", "--json"])
    assert todo.exit_code == 0
    assert "dataset:szgws.gcjs:tender_eligibility" in {i["id"] for i in json.loads(todo.stdout)}


def test_cli_export_of_a_system_node_speaks_in_options(runner, demo, tmp_path):
    """--node system:X without --level answered 'ask with level=system' (the API's words)."""
    out = tmp_path / "sys"
    result = runner(["lineage", "export", "--format", "json", "--node", "system:GCJS", "--out", out])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["query"]["level"] == "system" and manifest["nodes"] >= 2
    wrong = runner(
        ["lineage", "export", "--format", "json", "--node", "system:GCJS", "--level", "dataset", "--out", out]
    )
    assert wrong.exit_code == 1
    assert "ask with --level system" in wrong.output and "level=system" not in wrong.output


# --- the API's signed export (POST): audited, zipped with its manifest, checked like the CLI's ------------

ROOT = Path(__file__).resolve().parents[2]
VERIFIER = ROOT / "docs" / "auditor" / "yima_verify.py"


def standalone(*args):
    return subprocess.run(
        [sys.executable, str(VERIFIER), *map(str, args)], capture_output=True, text=True, timeout=120
    )


def signed_export(client, headers, fmt="graphml", **params):
    response = client.post("/api/v1/lineage/export", query_string={"format": fmt, **params}, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)[:500]
    return response


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rezip(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, path.name)
    return target


def test_api_signed_export_is_audited_zipped_and_verifies(client, demo, make_token, runner, config, tmp_path):
    viewer = make_token("viewer", "审计员")
    before = client.get("/api/v1/audit?per_page=1").get_json()["total"]
    plain = export(client, "graphml")
    assert client.get("/api/v1/audit?per_page=1").get_json()["total"] == before  # a GET records nothing
    anonymous = client.post("/api/v1/lineage/export", query_string={"format": "graphml", "as_of": AS_OF})
    assert anonymous.status_code == 401 and "token" in anonymous.get_json()["message"]

    r = signed_export(client, viewer, as_of=AS_OF)
    assert (
        r.mimetype == "application/zip"
        and r.headers["X-Content-SHA256"] == hashlib.sha256(r.data).hexdigest()
    )
    seq, size = int(r.headers["X-Audit-Entry"]), int(r.headers["X-Audit-Tree-Size"])
    assert seq == before + 1 and size >= seq
    assert r.headers["X-Audit-Head"] == plain.headers["X-Audit-Head"]
    assert r.headers["Link"] == f'</api/v1/audit/proof?seq={seq}&size={size}>; rel="inclusion-proof"'
    assert f"lineage-graphml-{seq}.zip" in r.headers["Content-Disposition"]
    files = unzip(r.data)
    assert sorted(files) == ["lineage.graphml", "manifest.json"]
    assert files["lineage.graphml"] == plain.data  # the very bytes the GET answers for this as_of
    manifest = json.loads(files["manifest.json"])
    assert list(manifest)[-3:] == ["entry", "checkpoint", "inclusion"] and manifest["as_of"] == AS_OF
    entry = manifest["entry"]
    assert (entry["seq"], entry["action"], entry["actor"]) == (seq, "export", "审计员")
    assert entry["after"]["sha256"] == hashlib.sha256(plain.data).hexdigest()
    assert manifest["inclusion"]["tree_size"] == size
    # Location: the entry with its proof, as the log itself shows it
    shown = client.get(r.headers["Location"]).get_json()
    assert shown["entry"] == entry

    (tmp_path / "export.zip").write_bytes(r.data)
    out = runner(["verify-export", tmp_path / "export.zip"])
    assert out.exit_code == 0 and "ok    signature" in out.output, out.output
    key = signer_for(config).key
    proc = standalone("export", tmp_path / "export.zip", "--key", key)
    assert proc.returncode == 0 and proc.stdout.startswith("ok: export intact"), proc.stderr
    folder = tmp_path / "unzipped"
    zipfile.ZipFile(tmp_path / "export.zip").extractall(folder)
    out = runner(["verify-export", folder, "--key", key, "--against-log"])
    assert out.exit_code == 0 and "ok    consistency" in out.output, out.output


def test_api_signed_export_tampering_is_caught_and_named(client, make_token, runner, config, tmp_path):
    r = signed_export(client, make_token("contributor"), fmt="json")
    key = signer_for(config).key
    for what, (tamper, step) in TAMPERING.items():
        folder = tmp_path / what.replace(" ", "-")
        folder.mkdir()
        for name, data in unzip(r.data).items():
            (folder / name).write_bytes(data)
        manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
        tamper(folder, manifest)
        (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
        target = rezip(folder, tmp_path / f"{folder.name}.zip")
        out = runner(["verify-export", target])
        assert out.exit_code == 1 and f"FAIL  {step}:" in out.output, (what, out.output)
        proc = standalone("export", target, "--key", key)
        assert proc.returncode == 1 and f"FAIL {step}:" in proc.stderr, (what, proc.stderr)
    (tmp_path / "cut.zip").write_bytes(r.data[: len(r.data) // 2])
    out = runner(["verify-export", tmp_path / "cut.zip"])
    assert out.exit_code == 1 and "FAIL  manifest: " in out.output and "readable zip" in out.output
    assert standalone("export", tmp_path / "cut.zip", "--key", key).returncode == 1


def test_api_signed_export_made_before_a_rewrite_fails_consistency_from_outside(
    live_server, db, config, make_token, runner, tmp_path
):
    token = make_token("viewer")["Authorization"]
    request = urllib.request.Request(
        live_server + "/api/v1/lineage/export?format=csv", method="POST", headers={"Authorization": token}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 201
        (tmp_path / "export.zip").write_bytes(response.read())
    key = signer_for(config).key
    proc = standalone("export", tmp_path / "export.zip", "--key", key, "--log", live_server)
    assert proc.returncode == 0 and "today's log" in proc.stdout, proc.stderr
    make_token("viewer")  # one more entry after the export

    rewrite(db, 1, actor="someone else")  # the token's creation, before the export

    assert runner(["verify-export", tmp_path / "export.zip"]).exit_code == 0  # honest on its own
    out = runner(["verify-export", tmp_path / "export.zip", "--against-log"])
    assert out.exit_code == 1 and "FAIL  consistency: today's log" in out.output, out.output
    proc = standalone("export", tmp_path / "export.zip", "--key", key, "--log", live_server)
    assert proc.returncode == 1 and proc.stderr.startswith("FAIL consistency:"), proc.stderr


def test_api_signed_export_is_documented(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    post = paths["/api/v1/lineage/export"]["post"]
    assert "application/zip" in post["responses"]["201"]["content"]
    assert {"X-Audit-Entry", "Location", "Link"} <= set(post["responses"]["201"]["headers"])
    assert {p["name"] for p in post["parameters"]} >= {"format", "as_of", "node"}
    assert "get" in paths["/api/v1/lineage/export"] and "get" in paths["/api/v1/audit/{seq}"]
