"""``audit.checkpoint`` events: signed checkpoints reach the webhooks and the feed that name the type."""

from __future__ import annotations

from dataclasses import replace

from registry import checkpoints
from registry.signed_note import Checkpoint, VerifierKey
from web.app import create_app
from webhooks import checkpoint_events, feed


def _checkpoints(items):
    return [i for i in items if i["type"] == "audit.checkpoint"]


def _verified(data: dict, key: str) -> Checkpoint:
    cp = Checkpoint.parse(data["note"])
    cp.verify(VerifierKey.parse(key))  # raises on a bad signature
    return cp


def test_a_reader_that_names_the_type_gets_a_signed_checkpoint_of_the_head(client, db, org):
    org("CP1")
    org("CP2")
    key = client.get("/api/v1/audit/key").get_json()["key"]
    got = client.get("/api/v1/changes", query_string={"types": "audit.checkpoint"}).get_json()
    (item,) = got["items"]
    assert item["seq"] == got["head_seq"] == item["data"]["size"]
    cp = _verified(item["data"], key)
    assert cp.size == item["seq"]
    # the note sent is kept in the history, as every note handed out is
    with db.session() as s:
        assert checkpoints.get(s, item["seq"]).note == item["data"]["note"]
    assert item["data"] == client.get("/api/v1/audit/checkpoint").get_json()


def test_star_means_every_change_and_does_not_include_checkpoints(client, org):
    org("CP3")
    everything = client.get("/api/v1/changes").get_json()["items"]
    assert everything and not _checkpoints(everything)
    named = client.get("/api/v1/changes", query_string={"types": "audit.*,organization.*"}).get_json()
    types = [i["type"] for i in named["items"]]
    assert types[-1] == "audit.checkpoint" and "organization.create" in types


def test_checkpoints_issued_on_a_schedule_arrive_at_their_size_and_no_more_often_than_set(client, db, org):
    org("CP4")
    issued = client.get("/api/v1/audit/checkpoint").get_json()  # as `yima audit checkpoint` would
    org("CP5")
    got = feed.changes(db, after_seq=0, types="audit.checkpoint")
    # the issued one at its size; none at the new head: the newest is younger than 300 s
    assert [i["seq"] for i in got["items"]] == [issued["size"]]
    assert got["items"][0]["data"]["note"] == issued["note"]
    later = feed.changes(db, after_seq=issued["size"], types="audit.checkpoint")
    assert later["items"] == [] and later["next_seq"] == later["head_seq"] > issued["size"]


def test_with_a_short_interval_each_read_that_reaches_new_changes_gets_a_new_checkpoint(config, org):
    app = create_app(replace(config, checkpoint_event_seconds=1e-6))
    database = app.extensions["yima"].db
    try:
        org("CP6")
        first = feed.changes(database, after_seq=0, types="audit.checkpoint")["items"]
        org("CP7")
        second = feed.changes(database, after_seq=first[-1]["seq"], types="audit.checkpoint")["items"]
        assert len(first) == len(second) == 1 and second[0]["seq"] > first[0]["seq"]
        idle = feed.changes(database, after_seq=second[0]["seq"], types="audit.checkpoint")
        assert idle["items"] == []  # nothing new to cover: an idle log issues nothing
    finally:
        checkpoint_events.uninstall(database)  # the test app's own engine; the shared app's stays
        database.dispose()


def test_a_webhook_subscribed_to_checkpoints_receives_them_signed(client, receiver, loop, hook, org):
    made = hook(events=["audit.checkpoint"])
    org("CP8")
    for _ in range(20):
        loop.run_once()
        if receiver.requests:
            break
    (got,) = receiver.wait_for(1)
    body = got.verify(made["secret"])  # Standard Webhooks signature
    assert body["type"] == "audit.checkpoint"
    key = client.get("/api/v1/audit/key").get_json()["key"]
    cp = _verified(body["data"], key)
    assert got.headers["webhook-id"] == f"msg_{made['id']}_{cp.size}_checkpoint"
    head = client.get("/api/v1/audit", query_string={"per_page": 1}).get_json()
    assert cp.size >= 1 and cp.size <= head["total"]
