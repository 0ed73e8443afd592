"""Delivery to a real receiver: signed per Standard Webhooks, in seq order, retried, 410 disables, rolled back never sent."""

from __future__ import annotations

import logging
import re
import time

import pytest
from sqlalchemy import select

from catalog import organizations
from registry import audit
from registry.audit import AuditEntry
from webhooks.models import Webhook


def _deliveries(client, admin, webhook_id, **query):
    r = client.get(f"/api/v1/webhooks/{webhook_id}/deliveries", query_string=query, headers=admin)
    assert r.status_code == 200
    return r.get_json()


def _drain(loop, rounds=40, receiver=None, count=None):
    """Run the loop ``rounds`` times, waiting out the fast retry delays in between (or until the receiver
    has ``count`` requests; then once more, so that anything sent beyond them would show)."""
    for _ in range(rounds):
        loop.run_once()
        if receiver is not None and len(receiver.requests) >= count:
            time.sleep(0.15)
            loop.run_once()
            return
        time.sleep(0.12)


def test_delivery_is_signed_per_standard_webhooks_and_carries_the_audit_entry(
    client, admin, receiver, loop, hook, org
):
    made = hook(events=["organization.*"])
    org("JL-01")
    assert loop.run_once() == 1
    (got,) = receiver.wait_for(1)
    verified = got.verify(made["secret"])  # the standardwebhooks package checks id, timestamp and signature
    entry = client.get("/api/v1/audit", query_string={"entity_type": "organization"}).get_json()["items"][-1]
    assert verified == {"type": "organization.create", "timestamp": entry["at"], "data": entry}
    assert got.headers["webhook-id"] == f"msg_{made['id']}_{entry['seq']}"
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
    assert got.headers["webhook-signature"].startswith("v1,")
    assert got.headers["content-type"] == "application/json"
    log = _deliveries(client, admin, made["id"])
    assert log["total"] == 1 and log["items"][0]["status"] == "delivered"
    assert log["items"][0]["last_status_code"] == 200 and log["items"][0]["latency_ms"] > 0


def test_delivery_sends_only_matching_types_in_seq_order(client, admin, receiver, loop, hook, org, steward):
    made = hook(events=["organization.update", "organization.delete"])
    for code in ("A1", "A2", "A3"):
        org(code)
    for code in ("A1", "A2", "A3"):
        assert (
            client.patch(f"/api/v1/organizations/{code}", json={"name": "改名"}, headers=steward).status_code
            == 200
        )
    assert client.delete("/api/v1/organizations/A2", headers=steward).status_code == 204
    loop.run_once()
    got = receiver.wait_for(4)
    types = [r.json["type"] for r in got]
    seqs = [r.json["data"]["seq"] for r in got]
    assert types == ["organization.update"] * 3 + ["organization.delete"]
    assert seqs == sorted(seqs)
    hooked = client.get(f"/api/v1/webhooks/{made['id']}").get_json()
    head = client.get("/api/v1/audit", query_string={"per_page": 1000}).get_json()["items"][-1]["seq"]
    assert hooked["cursor_seq"] == head  # entries that do not match move the cursor too


def test_a_failure_stops_the_queue_until_the_retry_then_order_is_kept(
    client, admin, receiver, loop, hook, org
):
    made = hook(events=["organization.create"])
    receiver.answer("/hook", 500, 503)
    for code in ("B1", "B2", "B3"):
        org(code)
    _drain(loop, receiver=receiver, count=5)
    got = receiver.wait_for(5)
    codes = [r.json["data"]["entity_key"] for r in got]
    assert codes == ["B1", "B1", "B1", "B2", "B3"]  # nothing overtook the failing first message
    assert len({r.headers["webhook-id"] for r in got[:3]}) == 1  # the same id on every retry
    rows = {d["message_id"]: d for d in _deliveries(client, admin, made["id"])["items"]}
    first = rows[got[0].headers["webhook-id"]]
    assert first["status"] == "delivered" and first["attempts"] == 3
    assert client.get(f"/api/v1/webhooks/{made['id']}").get_json()["failing_since"] is None


def test_retry_after_on_429_is_honoured(client, admin, receiver, loop, hook, org, db):
    made = hook()
    receiver.answer("/hook", (429, {"Retry-After": "30"}))
    org("C1")
    loop.run_once()
    receiver.wait_for(1)
    with db.session() as s:
        webhook = s.get(Webhook, made["id"])
        wait = (webhook.next_attempt_at - webhook.failing_since).total_seconds()
    assert 29 <= wait <= 31  # the receiver's 30 s, not the schedule's 0.1 s
    pending = _deliveries(client, admin, made["id"], status="pending")["items"]
    assert pending[0]["last_status_code"] == 429 and "429" in pending[0]["last_error"]
    assert loop.run_once() == 0  # not due yet: nothing is sent before the time the receiver asked for


