"""Products: a GTIN carries one valid, assignable szgws-me code; every refusal; the supplier list import."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from registry import audit
from registry.errors import Conflict, Forbidden, Invalid, NotFound
from tests.traceability.trace_helpers import CODE, GTIN, codes
from traceability import gs1, products
from traceability.models import Product


def test_register_stores_gtin_14_and_the_canonical_code_with_one_audit_entry(trace_db):
    with trace_db.writer() as s:
        before = audit.list_entries(s).total
        product = products.register(
            s,
            "9521234543213",
            "４０－１０．１０．２０",
            " 热轧带肋钢筋 ",
            actor="steward-1",
            organization="SZGWS",
        )
        assert (product.gtin, product.code, product.release, product.name) == (
            GTIN,
            CODE,
            "2025-01",
            "热轧带肋钢筋",
        )
    with trace_db.session() as s:
        page = audit.list_entries(s, entity_type="trace_product")
        entries, total = page.items, page.total
        assert total == 1 and audit.list_entries(s).total == before + 1
        assert entries[0].entity_key == GTIN and entries[0].action == "create"
        assert products.get(s, "9521234543213").to_dict() == entries[0].body()["after"]
        assert audit.verify(s).ok


def test_register_refuses_a_gtin_twice(trace_db, product):
    with trace_db.writer() as s, pytest.raises(Conflict) as caught:
        products.register(s, "9521234543213", "40-10.10.30", "另一产品", actor="steward-1")
    assert codes(caught) == {"gtin": ["trace.gtin_registered"]}
    assert "已登记" in caught.value.errors["gtin"][0]["message_zh"]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("40-10.10.90", "trace.code_deprecated"),  # withdrawn grade HRB335; its successor is named
        ("40-10.00.00", "trace.code_not_assignable"),  # a level-1 category
        ("40-99.99.99", "trace.code_unknown"),
        ("not a code", "trace.code_malformed"),
        ("", "trace.required"),
    ],
)
def test_register_refuses_a_code_that_is_not_valid_and_assignable(trace_db, code, expected):
    with trace_db.writer() as s, pytest.raises(Invalid) as caught:
        products.register(s, GTIN, code, "产品", actor="steward-1")
    assert codes(caught) == {"code": [expected]}
    if expected == "trace.code_deprecated":
        assert "40-10.10.20" in caught.value.errors["code"][0]["message_zh"]
    with trace_db.session() as s:
        assert s.scalar(select(func.count(Product.id))) == 0


def test_register_refuses_bad_gtin_name_and_unknown_organization(trace_db):
    with trace_db.writer() as s:
        with pytest.raises(gs1.GS1Invalid) as caught:
            products.register(s, "09521234543214", CODE, "产品", actor="steward-1")
        assert codes(caught) == {"gtin": ["gs1.check_digit"]}
        with pytest.raises(Invalid) as caught:
            products.register(s, GTIN, CODE, "  ", actor="steward-1")
        assert codes(caught) == {"name": ["trace.required"]}
        with pytest.raises(Invalid) as caught:
            products.register(s, GTIN, CODE, "x" * 201, actor="steward-1")
        assert codes(caught) == {"name": ["trace.too_long"]}
        with pytest.raises(Forbidden) as caught:
            products.register(s, GTIN, CODE, "产品", actor="steward-1", organization="NOPE")
        assert codes(caught) == {"organization": ["trace.organization_unknown"]}


def test_register_needs_a_published_szgws_me_release(db):
    with db.writer() as s, pytest.raises(Invalid) as caught:
        products.register(s, GTIN, CODE, "产品", actor="steward-1")
    assert codes(caught) == {"code": ["trace.no_release"]}


def test_get_and_list_products(trace_db, product):
    with trace_db.session() as s:
        assert products.get(s, "９５２１２３４５４３２１３").gtin == GTIN
        with pytest.raises(NotFound):
            products.get(s, "06901234567892")
        page = products.list_(s, q="抗震")
        assert page.total == 1 and page.items[0]["gtin"] == GTIN and page.items[0]["item_count"] == 0
        assert products.list_(s, code=CODE).total == 1 and products.list_(s, code="40-10.10.30").total == 0


SUPPLIER_CSV = """示例钢铁有限公司 产品清单（2025 年）
商品条码,工务署编码,产品名称,生产厂家
06901234567892,40-10.10.20,HRB400 热轧带肋钢筋,示例钢铁
9521234543213,40-10.10.30,HRB400E 抗震钢筋,示例钢铁
"""


def test_import_products_from_a_gbk_csv_with_a_title_row(trace_db):
    with trace_db.writer() as s:
        report = products.import_file(s, "清单.csv", SUPPLIER_CSV.encode("gbk"), actor="steward-1")
    assert (report.rows, report.added, report.errors) == (2, 2, [])
    with trace_db.session() as s:
        assert products.get(s, "6901234567892").name == "HRB400 热轧带肋钢筋"
        assert audit.list_entries(s, entity_type="trace_product").total == 2
    # the same list again changes nothing and records nothing
    with trace_db.writer() as s:
        again = products.import_file(s, "清单.csv", SUPPLIER_CSV.encode("utf-8-sig"), actor="steward-1")
        assert (again.added, again.unchanged) == (0, 2)
        assert audit.list_entries(s, entity_type="trace_product").total == 2


BAD_ROWS = [
    ("GTIN", "编码", "名称", "生产厂家"),
    ("06901234567892", "40-10.10.20", "好的产品", "厂家"),
    ("06901234567893", "40-10.10.20", "校验位错", "厂家"),
    ("9521234543213", "40-10.10.90", "废止编码", "厂家"),
    ("06901234567892", "40-10.10.30", "重复 GTIN", "厂家"),
    ("96385074", "40-10.00.00", "", "厂家"),
]


def _xlsx(rows) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_import_products_dry_run_lists_every_bad_row_and_writes_nothing(trace_db, product):
    data = _xlsx(BAD_ROWS)
    with trace_db.writer() as s:
        report = products.import_file(s, "list.xlsx", data, actor="steward-1", dry_run=True)
    found = [(e["row"], e["column"], e["code"]) for e in report.errors]
    assert found == [
        (3, "gtin", "gs1.check_digit"),
        (4, "code", "trace.code_deprecated"),
        (5, "gtin", "trace.gtin_duplicate_row"),
        (6, "code", "trace.code_not_assignable"),
        (6, "name", "trace.required"),
    ]
    assert all(e["message_zh"] and e["message_en"] for e in report.errors)
    with trace_db.writer() as s, pytest.raises(Invalid) as caught:
        products.import_file(s, "list.xlsx", data, actor="steward-1")
    assert len(caught.value.errors["rows"]) == 5 and "nothing was imported" in caught.value.message
    with trace_db.session() as s:
        assert s.scalar(select(func.count(Product.id))) == 1  # the fixture's product only: all or nothing
        assert audit.list_entries(s, entity_type="trace_product").total == 1


def test_import_products_refuses_a_gtin_registered_with_other_values(trace_db, product):
    data = _xlsx([("GTIN", "编码", "名称"), (GTIN, "40-10.10.30", "改了编码")])
    with trace_db.writer() as s:
        report = products.import_file(s, "list.xlsx", data, actor="steward-1", dry_run=True)
    assert [(e["row"], e["code"]) for e in report.errors] == [(2, "trace.gtin_registered")]


def test_import_products_refuses_a_file_without_a_header_or_rows(trace_db):
    with trace_db.writer() as s:
        with pytest.raises(Invalid) as caught:
            products.import_file(s, "x.csv", b"a,b\n1,2\n", actor="steward-1")
        assert codes(caught) == {"file": ["trace.no_header"]}
        with pytest.raises(Invalid) as caught:
            products.import_file(s, "x.csv", "GTIN,编码,名称\n".encode(), actor="steward-1")
        assert codes(caught) == {"file": ["trace.empty_file"]}
        with pytest.raises(Invalid) as caught:
            products.import_file(s, "x.xlsx", b"PK\x03\x04not really", actor="steward-1")
        assert codes(caught) == {"file": ["trace.unreadable"]}
