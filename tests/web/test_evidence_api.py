"""``/api/v1/audit/checkpoint|key|proof|consistency`` and ``yima audit checkpoint|key``: what an auditor fetches,
checked by an independent verifier (docs/auditor/yima_verify.py) against a real server."""

import base64
import hashlib
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from catalog import organizations
from registry import checkpoints, merkle
from registry.config import Config
from web import create_app

VERIFIER = Path(__file__).resolve().parents[2] / "docs" / "auditor" / "yima_verify.py"


def _create(db, n, prefix="O"):
    for i in range(n):
        with db.writer() as s:
            organizations.create(s, {"code": f"{prefix}{i}", "name": f"单位{i}"}, actor="tester")


def _leaf(entry_hash):
    return hashlib.sha256(b"\x00" + bytes.fromhex(entry_hash)).digest()


def _node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def _root(leaves):  # RFC 9162 §2.1.1 by definition, independent of the code under test
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return _node(_root(leaves[:k]), _root(leaves[k:]))


def test_evidence_api_checkpoint_is_a_signed_note_over_the_entries_root(client, db):
    _create(db, 5)
    cp = client.get("/api/v1/audit/checkpoint").get_json()
    assert set(cp) == {"origin", "size", "root", "note", "key"} and cp["size"] == 5
    entries = client.get("/api/v1/audit?per_page=100").get_json()["items"]
    assert base64.b64decode(cp["root"]) == _root([_leaf(e["hash"]) for e in entries])
    body, sig = cp["note"].split("\n\n")
    assert body.split("\n") == [cp["origin"], "5", cp["root"]]
    name, key_id, key_b64 = cp["key"].split("+", 2)
    raw_sig = base64.b64decode(sig.rstrip("\n").split(" ")[2])
    assert sig.startswith(f"\u2014 {name} ") and raw_sig[:4].hex() == key_id
    Ed25519PublicKey.from_public_bytes(base64.b64decode(key_b64)[1:]).verify(
        raw_sig[4:], (body + "\n").encode()
    )
    assert client.get("/api/v1/audit/key").get_json() == {"key": cp["key"]}


def test_evidence_api_issues_each_size_once_into_the_history(client, db):
    _create(db, 2)
    first = client.get("/api/v1/audit/checkpoint").get_json()
    assert client.get("/api/v1/audit/checkpoint").get_json() == first
    _create(db, 1, prefix="N")
    assert client.get("/api/v1/audit/checkpoint").get_json()["size"] == 3
    with db.session() as s:
        assert [(c.size, c.note) for c in checkpoints.history(s)][0] == (2, first["note"])
        assert [c.size for c in checkpoints.history(s)] == [2, 3]


def test_evidence_api_every_inclusion_and_consistency_proof_verifies(client, db):
    _create(db, 11)
    entries = client.get("/api/v1/audit?per_page=100").get_json()["items"]
    leaves = [_leaf(e["hash"]) for e in entries]
    for n in range(1, 12):
        root = _root(leaves[:n])
        for seq in range(1, n + 1):
            proof = client.get(f"/api/v1/audit/proof?seq={seq}&size={n}").get_json()
            assert proof["seq"] == seq and proof["leaf_index"] == seq - 1 and proof["tree_size"] == n
            assert proof["leaf_hash"] == leaves[seq - 1].hex()
            path = [base64.b64decode(p) for p in proof["path"]]
            assert merkle.verify_inclusion(seq - 1, n, leaves[seq - 1], path, root)
        for m in range(0, n + 1):
            proof = client.get(f"/api/v1/audit/consistency?from={m}&to={n}").get_json()
            assert (proof["from"], proof["to"]) == (m, n)
            path = [base64.b64decode(p) for p in proof["path"]]
            old = _root(leaves[:m]) if m else merkle.EMPTY_ROOT
            assert merkle.verify_consistency(m, n, old, root, path), (m, n)
    latest = client.get("/api/v1/audit/proof?seq=4").get_json()
    assert latest["tree_size"] == 11
    assert client.get("/api/v1/audit/consistency?from=3").get_json()["to"] == 11


@pytest.mark.parametrize(
    "url, status, field",
    [
        ("/api/v1/audit/proof?seq=0", 422, "seq"),
        ("/api/v1/audit/proof", 422, "seq"),
        ("/api/v1/audit/proof?seq=abc", 422, "seq"),
        ("/api/v1/audit/proof?seq=1&size=99", 422, "size"),
        ("/api/v1/audit/proof?seq=3&size=2", 422, "seq"),
        ("/api/v1/audit/proof?seq=9", 404, None),
        ("/api/v1/audit/proof?seq=99999999999999999999", 422, "seq"),
        ("/api/v1/audit/consistency?from=3&to=2", 422, "from"),
        ("/api/v1/audit/consistency?from=1&to=99", 422, "to"),
        ("/api/v1/audit/consistency?from=-1", 422, "from"),
        ("/api/v1/audit/consistency?to=2", 422, "from"),
    ],
)
def test_evidence_api_bad_arguments_are_clear_errors(client, db, url, status, field):
    _create(db, 3)
    response = client.get(url)
    body = response.get_json()
    assert response.status_code == status, body
    assert body["code"] == status and body["message"]
    if field:
        assert field in json.dumps(body.get("errors", {})) or field in body["message"], body


def test_evidence_api_is_documented_and_gated_like_other_reads(client, tmp_path, database_url):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in (
        "/api/v1/audit/checkpoint",
        "/api/v1/audit/key",
        "/api/v1/audit/proof",
        "/api/v1/audit/consistency",
    ):
        assert "get" in paths[path], path
    params = {p["name"] for p in paths["/api/v1/audit/consistency"]["get"]["parameters"]}
    assert {"from", "to"} <= params
    closed = create_app(
        Config(
            database_url=database_url,
            secret_key="t",
            instance_path=str(tmp_path / "i"),
            read_requires_token=True,
        )
    )
    try:
        assert closed.test_client().get("/api/v1/audit/checkpoint").status_code == 401
    finally:
        closed.extensions["yima"].db.dispose()