def test_410_gone_disables_the_webhook_at_once(client, admin, receiver, loop, hook, org):
    made = hook()
    receiver.answer("/hook", 410)
    org("D1")
    org("D2")
    _drain(loop, rounds=5)
    assert len(receiver.requests) == 1
    hooked = client.get(f"/api/v1/webhooks/{made['id']}").get_json()
    assert hooked["enabled"] is False and "410" in hooked["disabled_reason"]
    dead = _deliveries(client, admin, made["id"], status="dead")["items"]
    assert len(dead) == 1 and dead[0]["last_status_code"] == 410
    disabled = client.get(
        "/api/v1/audit", query_string={"entity_type": "webhook", "action": "disable"}
    ).get_json()
    assert disabled["total"] == 1 and disabled["items"][0]["actor"] == "yima-webhooks"


def test_retries_exhausted_disable_the_webhook_and_re_enabling_resumes_where_it_stopped(
    client, admin, receiver, loop, hook, org
):
    made = hook(events=["organization.create"])
    receiver.answer("/hook", *([502] * 4))  # the first try and all three retries of the fast schedule
    org("E1")
    org("E2")
    _drain(loop, receiver=receiver, count=4)
    assert len(receiver.requests) == 4
    hooked = client.get(f"/api/v1/webhooks/{made['id']}").get_json()
    assert hooked["enabled"] is False and "4 attempts failed" in hooked["disabled_reason"]
    assert "502" in hooked["disabled_reason"]
    r = client.patch(f"/api/v1/webhooks/{made['id']}", json={"enabled": True}, headers=admin)
    assert r.status_code == 200 and r.get_json()["enabled"] is True and "secret" not in r.get_json()
    _drain(loop, receiver=receiver, count=6)
    codes = [x.json["data"]["entity_key"] for x in receiver.requests]
    assert codes == ["E1"] * 5 + ["E2"]


@pytest.mark.parametrize("status", [500, 502, 503, 504, 404, 301])
def test_every_non_2xx_answer_is_retried(client, receiver, loop, hook, org, status):
    hook()
    receiver.answer("/hook", status)
    org("F1")
    _drain(loop, receiver=receiver, count=2)
    assert [r.json["data"]["entity_key"] for r in receiver.requests] == ["F1", "F1"]


def test_a_receiver_that_is_down_gets_everything_once_it_is_back(client, receiver, loop, hook, org):
    hook(events=["organization.create"])
    receiver.down()
    org("G1")
    org("G2")
    loop.run_once()
    receiver.up()
    _drain(loop, receiver=receiver, count=2)
    assert [r.json["data"]["entity_key"] for r in receiver.requests] == ["G1", "G2"]


def test_a_rolled_back_change_is_never_sent(client, receiver, loop, hook, org, db):
    hook()
    with db.writer() as s:
        organizations.create(s, {"code": "H1", "name": "留下", "kind": "contractor"}, actor="test")
    with pytest.raises(RuntimeError), db.writer() as s:
        _audited_change_without_commit(s, "H2")
        raise RuntimeError("the change fails after its audit entry was written")
    org("H3")
    loop.run_once()
    got = receiver.wait_for(2)
    time.sleep(0.3)
    assert [r.json["data"]["entity_key"] for r in receiver.requests] == ["H1", "H3"]
    with db.session() as s:
        assert "H2" not in s.scalars(select(AuditEntry.entity_key)).all()
    assert got[1].json["data"]["seq"] == got[0].json["data"]["seq"] + 1  # the rolled-back seq was never taken


def _audited_change_without_commit(session, code: str) -> None:
    """An audit entry written in a transaction that the caller then rolls back."""
    audit.record(
        session,
        actor="test",
        action="create",
        entity_type="organization",
        entity_key=code,
        before=None,
        after={"code": code},
    )
    session.flush()


def test_test_events_are_sent_once_even_to_a_disabled_webhook(client, admin, receiver, loop, hook):
    made = hook()
    client.patch(f"/api/v1/webhooks/{made['id']}", json={"enabled": False}, headers=admin)
    r = client.post(f"/api/v1/webhooks/{made['id']}/test", headers=admin)
    assert r.status_code == 202 and r.get_json()["status"] == "pending" and r.get_json()["seq"] is None
    loop.run_once()
    (got,) = receiver.wait_for(1)
    body = got.verify(made["secret"])
    assert body["type"] == "webhook.test" and body["data"]["webhook_id"] == made["id"]
    assert got.headers["webhook-id"] == r.get_json()["message_id"]
    row = _deliveries(client, admin, made["id"])["items"][0]
    assert row["status"] == "delivered" and row["attempts"] == 1
    assert (
        client.get("/api/v1/audit", query_string={"entity_type": "webhook"}).get_json()["total"] == 2
    )  # no entry


