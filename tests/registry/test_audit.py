"""The audit chain: the contract's hash rule, atomicity, tamper detection, concurrent writers."""

import hashlib
import json
import threading

import pytest
from sqlalchemy import text

from catalog import organizations
from registry import audit
from registry.actors import Actor
from registry.errors import Invalid
from registry.jsonutil import canonical


def recompute(entries):
    """An auditor's independent check, written from the contract's paragraph alone."""
    prev = "0" * 64
    for e in sorted(entries, key=lambda e: e["seq"]):
        body = {k: v for k, v in e.items() if k not in ("hash", "prev_hash")}
        canon = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.sha256((prev + "\n" + canon).encode("utf-8")).hexdigest()
        if e["prev_hash"] != prev or e["hash"] != digest:
            return False, e["seq"]
        prev = digest
    return True, prev


def _create(db, code, name="测试单位", actor="tester"):
    with db.writer() as s:
        organizations.create(s, {"code": code, "name": name}, actor=actor)


def test_audit_chain_recomputes_from_the_api_alone(client, db, steward):
    for i in range(3):
        assert (
            client.post(
                "/api/v1/organizations", json={"code": f"ORG-{i}", "name": f"单位{i}"}, headers=steward
            ).status_code
            == 201
        )
    client.patch("/api/v1/organizations/ORG-1", json={"name": "单位一（改名）"}, headers=steward)
    client.delete("/api/v1/organizations/ORG-2", headers=steward)
    entries = client.get("/api/v1/audit?per_page=1000").get_json()["items"]
    assert [e["action"] for e in entries][-5:] == ["create", "create", "create", "update", "delete"]
    assert entries[-1]["before"]["code"] == "ORG-2" and entries[-1]["after"] is None
    assert all(e["at"].endswith("Z") for e in entries)
    ok, head = recompute(entries)
    assert ok
    assert client.get("/api/v1/audit/verify").get_json() == {
        "ok": True,
        "count": len(entries),
        "head": head,
        "first_bad_seq": None,
        "problems": [],
    }
    assert client.get("/api/v1/health").get_json()["audit_head"] == head


def test_audit_actor_is_the_token_name(client, make_token):
    headers = make_token("steward", "王工-数据管理员")
    client.post("/api/v1/organizations", json={"code": "ORG-A", "name": "甲"}, headers=headers)
    entry = client.get("/api/v1/audit?entity_type=organization&entity_key=ORG-A").get_json()["items"][0]
    assert entry["actor"] == "王工-数据管理员"


def test_audit_rolled_back_change_leaves_no_entry(db):
    _create(db, "KEEP")
    with db.session() as s:
        before = audit.head(s)
    with pytest.raises(Invalid):
        with db.writer() as s:
            organizations.create(s, {"code": "BAD", "name": "坏", "parent": "NOPE"}, actor="t")
    with pytest.raises(RuntimeError):
        with db.writer() as s:
            from catalog.models import Organization

            s.add(Organization(code="HALF", name="一半", kind="other"))
            audit.record(
                s,
                actor="t",
                action="create",
                entity_type="organization",
                entity_key="HALF",
                before=None,
                after={},
            )
            raise RuntimeError("crash before commit")
    with db.session() as s:
        assert audit.head(s) == before
        assert s.execute(text("SELECT count(*) FROM organization WHERE code IN ('BAD','HALF')")).scalar() == 0


def test_audit_verify_names_a_tampered_entry(db, runner):
    for i in range(4):
        _create(db, f"T{i}", name=f"单位{i}")
    with db.writer() as s:
        s.execute(text("UPDATE audit_entry SET actor = 'mallory' WHERE seq = 2"))
        s.commit()
    result = runner(["audit", "verify"])
    assert result.exit_code == 1
    assert "seq 2" in result.output
    with db.session() as s:
        assert audit.verify(s).first_bad_seq == 2


def test_audit_verify_catches_an_entity_edited_in_the_database(db, runner):
    _create(db, "EDIT", name="原名")
    _create(db, "OTHER", name="其他")
    with db.writer() as s:
        s.execute(text("UPDATE organization SET name = '被改' WHERE code = 'EDIT'"))
        s.commit()
    result = runner(["audit", "verify"])
    assert result.exit_code == 1
    assert "'EDIT' was changed outside Yima" in result.output
    assert "seq 1" in result.output  # the entry whose `after` no longer holds


def test_audit_verify_catches_rows_deleted_or_inserted_behind_its_back(db):
    _create(db, "GONE")
    with db.writer() as s:
        s.execute(text("DELETE FROM organization WHERE code = 'GONE'"))
        s.execute(
            text(
                "INSERT INTO organization (code, name, kind, created_at, updated_at) "
                "VALUES ('SNEAK', '偷偷', 'other', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        s.commit()
    with db.session() as s:
        result = audit.verify(s)
    assert not result.ok
    assert any("'GONE' was deleted" in p for p in result.problems)
    assert any("'SNEAK' exists but no audit entry" in p for p in result.problems)


def test_audit_verify_catches_a_removed_entry(db):
    for i in range(3):
        _create(db, f"R{i}")
    with db.writer() as s:
        s.execute(text("DELETE FROM audit_entry WHERE seq = 2"))
        s.commit()
    with db.session() as s:
        result = audit.verify(s, check_state=False)
    assert not result.ok and result.first_bad_seq == 3


def test_audit_concurrent_writers_never_fork_the_chain(db):
    errors = []

    def writer(n):
        try:
            for i in range(8):
                _create(db, f"C{n}-{i}", actor=f"writer-{n}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with db.session() as s:
        result = audit.verify(s)
        seqs = [r[0] for r in s.execute(text("SELECT seq FROM audit_entry ORDER BY seq"))]
    assert result.ok and result.count == 48
    assert seqs == list(range(1, 49))


def test_audit_list_pages_filtered_entries_in_the_envelope(client, db, steward):
    for i in range(5):
        _create(db, f"PAGE-{i}", actor="pager")
    _create(db, "OTHER", actor="someone-else")
    with db.session() as s:
        newest = audit.list_entries(s, actor="pager", page=2, per_page=2, newest_first=True)
    assert (newest.total, newest.page, newest.per_page) == (5, 2, 2)
    assert [e.entity_key for e in newest.items] == ["PAGE-2", "PAGE-1"]
    body = client.get("/api/v1/audit?actor=pager&page=3&per_page=2").get_json()
    assert {k: body[k] for k in ("total", "page", "per_page")} == {"total": 5, "page": 3, "per_page": 2}
    assert [e["entity_key"] for e in body["items"]] == ["PAGE-4"]


@pytest.mark.parametrize(
    "actor",
    [
        "plain",
        Actor("张三", "ORG-1"),
        Actor("监理", "SUP-2", request=42),
        Actor('quote " and \\ back', None, request=7),
    ],
)
@pytest.mark.parametrize("before", [None, {"x": [1, None, True, 2.5], "名": "中文\n\t", "z": {}}])
def test_the_fast_hash_body_is_the_contracts_canonical_body(actor, before):
    """The write path splices before/after into the hashed text; it must be exactly canonical(body())."""
    after = {"opened": [["dataset:a:b", "job:a:j", "input"]], "emoji": "🙂", "big": 2**60, "neg": -0.0}
    entry = audit.next_entry(
        (41, "f" * 64),
        actor=actor,
        action="update",
        entity_type="resource",
        entity_key="R-1",
        before=before,
        after=after,
    )
    assert audit.canonical_body(entry) == canonical(entry.body())
    assert entry.hash == audit.entry_hash(entry.prev_hash, entry.body())