def test_evidence_cli_checkpoint_prints_the_note_and_the_key_apart(runner, client, db, tmp_path):
    _create(db, 2)
    out = runner(["audit", "checkpoint"])
    cp = client.get("/api/v1/audit/checkpoint").get_json()
    assert (
        out.exit_code == 0 and out.stdout == cp["note"]
    )  # stdout is the note alone: `> file` keeps it intact
    assert f"key: {cp['key']}" in out.stderr and "fingerprint: " in out.stderr
    key = runner(["audit", "key"])
    assert key.stdout.strip() == cp["key"]
    assert (
        key.stderr.strip()
        == "fingerprint: " + hashlib.sha256(base64.b64decode(cp["key"].split("+", 2)[2])).hexdigest()
    )


def _run(*args):
    return subprocess.run(
        [sys.executable, str(VERIFIER), *map(str, args)], capture_output=True, text=True, timeout=120
    )


def _get(base, path):
    with urllib.request.urlopen(base + path, timeout=30) as r:
        return json.loads(r.read())


def test_evidence_standalone_verifier_checks_a_real_servers_output(live_server, db, tmp_path):
    _create(db, 6)
    old = _get(live_server, "/api/v1/audit/checkpoint")
    key = old["key"]
    (tmp_path / "old.txt").write_text(old["note"])
    _create(db, 7, prefix="L")
    new = _get(live_server, "/api/v1/audit/checkpoint")
    (tmp_path / "new.txt").write_text(new["note"])
    entry = _get(live_server, "/api/v1/audit?after_seq=4&per_page=1")["items"][0]
    (tmp_path / "entry.json").write_text(json.dumps(entry, ensure_ascii=False))
    (tmp_path / "proof.json").write_text(
        json.dumps(_get(live_server, f"/api/v1/audit/proof?seq=5&size={new['size']}"))
    )
    (tmp_path / "cons.json").write_text(
        json.dumps(_get(live_server, "/api/v1/audit/consistency?from=6&to=13"))
    )

    ok = [
        _run("checkpoint", tmp_path / "new.txt", "--key", key),
        _run("inclusion", "--key", key, "--checkpoint", tmp_path / "new.txt", "--entry", tmp_path / "entry.json",
             "--proof", tmp_path / "proof.json"),
        _run("consistency", "--key", key, "--old", tmp_path / "old.txt", "--new", tmp_path / "new.txt",
             "--proof", tmp_path / "cons.json"),
        _run("log", live_server, "--key", key, "--against", tmp_path / "old.txt", "--entries"),
    ]  # fmt: skip
    for proc in ok:
        assert proc.returncode == 0 and proc.stdout.startswith("ok: "), proc.stderr
    assert "its 13 entries re-hash and make its root" in ok[3].stdout

    entry["actor"] = "someone else"
    (tmp_path / "entry.json").write_text(json.dumps(entry, ensure_ascii=False))
    bad = _run("inclusion", "--key", key, "--checkpoint", tmp_path / "new.txt", "--entry", tmp_path / "entry.json",
               "--proof", tmp_path / "proof.json")  # fmt: skip
    assert bad.returncode == 1 and bad.stderr.startswith("FAIL entry:")
    bad = _run("consistency", "--key", key, "--old", tmp_path / "new.txt", "--new", tmp_path / "old.txt",
               "--proof", tmp_path / "cons.json")  # fmt: skip
    assert bad.returncode == 1 and bad.stderr.startswith("FAIL consistency:")
    (tmp_path / "forged.txt").write_text(old["note"].replace("\n6\n", "\n5\n"))
    bad = _run("checkpoint", tmp_path / "forged.txt", "--key", key)
    assert bad.returncode == 1 and bad.stderr.startswith("FAIL signature:")


def test_evidence_api_entry_with_its_proof_checks_out_in_the_standalone_verifier(client, db, tmp_path):
    _create(db, 9)
    found = client.get("/api/v1/audit/4").get_json()
    assert set(found) == {"entry", "checkpoint", "inclusion"}
    assert found["entry"] == client.get("/api/v1/audit?after_seq=3&per_page=1").get_json()["items"][0]
    current = client.get("/api/v1/audit/checkpoint").get_json()
    assert found["checkpoint"] == current["note"]  # the current checkpoint, and it is in the history
    assert found["inclusion"] == {
        k: v
        for k, v in client.get("/api/v1/audit/proof?seq=4&size=9").get_json().items()
        if k in ("leaf_index", "tree_size", "leaf_hash", "path")
    }
    (tmp_path / "entry.json").write_text(json.dumps(found, ensure_ascii=False), "utf-8")
    ok = _run("entry", tmp_path / "entry.json", "--key", current["key"])
    assert ok.returncode == 0 and ok.stdout == "ok: entry 4 is in the signed tree of 9 entries\n", ok.stderr
    found["entry"]["actor"] = "someone else"
    (tmp_path / "bad.json").write_text(json.dumps(found, ensure_ascii=False), "utf-8")
    bad = _run("entry", tmp_path / "bad.json", "--key", current["key"])
    assert bad.returncode == 1 and bad.stderr.startswith("FAIL entry:")
    for missing in ("/api/v1/audit/10", "/api/v1/audit/0"):
        response = client.get(missing)
        assert response.status_code == 404 and "no audit entry" in response.get_json()["message"]