def test_a_failed_test_event_is_not_retried(client, admin, receiver, loop, hook):
    made = hook()
    receiver.answer("/hook", 500)
    client.post(f"/api/v1/webhooks/{made['id']}/test", headers=admin)
    _drain(loop, rounds=3)
    assert len(receiver.requests) == 1
    row = _deliveries(client, admin, made["id"])["items"][0]
    assert row["status"] == "failed" and "500" in row["last_error"]


def test_a_rotated_secret_signs_beside_the_old_one_for_a_day(client, admin, receiver, loop, hook, org):
    made = hook(events=["organization.*"])
    r = client.patch(f"/api/v1/webhooks/{made['id']}", json={"rotate_secret": True}, headers=admin)
    new = r.get_json()["secret"]
    assert new.startswith("whsec_") and new != made["secret"] and r.get_json()["secret_version"] == 2
    org("I1")
    loop.run_once()
    (got,) = receiver.wait_for(1)
    assert got.verify(new)["data"]["entity_key"] == "I1"
    assert got.verify(made["secret"])  # receivers still on the old secret keep working meanwhile
    assert len(got.headers["webhook-signature"].split(" ")) == 2


def test_secrets_never_reach_logs_errors_the_audit_log_or_the_delivery_log(
    client, admin, receiver, loop, hook, org, caplog, db
):
    caplog.set_level(logging.DEBUG)
    made = hook()
    receiver.answer("/hook", 500)
    org("J1")
    _drain(loop, rounds=3)
    secret = made["secret"]
    raw = secret.removeprefix("whsec_")
    texts = [caplog.text]
    texts.append(client.get("/api/v1/audit", query_string={"per_page": 1000}).get_data(as_text=True))
    texts.append(client.get(f"/api/v1/webhooks/{made['id']}").get_data(as_text=True))
    texts.append(client.get("/api/v1/webhooks").get_data(as_text=True))
    texts.append(_deliveries(client, admin, made["id"]).__repr__())
    with db.session() as s:
        stored = s.get(Webhook, made["id"]).secret_enc
    texts.append(stored)
    assert not any(secret in t or raw in t for t in texts)
    assert stored.startswith("aesgcm1:")


def test_skip_backlog_moves_the_cursor_to_now(client, admin, receiver, loop, hook, org):
    made = hook(events=["organization.*"])
    org("V1")
    org("V2")
    r = client.patch(f"/api/v1/webhooks/{made['id']}", json={"skip_backlog": True}, headers=admin)
    assert r.status_code == 200
    org("V3")
    loop.run_once()
    assert [x.json["data"]["entity_key"] for x in receiver.wait_for(1)] == ["V3"]


def _webhook_looks(engine):
    from sqlalchemy import event

    seen = []
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return lambda: sum(bool(re.search(r"FROM webhook\b", s)) for s in seen)


def test_no_webhook_at_all_is_remembered_for_a_moment_and_one_made_here_is_seen_at_once(
    loop, hook, org, monkeypatch
):
    from webhooks import delivery

    monkeypatch.setattr(delivery, "_NONE_UNTIL", {})
    looks = _webhook_looks(loop.db.engine)
    org("NW-01")
    assert loop.run_once() == 0
    first = looks()
    assert first >= 1
    org("NW-02")
    assert loop.run_once() == 0 and looks() == first  # known to have none: no query at this commit
    hook(events=["organization.*"])
    org("NW-03")
    assert loop.run_once() == 1  # made by this process: looked at again at once


def test_a_webhook_made_by_another_process_is_seen_within_the_recheck(loop, hook, org, receiver, monkeypatch):
    from webhooks import delivery, models

    monkeypatch.setattr(delivery, "_NONE_UNTIL", {})
    monkeypatch.setattr(delivery, "NO_WEBHOOK_RECHECK", 0.5)
    assert loop.run_once() == 0  # none: remembered for 0.5 s
    before = models.created_here
    hook(events=["organization.*"])
    monkeypatch.setattr(models, "created_here", before)  # as if another process had made it
    org("NW-04")
    assert loop.run_once() == 0
    time.sleep(0.6)
    assert loop.run_once() == 1
    assert len(receiver.wait_for(1)) == 1
