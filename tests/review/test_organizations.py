"""Tokens act for an organization: every write path (API, browse form, CLI, the lineage fast path) records it
in the audit entry, old entries keep their hashes, and an auditor re-hashing the API's entries agrees."""

from __future__ import annotations

import hashlib
import json
import re
import uuid

from sqlalchemy import select

from registry import audit
from registry.actors import Actor
from registry.audit import AuditEntry
from registry.tokens import Token
from tests.review.review_helpers import RESOURCE, audit_of


def _last(client, **query) -> dict:
    return audit_of(client, **query)[-1]


def test_an_api_write_records_the_token_organization_and_only_when_it_has_one(client, party, steward):
    assert (
        client.patch(
            f"/api/v1/resources/{RESOURCE}", json={"tags": ["建设单位"]}, headers=party["owner"]
        ).status_code
        == 200
    )
    entry = _last(client, entity_type="resource", entity_key=RESOURCE)
    assert (entry["actor"], entry["organization"]) == ("owner", "SZGWS-GCGL")
    assert "request" not in entry  # a direct write names no request
    assert (
        client.patch(f"/api/v1/resources/{RESOURCE}", json={"tags": ["无单位"]}, headers=steward).status_code
        == 200
    )
    plain = _last(client, entity_type="resource", entity_key=RESOURCE)
    assert plain["actor"] == "steward-1" and "organization" not in plain


def test_a_browse_form_records_the_logged_in_organization(client, party):
    secret = party["owner"]["Authorization"].split()[1]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(
        1
    )
    assert client.post("/login", data={"csrf_token": csrf, "token": secret}).status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert "SZGWS-GCGL" in page and 'id="who-org"' in page  # the header says whom the token acts for
    form = client.get(f"/catalog/{RESOURCE}/edit").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    current = client.get(f"/api/v1/resources/{RESOURCE}").get_json()
    data = {
        "csrf_token": csrf,
        "name": "招标公告（表单修订）",
        "summary": current["summary"],
        "category": current["category"],
        "provider": current["provider"],
        "share_type": current["share_type"],
        "security_grade": current["security_grade"],
        "status": current["status"],
    }
    assert client.post(f"/catalog/{RESOURCE}/edit", data=data).status_code == 302
    entry = _last(client, entity_type="resource", entity_key=RESOURCE)
    assert (entry["actor"], entry["organization"]) == ("owner", "SZGWS-GCGL")


def test_the_lineage_fast_path_records_the_organization(client, party):
    event = {
        "eventType": "COMPLETE",
        "eventTime": "2025-05-02T10:00:00Z",
        "producer": "https://example.org/yima-tests",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "site", "name": "material_intake"},
        "inputs": [{"namespace": "site", "name": "delivery_notes"}],
        "outputs": [{"namespace": "site", "name": "materials"}],
    }
    assert client.post("/api/v1/lineage", json=event, headers=party["contractor"]).status_code == 201
    entry = _last(client, entity_type="lineage_event")
    assert (entry["actor"], entry["organization"]) == ("contractor", "CSCEC3B")


def test_an_auditor_rehashing_the_api_entries_gets_the_stored_hashes(client, party, db):
    with db.writer() as s:  # an entry written the old way: a plain name, no organization
        audit.record(
            s, actor="legacy", action="note", entity_type="note", entity_key="1", before=None, after={"x": 1}
        )
        s.commit()
    client.patch(f"/api/v1/resources/{RESOURCE}", json={"tags": ["审计"]}, headers=party["owner"])
    entries = audit_of(client)
    assert any("organization" in e for e in entries) and any("organization" not in e for e in entries)
    prev = "0" * 64
    for e in entries:
        body = {k: v for k, v in e.items() if k not in ("hash", "prev_hash")}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert e["prev_hash"] == prev
        assert hashlib.sha256((prev + "\n" + text).encode()).hexdigest() == e["hash"], e["seq"]
        prev = e["hash"]
    assert client.get("/api/v1/audit/verify").get_json()["ok"]


def test_an_altered_organization_breaks_the_chain(client, party, db):
    client.patch(f"/api/v1/resources/{RESOURCE}", json={"tags": ["篡改"]}, headers=party["owner"])
    seq = _last(client, entity_type="resource", entity_key=RESOURCE)["seq"]
    with db.writer() as s:
        s.get(AuditEntry, seq).organization = "CSCEC3B"  # claim the contractor made it
        s.commit()
    result = client.get("/api/v1/audit/verify").get_json()
    assert result["ok"] is False and result["first_bad_seq"] == seq


def test_a_token_organization_is_in_its_audited_state_and_blocks_the_organization_delete(
    client, party, db, admin
):
    with db.session() as s:
        token = s.scalar(select(Token).where(Token.name == "supervisor"))
        assert token.snapshot() == {
            "name": "supervisor",
            "role": "contributor",
            "revoked": False,
            "organization": "SUP-DEMO",
        }
        assert "organization" not in s.scalar(select(Token).where(Token.name == "loner")).snapshot()
    refused = client.delete("/api/v1/organizations/SUP-DEMO", headers=admin)
    assert refused.status_code == 409 and "tokens" in refused.get_json()["message"]


def test_an_actor_is_a_plain_name_to_everything_else():
    who = Actor("王工", "SZGWS-GCGL")
    assert who == "王工" and f"{who}" == "王工" and type(str(who)) is str
    assert who.for_request(7).request == 7 and who.for_request(7).organization == "SZGWS-GCGL"
