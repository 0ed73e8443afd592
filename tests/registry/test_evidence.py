"""Signed exports and the malicious operator: what verify-export and verify --against catch, and name.

Exports are made here through a real audited entry (action ``export``) and ``evidence.bundle``,
as the lineage export will make them; the standalone verifier in docs/auditor checks the same folders.
"""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from catalog import organizations
from registry import audit, checkpoints, evidence, tree_check
from registry.signed_note import Checkpoint, VerifierKey, signer_for
from tests.registry.evidence_helpers import TAMPERING, rewrite

ROOT = Path(__file__).resolve().parents[2]
VERIFIER = ROOT / "docs" / "auditor" / "yima_verify.py"


def _create(db, code, actor="王工"):
    with db.writer() as s:
        organizations.create(s, {"code": code, "name": f"单位{code}"}, actor=actor)


def make_export(db, signer, folder: Path) -> dict:
    """An export folder as the CLI lineage export writes it: the file, then its audited entry and proofs."""
    body = json.dumps({"nodes": [{"id": "system:GIS"}], "edges": []}, ensure_ascii=False).encode() + b"\n"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lineage.json").write_bytes(body)
    with db.session() as s:
        head = audit.head(s)
    manifest = {
        "generated_at": "2026-03-01T08:00:00Z",
        "as_of": "2026-03-01T08:00:00Z",
        "format": "json",
        "query": {"node": None, "direction": None, "depth": None, "level": "dataset"},
        "nodes": 1,
        "edges": 0,
        "audit_head": head,
        "files": {"lineage.json": {"sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)}},
    }
    with db.writer() as s:
        entry = audit.record(
            s,
            actor="cli:auditor",
            action="export",
            entity_type="lineage_export",
            entity_key="lineage.json",
            before=None,
            after=evidence.export_after(manifest),
        )
        s.commit()
    with db.writer() as s:
        manifest.update(evidence.bundle(s, entry, signer))
        s.commit()
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), "utf-8")
    return manifest


def standalone(*args):
    return subprocess.run(
        [sys.executable, str(VERIFIER), *map(str, args)], capture_output=True, text=True, timeout=120
    )


def test_evidence_honest_export_verifies_step_by_step(db, config, runner, tmp_path):
    signer = signer_for(config)
    for i in range(5):
        _create(db, f"E{i}")
    manifest = make_export(db, signer, tmp_path / "export")
    entry = manifest["entry"]
    assert (
        entry["action"] == "export"
        and entry["after"]["sha256"] == manifest["files"]["lineage.json"]["sha256"]
    )
    assert manifest["inclusion"] == {"leaf_index": 5, "tree_size": 6, "path": manifest["inclusion"]["path"]}
    assert manifest["checkpoint"].split("\n")[:2] == [signer.origin, "6"]
    result = evidence.verify_export(tmp_path / "export", signer.key)
    assert result.ok, result
    assert [p.split(":")[0] for p in result.passed] == ["file hash", "entry", "inclusion", "signature"]
    out = runner(["verify-export", tmp_path / "export"])
    assert out.exit_code == 0, out.output
    assert "ok    signature" in out.output
    out = runner(["verify-export", tmp_path / "export", "--key", signer.key, "--against-log"])
    assert out.exit_code == 0 and "ok    consistency" in out.output, out.output
    proc = standalone("export", tmp_path / "export", "--key", signer.key)
    assert proc.returncode == 0, proc.stderr
    with db.session() as s:  # the export's checkpoint is in the history
        assert [c.size for c in checkpoints.history(s)] == [6]


