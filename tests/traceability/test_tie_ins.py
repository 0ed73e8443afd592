"""Traceability tied into the rest: a validation call takes a scanned Digital Link in place of a code and answers
with its product's bureau code; the code page lists the products carrying the code with their item counts; the
lineage demo holds the item flow; ``yima demo``'s traceability step (idempotent, its trails auditable)."""

from __future__ import annotations

from sqlalchemy import func, select

from lineage import demo as lineage_demo
from registry import audit
from tests.traceability.trace_helpers import CODE, GTIN
from traceability import demo as trace_demo
from traceability import items
from traceability.models import Event, Item, Product

LINK = f"https://id.gs1.org/01/{GTIN}/10/C1/21/0001"


def test_validation_takes_a_digital_link_in_place_of_a_code(app, product):
    client = app.test_client()
    one = client.get("/api/v1/validate/codes", query_string={"scheme": "szgws-me", "code": LINK}).get_json()
    assert one["valid"] is True and one["code"] == CODE and one["input"] == LINK
    assert one["product"]["gtin"] == GTIN and one["item"] == f"01/{GTIN}/10/C1/21/0001"
    batch = client.post(
        "/api/v1/validate/codes",
        json={
            "scheme": "szgws-me",
            "codes": [
                "40-10.10.20",
                f"https://x.example/01/{GTIN}",
                "https://x.example/01/96385074/21/1",
                f"https://x.example/01/{GTIN[:-1]}4/21/1",
            ],
        },
    ).get_json()
    assert batch["total"] == 4 and batch["valid"] == 2 and batch["invalid"] == 2
    plain, product_link, unregistered, bad = batch["results"]
    assert plain["code"] == CODE and "product" not in plain
    assert product_link["valid"] and product_link["code"] == CODE and product_link["index"] == 1
    assert unregistered["valid"] is False and unregistered["status"] == "unknown"
    assert unregistered["link_error"]["code"] == "trace.product_unknown"
    assert bad["status"] == "malformed" and bad["link_error"]["code"] == "gs1.check_digit"
    assert "校验位" in bad["errors"][0]["message_zh"]
    # another scheme does not resolve links: the text is judged as given
    other = client.get("/api/v1/validate/codes", query_string={"scheme": "gtin", "code": LINK}).get_json()
    assert "product" not in other and other["input"] == LINK


def test_the_code_page_lists_its_products_with_item_counts(app, trace_db, product):
    with trace_db.writer() as s:
        items.register(s, link=LINK, actor="王工", organization="CSCEC3B")
    page = app.test_client().get(f"/codes/szgws-me/{CODE}").get_data(as_text=True)
    assert 'id="code-products"' in page and f'data-gtin="{GTIN}"' in page
    assert "HRB400E 抗震钢筋 Φ25" in page
    row = page.split(f'data-gtin="{GTIN}"', 1)[1].split("</tr>", 1)[0]
    assert ">1</a></td>" in row  # one item
    other = app.test_client().get("/codes/szgws-me/40-10.10.10").get_data(as_text=True)
    assert "还没有产品登记此编码" in other


def test_the_lineage_demo_holds_the_item_flow():
    jobs = {(ns, name): (inputs, outputs) for ns, name, inputs, outputs, _runs in lineage_demo.JOBS}
    flow = [
        ("szgws.ewm", "register_delivery_items"),
        ("szgws.jcys", "record_item_inspection"),
        ("szgws.ewm", "record_item_installation"),
        ("szgws.szjf", "record_item_handover"),
    ]
    assert ("szgws.cggl", "purchase_order") in jobs[flow[0]][0]  # from procurement
    for before, after in zip(flow, flow[1:], strict=False):
        assert set(jobs[before][1]) & set(jobs[after][0]), f"{before} does not feed {after}"
    assert jobs[flow[-1]][1] == [("szgws.ewm", "item_handed_over")]


def test_the_demo_step_is_idempotent_and_its_trails_are_audited(trace_db):
    created = trace_demo.load(trace_db, "demo")
    assert created > 30 and trace_demo.load(trace_db, "demo") == 0
    with trace_db.session() as s:
        assert s.scalar(select(func.count()).select_from(Product)) == 3
        assert s.scalar(select(func.count()).select_from(Item)) == 14
        kinds = dict(s.execute(select(Event.type, func.count()).group_by(Event.type)).all())
        assert kinds == {"delivered": 10, "inspected": 8, "installed": 5, "handed_over": 3}
        shown = items.list_(s, delivery=trace_demo.DELIVERY, per_page=20).items
        assert {i["status"] for i in shown} == {
            "handed_over",
            "installed",
            "inspected",
            "delivered",
            "registered",
        }
        assert audit.verify(s).ok
