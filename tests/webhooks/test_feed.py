"""``/api/v1/changes``: the webhooks' events after a cursor, filtered by type patterns, with long-polling."""

from __future__ import annotations

import threading
import time

from catalog import organizations
from webhooks import events, feed
from webhooks.patterns import Matcher


def test_the_feed_lists_every_audit_entry_as_an_event_after_the_cursor(client, org):
    org("L1")
    org("L2")
    whole = client.get("/api/v1/audit", query_string={"per_page": 1000}).get_json()["items"]
    r = client.get("/api/v1/changes").get_json()
    assert [i["seq"] for i in r["items"]] == [e["seq"] for e in whole]
    last = r["items"][-1]
    assert last == {
        "seq": whole[-1]["seq"],
        "type": "organization.create",
        "timestamp": whole[-1]["at"],
        "data": whole[-1],
    }
    assert r["next_seq"] == r["head_seq"] == whole[-1]["seq"]
    after = client.get("/api/v1/changes", query_string={"after_seq": whole[-2]["seq"]}).get_json()
    assert [i["data"]["entity_key"] for i in after["items"]] == ["L2"]


def test_the_feed_filters_by_type_patterns_and_moves_past_what_does_not_match(client, org, steward):
    org("M1")
    client.patch("/api/v1/organizations/M1", json={"name": "新名"}, headers=steward)
    org("M2")
    r = client.get("/api/v1/changes", query_string={"types": "organization.update,release.*"}).get_json()
    assert [i["type"] for i in r["items"]] == ["organization.update"]
    assert r["next_seq"] == r["head_seq"]  # the later organization.create was looked at and skipped
    limited = client.get("/api/v1/changes", query_string={"limit": 1}).get_json()
    assert (
        len(limited["items"]) == 1 and limited["next_seq"] == limited["items"][0]["seq"] < limited["head_seq"]
    )


def test_the_feed_refuses_bad_arguments_in_the_contract_shape(client):
    for query in ({"types": "a b"}, {"wait": 31}, {"after_seq": -1}, {"limit": 0}, {"limit": 1001}):
        r = client.get("/api/v1/changes", query_string=query)
        assert r.status_code == 422 and r.get_json()["code"] == 422, query


def test_a_long_poll_returns_as_soon_as_a_change_commits(client, db):
    head = client.get("/api/v1/changes").get_json()["head_seq"]
    answer = {}

    def poll():
        answer["r"] = client.get("/api/v1/changes", query_string={"after_seq": head, "wait": 20}).get_json()

    waiting = threading.Thread(target=poll)
    started = time.monotonic()
    waiting.start()
    time.sleep(0.5)
    assert waiting.is_alive()  # nothing yet: it waits
    with db.writer() as s:
        organizations.create(s, {"code": "N1", "name": "新单位", "kind": "contractor"}, actor="test")
    waiting.join(20)
    assert [i["data"]["entity_key"] for i in answer["r"]["items"]] == ["N1"]
    assert time.monotonic() - started < 15  # woken by the commit, not by the end of the wait


def test_a_long_poll_with_nothing_new_ends_empty_with_the_cursor_to_continue_from(client, org):
    org("O1")
    r = client.get("/api/v1/changes", query_string={"after_seq": 10_000, "wait": 0.3}).get_json()
    assert r["items"] == [] and r["next_seq"] == 10_000
    head = r["head_seq"]
    filtered = client.get(
        "/api/v1/changes", query_string={"after_seq": 0, "types": "release.*", "wait": 0.2}
    ).get_json()
    assert filtered["items"] == [] and filtered["next_seq"] == head


def test_events_from_another_source_join_the_stream_at_their_seq(db, org):
    """The documented hook for non-audit events (the evidence work's ``audit.checkpoint``)."""
    org("P1")
    org("P2")

    def checkpoints(_session, after_seq, upto_seq):
        at = 3
        if after_seq < at <= upto_seq:
            return [
                events.Event(
                    at, "audit.checkpoint", "2026-01-01T00:00:00Z", {"note": "signed"}, suffix="checkpoint"
                )
            ]
        return []

    events.register_source("test-checkpoints", checkpoints, "audit.checkpoint")
    try:
        got = feed.changes(db, after_seq=0, types="audit.checkpoint,organization.*")
        types = [(i["seq"], i["type"]) for i in got["items"]]
        assert (3, "audit.checkpoint") in types
        assert types == sorted(types, key=lambda t: (t[0], t[1] == "audit.checkpoint"))
    finally:
        events.unregister_source("test-checkpoints")


def test_patterns_match_exactly_whatever_the_database_likes():
    m = Matcher(["resource.*", "trace_item.create", "*.delete"])
    assert m.matches("resource.update") and m.matches("trace_item.create") and m.matches("token.delete")
    assert (
        not m.matches("RESOURCE.update")
        and not m.matches("traceXitem.create")
        and not m.matches("release.publish")
    )
    assert Matcher(None).matches("anything.at_all")
