"""Items from a scanned Digital Link or GTIN + lot + serial, every refusal; a delivery file registered in bulk."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from registry import audit
from registry.errors import Conflict, Forbidden, Invalid, NotFound
from tests.traceability.trace_helpers import CODE, GTIN, codes
from traceability import deliveries, gs1, items, products
from traceability.models import Delivery, Item

LINK = f"https://id.gs1.org/01/{GTIN}/10/C1/21/0001"
KEY = f"01/{GTIN}/10/C1/21/0001"


def item_count(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count(Item.id)))


def test_register_from_a_link_gives_the_contract_key_code_and_name(trace_db, product):
    with trace_db.writer() as s:
        item = items.register(
            s, link=LINK + "?17=261200", project="P-2025-01", actor="王工", organization="CSCEC3B"
        )
        assert item.key == KEY
    with trace_db.session() as s:
        shown = items.list_(s, gtin=GTIN).items[0]
        assert {k: shown[k] for k in ("key", "gtin", "lot", "serial", "code", "name", "status")} == {
            "key": KEY,
            "gtin": GTIN,
            "lot": "C1",
            "serial": "0001",
            "code": CODE,
            "name": "HRB400E 抗震钢筋 Φ25",
            "status": "registered",
        }
        assert shown["attributes"] == {"17": "261200"} and shown["project"] == "P-2025-01"
        page = audit.list_entries(s, entity_type="trace_item")
        (entry,), total = page.items, page.total
        assert total == 1 and entry.entity_key == KEY and entry.seq == shown["seq"]
        assert audit.verify(s).ok


def test_register_from_parts_gives_the_same_key_as_the_link(trace_db, product):
    with trace_db.writer() as s:
        item = items.register(s, gtin="9521234543213", lot="C1", serial="0001", actor="王工")
    assert item.key == KEY
    with trace_db.writer() as s, pytest.raises(Conflict) as caught:
        items.register(s, link=LINK, actor="王工")
    assert codes(caught) == {"link": ["trace.item_registered"]}


def test_register_keys_a_lot_with_a_slash_percent_encoded(trace_db, product):
    with trace_db.writer() as s:
        item = items.register(s, gtin=GTIN, lot="2025/07", serial="A%1", actor="王工")
        assert item.key == f"01/{GTIN}/10/2025%2F07/21/A%251"
    with trace_db.session() as s:
        assert items.get(s, item.key).lot == "2025/07"
        assert items.resolve(s, f"/01/{GTIN[1:]}/10/2025%2F07/21/A%251") == ("item", items.get(s, item.key))


def test_register_refusals(trace_db, product):
    with trace_db.writer() as s:
        with pytest.raises(Invalid) as caught:  # a GTIN nobody registered as a product: 422
            items.register(s, link="https://h/01/06901234567892/21/1", actor="王工")
        assert codes(caught) == {"link": ["trace.product_unknown"]}
        with pytest.raises(Invalid) as caught:
            items.register(s, gtin="06901234567892", serial="1", actor="王工")
        assert codes(caught) == {"gtin": ["trace.product_unknown"]}
        with pytest.raises(gs1.GS1Invalid) as caught:
            items.register(s, link=f"https://h/01/{GTIN}/21/1/10/L", actor="王工")
        assert codes(caught) == {"link": ["gs1.qualifier_order"]}
        with pytest.raises(gs1.GS1Invalid) as caught:
            items.register(s, link=f"https://h/01/{GTIN}", actor="王工")
        assert codes(caught) == {"link": ["gs1.no_item_qualifier"]}
        with pytest.raises(gs1.GS1Invalid) as caught:
            items.register(s, gtin=GTIN, lot="x" * 21, serial="中", actor="王工")
        assert codes(caught) == {"lot": ["gs1.too_long"], "serial": ["gs1.charset"]}
        with pytest.raises(Invalid) as caught:
            items.register(s, link=LINK, gtin=GTIN, actor="王工")
        assert codes(caught) == {"link": ["trace.link_or_parts"]}
        with pytest.raises(Invalid) as caught:
            items.register(s, actor="王工")
        assert codes(caught) == {"link": ["trace.link_or_parts"]}
        with pytest.raises(Forbidden):
            items.register(s, link=LINK, actor="王工", organization="NOPE")
    assert item_count(trace_db) == 0


def test_get_and_resolve(trace_db, product):
    with trace_db.writer() as s:
        items.register(s, link=LINK, actor="王工")
    with trace_db.session() as s:
        assert (
            items.get(s, "/01/9521234543213/10/C1/21/0001").key == KEY
        )  # a GTIN-13 spelling of the same key
        kind, found = items.resolve(s, f"01/{GTIN}")
        assert kind == "product" and found.gtin == GTIN
        with pytest.raises(NotFound) as caught:
            items.get(s, f"01/{GTIN}/10/C1/21/0002")
        assert codes(caught) == {"key": ["trace.item_unknown"]}
        with pytest.raises(NotFound):
            items.resolve(s, "01/06901234567892")
        with pytest.raises(gs1.GS1Invalid):
            items.resolve(s, "01/06901234567893")


def delivery_csv(n: int, *, lot="L2025-07") -> bytes:
    lines = ["送货单 SH-001（示例钢铁）", "GTIN,批号,序列号,有效期"]
    lines += [f"{GTIN},{lot},{i:06d},2026-12-31" for i in range(n)]
    return "\n".join(lines).encode("utf-8")


def test_register_delivery_file_in_one_audit_entry_listing_every_key(trace_db, product):
    with trace_db.writer() as s:
        report = deliveries.register_file(
            s,
            "SH-001",
            "delivery.csv",
            delivery_csv(250),
            project="P-1",
            actor="王工",
            organization="CSCEC3B",
        )
    assert (report.rows, report.added, report.errors) == (250, 250, [])
    with trace_db.session() as s:
        page = audit.list_entries(s, entity_type="trace_delivery")
        (entry,), total = page.items, page.total
        after = entry.body()["after"]
        assert total == 1 and entry.seq == report.seq and len(after["items"]) == 250
        assert after["items"][0] == f"01/{GTIN}/10/L2025-07/21/000000"
        assert after["attributes"][after["items"][0]] == {"17": "261231"}
        assert audit.list_entries(s, entity_type="trace_item").total == 0
        page = items.list_(s, delivery="SH-001", per_page=10)
        assert page.total == 250 and {i["seq"] for i in page.items} == {report.seq}
        assert page.items[0]["delivery"] == "SH-001" and page.items[0]["status"] == "registered"
        summary = deliveries.get(s, "SH-001")
        assert summary["item_count"] == 250 and summary["status"]["registered"] == 250
        assert audit.verify(s).ok


def test_register_delivery_dry_run_lists_every_bad_row_and_writes_nothing(trace_db, product):
    rows = [
        "GTIN,批号,序列号,数字链接",
        f"{GTIN},L1,0001,",
        f"{GTIN},L1,0001,",  # the same item twice
        "06901234567892,L1,0002,",  # not a registered product
        f"{GTIN},{'x' * 21},0003,",
        ",,,https://h/01/09521234543213/21/9/10/L1",  # qualifiers out of order
        f"{GTIN},,,",  # neither lot nor serial
    ]
    data = "\n".join(rows).encode()
    with trace_db.writer() as s:
        items.register(s, gtin=GTIN, lot="L1", serial="0001", actor="王工")
    with trace_db.writer() as s:
        report = deliveries.register_file(s, "SH-002", "d.csv", data, actor="王工", dry_run=True)
    found = [(e["row"], e["column"], e["code"]) for e in report.errors]
    assert found == [
        (2, "serial", "trace.item_registered"),
        (3, "serial", "trace.item_duplicate_row"),
        (4, "gtin", "trace.product_unknown"),
        (5, "lot", "gs1.too_long"),
        (6, "link", "gs1.qualifier_order"),
        (7, "lot", "gs1.no_item_qualifier"),
        (7, "serial", "gs1.no_item_qualifier"),
    ]
    with trace_db.writer() as s, pytest.raises(Invalid) as caught:
        deliveries.register_file(s, "SH-002", "d.csv", data, actor="王工")
    assert "6 row(s)" in caught.value.message and len(caught.value.errors["rows"]) == 7
    assert item_count(trace_db) == 1
    with trace_db.session() as s:
        assert s.scalar(select(func.count(Delivery.id))) == 0


def test_register_delivery_refuses_a_reference_twice(trace_db, product):
    with trace_db.writer() as s:
        deliveries.register_file(s, "SH-003", "d.csv", delivery_csv(2), actor="王工")
    with trace_db.writer() as s, pytest.raises(Conflict) as caught:
        deliveries.register_file(s, "SH-003", "d.csv", delivery_csv(2, lot="L2"), actor="王工")
    assert codes(caught) == {"reference": ["trace.delivery_registered"]}


def test_register_delivery_of_10000_items_uses_a_bounded_number_of_queries(trace_db, product):
    """10,000 items: rows checked in Python, one product query, chunked key checks, multi-row inserts."""
    from sqlalchemy import event

    statements = []
    with trace_db.writer() as s:
        event.listen(s.get_bind(), "before_cursor_execute", lambda *a: statements.append(a[2]))
        report = deliveries.register_file(s, "SH-10K", "d.csv", delivery_csv(10_000), actor="王工")
    assert report.added == 10_000
    assert len(statements) < 60, len(statements)
    assert item_count(trace_db) == 10_000


def test_register_delivery_from_a_json_list(trace_db, product):
    entries = [
        {"link": f"https://id.gs1.org/01/{GTIN}/10/J1/21/1"},
        {"gtin": GTIN, "lot": "J1", "serial": "2"},
    ]
    with trace_db.writer() as s:
        report = deliveries.register_list(s, "SH-J", entries, actor="王工", organization="CSCEC3B")
    assert report.added == 2
    with trace_db.writer() as s, pytest.raises(Invalid) as caught:
        deliveries.register_list(s, "SH-K", [{"gtin": GTIN, "serial": "3", "colour": "red"}], actor="王工")
    assert codes(caught) == {"items": ["trace.entry_shape"]}
    with trace_db.writer() as s, pytest.raises(Invalid) as caught:
        deliveries.register_list(s, "SH-K", [], actor="王工")
    assert codes(caught) == {"items": ["trace.empty_file"]}


def test_product_for_a_scanned_link(trace_db, product):
    with trace_db.session() as s:
        assert products.for_link(s, f"https://any.example/01/{GTIN[1:]}/10/X/21/Y").code == CODE
        with pytest.raises(NotFound):
            products.for_link(s, "https://any.example/01/06901234567892")
