"""The trail: every lifecycle rule and refusal, each event its own audit entry, and tampering caught by verify."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text, update

from catalog import organizations
from registry import audit
from registry.errors import Conflict, Forbidden, Invalid, NotFound
from tests.traceability.trace_helpers import GTIN, codes
from traceability import deliveries, events, items
from traceability.models import Event

KEY = f"01/{GTIN}/10/C1/21/0001"
T0 = dt.datetime(2025, 7, 1, 8, 0)
#: the demo organizations by kind
CONTRACTOR, SUPERVISOR, OWNER, BUREAU, ASSESSOR = "CSCEC3B", "SUP-DEMO", "SZGWS-GCGL", "SZGWS", "QA-DEMO"


@pytest.fixture
def item(trace_db, product):
    with trace_db.writer() as s:
        items.register(s, link=f"https://id.gs1.org/{KEY}", actor="王工", organization=CONTRACTOR)
    return KEY


def add(db, kind, org, hours=0, **kwargs):
    with db.writer() as s:
        return events.record(
            s, KEY, kind, T0 + dt.timedelta(hours=hours), actor=f"{org}-user", organization=org, **kwargs
        )


def refused(db, error, kind, org, hours=0, **kwargs) -> dict:
    with pytest.raises(error) as caught:
        add(db, kind, org, hours, **kwargs)
    return codes(caught)


def test_the_whole_lifecycle_each_event_an_audit_entry(trace_db, item):
    add(trace_db, "delivered", CONTRACTOR, 0, note="随车资料齐全")
    add(trace_db, "inspected", SUPERVISOR, 1, result="pass")
    add(trace_db, "installed", CONTRACTOR, 24)
    last = add(trace_db, "handed_over", OWNER, 48)
    with trace_db.session() as s:
        shown = events.detail(s, items.get(s, KEY))
        assert shown["status"] == "handed_over" and shown["key"] == KEY and shown["code"] == "40-10.10.20"
        trail = shown["events"]
        assert [(e["n"], e["type"], e["organization"], e["result"]) for e in trail] == [
            (1, "delivered", CONTRACTOR, None),
            (2, "inspected", SUPERVISOR, "pass"),
            (3, "installed", CONTRACTOR, None),
            (4, "handed_over", OWNER, None),
        ]
        page = audit.list_entries(s, entity_type="trace_event")
        entries, total = page.items, page.total
        assert total == 4 and [e.seq for e in entries] == [e["seq"] for e in trail]
        assert [(e.action, e.entity_key) for e in entries][1] == ("inspected", f"{KEY}#2")
        assert entries[-1].seq == last.seq and entries[0].body()["after"]["note"] == "随车资料齐全"
        assert entries[1].body()["after"]["at"] == "2025-07-01T09:00:00Z"
        assert audit.verify(s).ok


def test_inspection_only_by_a_supervisor_and_hand_over_only_by_owner_or_bureau(trace_db, item):
    add(trace_db, "delivered", CONTRACTOR)
    for org in (CONTRACTOR, OWNER, ASSESSOR):
        assert refused(trace_db, Forbidden, "inspected", org, 1, result="pass") == {
            "organization": ["trace.kind_forbidden"]
        }
    add(trace_db, "inspected", SUPERVISOR, 1, result="pass")
    add(trace_db, "installed", CONTRACTOR, 2)
    for org in (CONTRACTOR, SUPERVISOR):
        assert refused(trace_db, Forbidden, "handed_over", org, 3) == {
            "organization": ["trace.kind_forbidden"]
        }
    with pytest.raises(Forbidden) as caught:
        add(trace_db, "handed_over", SUPERVISOR, 3)
    message = caught.value.errors["organization"][0]
    assert "建设单位或建设主管单位" in message["message_zh"] and "owner or bureau" in message["message_en"]
    add(trace_db, "handed_over", BUREAU, 3)


def test_events_need_an_organization_that_is_registered(trace_db, item):
    assert refused(trace_db, Forbidden, "delivered", None) == {
        "organization": ["trace.organization_required"]
    }
    assert refused(trace_db, Forbidden, "delivered", "NOPE") == {
        "organization": ["trace.organization_unknown"]
    }


def test_events_out_of_lifecycle_order_are_conflicts(trace_db, item):
    assert refused(trace_db, Conflict, "inspected", SUPERVISOR, result="pass") == {"type": ["trace.order"]}
    assert refused(trace_db, Conflict, "installed", CONTRACTOR) == {"type": ["trace.order"]}
    assert refused(trace_db, Conflict, "handed_over", OWNER) == {"type": ["trace.order"]}
    add(trace_db, "delivered", CONTRACTOR)
    assert refused(trace_db, Conflict, "delivered", CONTRACTOR, 1) == {"type": ["trace.repeated"]}
    assert refused(trace_db, Conflict, "installed", CONTRACTOR, 1) == {"type": ["trace.order"]}
    add(trace_db, "inspected", SUPERVISOR, 1, result="pass")
    assert refused(trace_db, Conflict, "inspected", SUPERVISOR, 2, result="pass") == {
        "type": ["trace.inspection_passed"]
    }
    assert refused(trace_db, Conflict, "handed_over", OWNER, 2) == {"type": ["trace.order"]}
    add(trace_db, "installed", CONTRACTOR, 2)
    assert refused(trace_db, Conflict, "installed", CONTRACTOR, 3) == {"type": ["trace.repeated"]}
    add(trace_db, "handed_over", OWNER, 3)
    for kind, org, extra in (
        ("delivered", CONTRACTOR, {}),
        ("inspected", SUPERVISOR, {"result": "pass"}),
        ("installed", CONTRACTOR, {}),
        ("handed_over", BUREAU, {}),
    ):
        assert refused(trace_db, Conflict, kind, org, 4, **extra) == {"type": ["trace.handed_over"]}


def test_a_failed_inspection_blocks_installation_until_a_new_inspection_passes(trace_db, item):
    add(trace_db, "delivered", CONTRACTOR)
    add(trace_db, "inspected", SUPERVISOR, 1, result="fail", note="屈服强度不足")
    with pytest.raises(Conflict) as caught:
        add(trace_db, "installed", CONTRACTOR, 2)
    assert codes(caught) == {"type": ["trace.inspection_failed"]}
    assert "不合格" in caught.value.errors["type"][0]["message_zh"]
    add(trace_db, "inspected", SUPERVISOR, 3, result="pass", note="复检合格")
    add(trace_db, "installed", CONTRACTOR, 4)
    with trace_db.session() as s:
        assert [e.n for e in events.of_item(s, items.get(s, KEY))] == [1, 2, 3, 4]


def test_event_values_are_checked(trace_db, item):
    assert refused(trace_db, Invalid, "arrived", CONTRACTOR) == {"type": ["trace.event_type"]}
    assert refused(trace_db, Invalid, "delivered", CONTRACTOR, result="pass") == {
        "result": ["trace.result_unexpected"]
    }
    add(trace_db, "delivered", CONTRACTOR)
    assert refused(trace_db, Invalid, "inspected", SUPERVISOR, 1) == {"result": ["trace.result_required"]}
    assert refused(trace_db, Invalid, "inspected", SUPERVISOR, 1, result="ok") == {
        "result": ["trace.result_required"]
    }
    assert refused(trace_db, Invalid, "inspected", SUPERVISOR, 1, result="pass", note="x" * 2001) == {
        "note": ["trace.too_long"]
    }


def test_event_times(trace_db, item):
    future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    with trace_db.writer() as s, pytest.raises(Invalid) as caught:
        events.record(s, KEY, "delivered", future, actor="a", organization=CONTRACTOR)
    assert codes(caught) == {"at": ["trace.at_future"]}
    with trace_db.writer() as s, pytest.raises(Invalid) as caught:
        events.record(s, KEY, "delivered", "yesterday", actor="a", organization=CONTRACTOR)
    assert codes(caught) == {"at": ["trace.at_invalid"]}
    with trace_db.writer() as s:  # ISO text with an offset is stored as UTC
        event = events.record(
            s, KEY, "delivered", "2025-07-01T16:00:00+08:00", actor="a", organization=CONTRACTOR
        )
        assert event.at == T0
    assert refused(trace_db, Conflict, "inspected", SUPERVISOR, -1, result="pass") == {
        "at": ["trace.at_before_previous"]
    }


def test_events_for_an_unknown_item_are_not_found(trace_db, item):
    with trace_db.writer() as s, pytest.raises(NotFound):
        events.record(s, f"01/{GTIN}/10/C1/21/9999", "delivered", T0, actor="a", organization=CONTRACTOR)


def test_verify_catches_an_event_changed_outside_yima(trace_db, item):
    add(trace_db, "delivered", CONTRACTOR)
    add(trace_db, "inspected", SUPERVISOR, 1, result="fail")
    with trace_db.writer() as s:
        s.execute(
            update(Event).where(Event.n == 2).values(result="pass")
        )  # someone "fixes" a failed inspection
        s.commit()
    with trace_db.session() as s:
        result = audit.verify(s)
    assert not result.ok and any("trace_event" in p and f"{KEY}#2" in p for p in result.problems)


def test_verify_catches_an_item_slipped_into_a_delivery(trace_db, product):
    csv = f"GTIN,批号,序列号\n{GTIN},L1,1\n{GTIN},L1,2\n".encode()
    with trace_db.writer() as s:
        deliveries.register_file(s, "SH-9", "d.csv", csv, actor="王工")
    with trace_db.writer() as s:
        s.execute(
            text("UPDATE trace_item SET serial = '3', key = :k WHERE serial = '2'"),
            {"k": f"01/{GTIN}/10/L1/21/3"},
        )
        s.commit()
    with trace_db.session() as s:
        result = audit.verify(s)
    assert not result.ok and any("trace_delivery 'SH-9' was changed" in p for p in result.problems)


def test_an_organization_with_a_trail_cannot_be_deleted(trace_db, item):
    add(trace_db, "delivered", CONTRACTOR)
    with trace_db.writer() as s, pytest.raises(Conflict) as caught:
        organizations.delete(s, CONTRACTOR, actor="admin")
    assert "traceability records" in caught.value.message


def test_two_deliveries_of_one_item_at_once_record_one_event(trace_db, item):
    """Concurrent writers are serialized on the item (row lock on PostgreSQL, the write lock on SQLite)."""
    import threading

    barrier, outcomes = threading.Barrier(2), []

    def deliver(org):
        with trace_db.writer() as s:
            barrier.wait()
            try:
                events.record(s, KEY, "delivered", T0, actor=org, organization=org)
                outcomes.append("recorded")
            except Conflict:
                outcomes.append("conflict")

    threads = [threading.Thread(target=deliver, args=(org,)) for org in (CONTRACTOR, "MCC20")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["conflict", "recorded"]
    with trace_db.session() as s:
        assert len(events.of_item(s, items.get(s, KEY))) == 1
        assert audit.verify(s).ok