@pytest.mark.parametrize("what", TAMPERING)
def test_evidence_tampering_with_an_export_is_caught_and_named(what, db, config, runner, tmp_path):
    signer = signer_for(config)
    _create(db, "T1")
    folder = tmp_path / "export"
    manifest = make_export(db, signer, folder)
    tamper, step = TAMPERING[what]
    tamper(folder, manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
    result = evidence.verify_export(folder, signer.key)
    assert not result.ok and result.failed_step == step, result
    out = runner(["verify-export", folder])
    assert out.exit_code == 1 and f"FAIL  {step}:" in out.output, out.output
    proc = standalone("export", folder, "--key", signer.key)
    assert proc.returncode == 1 and f"FAIL {step}:" in proc.stderr, proc.stderr


def test_evidence_export_checked_with_another_key_fails_at_the_signature(db, config, runner, tmp_path):
    _create(db, "K1")
    make_export(db, signer_for(config), tmp_path / "export")
    other = signer_for(config.__class__(database_url="sqlite://", instance_path=str(tmp_path / "elsewhere")))
    out = runner(["verify-export", tmp_path / "export", "--key", other.key])
    assert out.exit_code == 1 and "FAIL  signature: the note carries no signature by key" in out.output
    out = runner(["verify-export", tmp_path / "export", "--key", "not a key"])
    assert out.exit_code == 1 and out.output.startswith("error: a verifier key is")
    out = runner(["verify-export", tmp_path])
    assert out.exit_code == 1 and "FAIL  manifest:" in out.output


# --- the malicious operator ------------------------------------------------------------------


def test_evidence_malicious_operator_is_caught_by_checkpoints_that_left_the_building(
    db, config, runner, tmp_path
):
    signer = signer_for(config)
    for i in range(10):
        _create(db, f"A{i}", actor="王工")
    assert runner(["audit", "checkpoint", "--out", tmp_path / "size10.txt"]).exit_code == 0
    for i in range(5):
        _create(db, f"B{i}", actor="李工")  # seq 11–15; seq 13 is the one rewritten below
    assert runner(["audit", "checkpoint", "--out", tmp_path / "size15.txt"]).exit_code == 0
    make_export(db, signer, tmp_path / "export")  # seq 16, with a checkpoint of size 16
    for i in range(4):
        _create(db, f"C{i}")
    with db.writer() as s:
        checkpoints.remember(s, checkpoints.current(s, signer))  # size 20, as GET /checkpoint issues it
        s.commit()

    rewrite(db, 13, actor="王工")  # blame someone else for 李工's change

    with db.session() as s:
        chain = audit.verify(s)
        assert chain.ok and chain.count == 20  # the plain hash chain is intact: the rewrite is consistent
    out = runner(["audit", "verify", "--against", tmp_path / "size15.txt"])
    assert out.exit_code == 1
    assert "audit chain intact: 20 entries" in out.output  # the chain alone is fooled …
    assert "NO LONGER EXTENDS the checkpoint of size 15" in out.output  # … the checkpoint is not
    assert "changed between size 10" in out.output and "and size 15" in out.output
    assert "an entry with seq 11–15 was altered" in out.output
    out = runner(["audit", "verify", "--against", tmp_path / "size10.txt", "--key", signer.key, "--json"])
    report = json.loads(out.output)
    assert out.exit_code == 1 and report["ok"] is True and report["tree"]["changed_between"] == [10, 15]
    assert any("extends the checkpoint of size 10" in line for line in report["tree"]["report"])

    # the export made before the rewrite was honest: on its own it still verifies …
    assert runner(["verify-export", tmp_path / "export"]).exit_code == 0
    assert standalone("export", tmp_path / "export", "--key", signer.key).returncode == 0
    # … but today's log no longer extends its checkpoint
    out = runner(["verify-export", tmp_path / "export", "--against-log"])
    assert out.exit_code == 1 and "FAIL  consistency: today's log (20 entries) does not extend" in out.output
    result = evidence.verify_export(tmp_path / "export", signer.key, log=db.session())
    assert result.failed_step == "consistency"

    # a careful operator also rewrites the history: the checkpoint kept outside still catches it
    with db.writer() as s:
        s.execute(text("DELETE FROM audit_checkpoint"))
        s.commit()
    out = runner(["audit", "verify", "--against", tmp_path / "size15.txt"])
    assert out.exit_code == 1 and "NO LONGER EXTENDS the checkpoint of size 15" in out.output


def test_evidence_rewrite_without_rebuilding_the_tree_fails_plain_verify(db, runner):
    for i in range(6):
        _create(db, f"P{i}")
    rewrite(db, 2, actor="nobody", tree=False)
    out = runner(["audit", "verify"])
    assert out.exit_code == 1
    assert (
        "audit chain intact" in out.output
        and "the stored Merkle tree does not match the entries" in out.output
    )
    assert "the stored tree's row for leaf 1 (entry 2) differs" in out.output
    out = runner(["audit", "rebuild-tree"])
    assert out.exit_code == 0 and "6 leaves" in out.output
    out = runner(
        ["audit", "verify"]
    )  # the tree is whole again; no checkpoint was issued, so nothing binds the old log
    assert out.exit_code == 0 and "Merkle tree intact: 6 leaves" in out.output
    _create(db, "P6")  # and appends carry on
    with db.session() as s:
        assert tree_check.recompute(s).stored_ok


def test_evidence_verify_against_an_honest_checkpoint_passes_and_a_forged_one_fails(db, runner, tmp_path):
    for i in range(3):
        _create(db, f"H{i}")
    out = runner(["audit", "checkpoint", "--out", tmp_path / "cp.txt"])
    assert out.exit_code == 0 and "checkpoint of size 3 written" in out.stderr
    _create(db, "H3")
    out = runner(["audit", "verify", "--against", tmp_path / "cp.txt"])
    assert out.exit_code == 0, out.output
    assert "the log (4 entries) extends the checkpoint of size 3" in out.output
    forged = (tmp_path / "cp.txt").read_text().replace("\n3\n", "\n2\n")
    (tmp_path / "forged.txt").write_text(forged)
    out = runner(["audit", "verify", "--against", tmp_path / "forged.txt"])
    assert out.exit_code == 1 and "not signed by this log's key" in out.output
    # a note nobody signed says nothing about where the log changed
    assert "changed between" not in out.output
    report = json.loads(runner(["audit", "verify", "--against", tmp_path / "forged.txt", "--json"]).output)
    assert report["tree"]["against"] == {"size": 2, "signed_by": None, "verdict": "unsigned"}
    assert report["tree"]["changed_between"] is None
    (tmp_path / "junk.txt").write_text("hello\n")
    out = runner(["audit", "verify", "--against", tmp_path / "junk.txt"])
    assert (
        out.exit_code == 1
        and out.output.startswith("error: a signed note is")
        and "Traceback" not in out.output
    )


def test_evidence_checkpoint_event_for_the_webhooks(db, config):
    signer = signer_for(config)
    for i in range(3):
        _create(db, f"W{i}")
    with db.writer() as s:
        event = checkpoints.latest_event(s, signer)
        s.commit()
    assert set(event) == {"seq", "type", "timestamp", "data"}
    assert event["type"] == "audit.checkpoint" and event["seq"] == 3
    assert set(event["data"]) == {"origin", "size", "root", "note", "key"} and event["data"]["size"] == 3
    with db.session() as s:
        kept = checkpoints.get(s, 3)
        assert kept.note == event["data"]["note"] and kept.issued_at == event["timestamp"]
    with db.writer() as s:  # the same size again: the same event, from the history
        assert checkpoints.latest_event(s, signer) == event
    Checkpoint.parse(event["data"]["note"]).verify(VerifierKey.parse(signer.key))  # an ordinary checkpoint
