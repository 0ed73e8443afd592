"""The audit evidence in the browse pages, on SQLite and PostgreSQL: the overview's signed checkpoint and key
fingerprint, an entry's page with its inclusion proof, and a pasted checkpoint checked against today's log
(honest, forged, unreadable, and after the malicious operator's rewrite)."""

from __future__ import annotations

import base64
import hashlib
import html
import importlib.util
import re
from pathlib import Path

from catalog import organizations
from registry.signed_note import signer_for
from tests.registry.evidence_helpers import rewrite

VERIFIER = Path(__file__).resolve().parents[2] / "docs" / "auditor" / "yima_verify.py"


def standalone_verifier():
    """docs/auditor/yima_verify.py as a module: the auditor's own functions, not Yima's."""
    spec = importlib.util.spec_from_file_location("yima_verify", VERIFIER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _create(db, n, prefix="O", actor="王工"):
    for i in range(n):
        with db.writer() as s:
            organizations.create(s, {"code": f"{prefix}{i}", "name": f"单位{prefix}{i}"}, actor=actor)


def text_of(page: str, element_id: str) -> str:
    """The text inside the element with ``id`` (tags dropped, entities decoded)."""
    m = re.search(rf'id="{element_id}"[^>]*>(.*?)</(dd|code|pre|p|div|ol|span)>', page, re.S)
    assert m, element_id
    return html.unescape(re.sub(r"<[^>]+>", "", m.group(1)))


def csrf(client) -> str:
    page = client.get("/audit").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_browse_overview_shows_the_signed_checkpoint_and_key_fingerprint(client, db, config):
    _create(db, 4)
    page = client.get("/").get_data(as_text=True)
    api = client.get("/api/v1/audit/checkpoint").get_json()  # the same size: the note shown on the page
    signer = signer_for(config)
    assert text_of(page, "checkpoint-size") == "4"
    assert text_of(page, "checkpoint-root") == api["root"]
    assert text_of(page, "verifier-key") == api["key"] == signer.key
    fingerprint = hashlib.sha256(base64.b64decode(api["key"].split("+", 2)[2])).hexdigest()
    assert text_of(page, "key-fingerprint") == fingerprint
    assert text_of(page, "checkpoint-note") == api["note"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+08:00", text_of(page, "checkpoint-time"))
    download = client.get("/audit/checkpoints/4.txt")
    assert download.status_code == 200 and download.data == api["note"].encode()
    assert (
        download.mimetype == "text/plain"
        and "yima-checkpoint-4.txt" in download.headers["Content-Disposition"]
    )
    assert client.get("/audit/checkpoints/3.txt").status_code == 404  # never issued
    english = client.get("/?lang=en").get_data(as_text=True)
    assert "Latest signed checkpoint" in english and "Key fingerprint (SHA-256)" in english


def test_browse_entry_page_offers_a_proof_the_auditors_verifier_accepts(client, db):
    _create(db, 6)
    page = client.get("/audit/3").get_data(as_text=True)
    api = client.get("/api/v1/audit/3").get_json()
    entry = api["entry"]
    v = standalone_verifier()
    assert text_of(page, "entry-hash") == entry["hash"] and v.entry_hash_ok(entry)
    leaf = bytes.fromhex(text_of(page, "leaf-hash"))
    assert leaf == v.leaf_of(entry["hash"])
    size, index = int(text_of(page, "tree-size")), int(text_of(page, "leaf-index"))
    path = [base64.b64decode(h) for h in re.findall(r"<li><code>([^<]+)</code></li>", page)]
    _, signed_size, root = v.check_note(text_of(page, "checkpoint-note"), text_of(page, "verifier-key"))
    assert (size, index, signed_size) == (6, 2, 6) and path
    assert v.inclusion_ok(index, size, leaf, path, root)
    assert 'href="/api/v1/audit/proof?seq=3&amp;size=6"' in page
    assert 'class="twin" href="/api/v1/audit/3"' in page
    assert "organization" in text_of(page, "entry-diff") or "单位O2" in page
    assert client.get("/audit/99").status_code == 404
    listed = client.get("/audit").get_data(as_text=True)
    assert 'href="/audit/3"' in listed  # each entry in the history links its page


def test_browse_pasted_checkpoint_honest_forged_and_unreadable(client, db):
    _create(db, 3)
    note = client.get("/api/v1/audit/checkpoint").get_json()["note"]
    _create(db, 2, prefix="N")
    token = csrf(client)
    # a textarea sends CRLF line ends: the note still verifies
    r = client.post("/audit", data={"csrf_token": token, "note": note.replace("\n", "\r\n")})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and 'data-verdict="extends"' in page
    assert text_of(page, "check-signature").startswith("签名有效")
    assert "今天的日志（5 条，由记录重新计算）延续了这个 3 条记录的检查点" in text_of(
        page, "check-consistency"
    )

    forged = note.replace("\n3\n", "\n2\n")
    page = client.post("/audit", data={"csrf_token": token, "note": forged}).get_data(as_text=True)
    assert 'data-verdict="unsigned"' in page and text_of(page, "check-signature").startswith("签名无效")
    assert 'id="check-between"' not in page  # an unsigned note says nothing about where the log changed

    r = client.post("/audit", data={"csrf_token": token, "note": "hello"})
    assert r.status_code == 422 and text_of(r.get_data(as_text=True), "check-error").startswith(
        "无法读取该检查点"
    )
    r = client.post("/audit", data={"csrf_token": token, "note": "  "})
    assert r.status_code == 422
    assert client.post("/audit", data={"note": note}).status_code == 400  # no CSRF token
    r = client.post("/audit?lang=en", data={"csrf_token": token, "note": note})
    assert "Signature valid" in r.get_data(as_text=True)


def test_browse_pasted_checkpoint_after_a_rewrite_says_where_the_log_changed(client, db):
    _create(db, 10, actor="王工")
    client.get("/api/v1/audit/checkpoint")  # size 10, in the history
    _create(db, 5, prefix="B", actor="李工")
    kept = client.get("/api/v1/audit/checkpoint").get_json()["note"]  # size 15: the auditor keeps it
    _create(db, 3, prefix="C")

    rewrite(db, 13, actor="王工")

    page = client.post("/audit", data={"csrf_token": csrf(client), "note": kept}).get_data(as_text=True)
    assert 'class="verdict bad"' in page and 'data-verdict="changed"' in page
    assert text_of(page, "check-signature").startswith("签名有效")
    assert "今天的日志不再延续这个 15 条记录的检查点" in text_of(page, "check-consistency")
    between = text_of(page, "check-between")
    assert "记录数为 10 的检查点（仍被延续）与记录数为 15 的检查点（不再被延续）之间" in between
    assert "第 11–15 条记录中有被篡改的" in between
    overview = client.get("/").get_data(as_text=True)  # size 18 was never issued: nothing to compare yet
    assert text_of(overview, "checkpoint-size") == "18"
