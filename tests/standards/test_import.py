"""Imports: encodings and XLSX, header detection, every bad row reported, all-or-nothing, Uniclass in full."""

import io

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select, text

from registry import audit
from registry.errors import Conflict, Invalid
from standards import codes, releases
from standards.importer import reader, writer
from standards.models import Code
from standards.validation import get_validator
from tests.conftest import UNICLASS_DIR

GOOD = """编码,名称,单位,状态,替代编码
40-10.00.00,钢材,t,,
40-10.10.00,钢筋,t,,
40-10.10.20,热轧带肋钢筋,t,有效,
40-10.10.90,热轧带肋钢筋 HRB335,t,废止,40-10.10.20
"""


def table(csv_text: str, name="codes.csv", encoding="utf-8") -> reader.Table:
    return reader.read_table(name, csv_text.encode(encoding))


def codes_in(db, scheme="szgws-me") -> int:
    with db.session() as s:
        return s.scalar(select(func.count(Code.id))) or 0


def test_import_csv_utf8_bom_and_gbk_read_the_same(db):
    plain = table(GOOD)
    bom = reader.read_table("bom.csv", b"\xef\xbb\xbf" + GOOD.encode("utf-8"))
    gbk = table(GOOD, "gbk.csv", "gbk")
    gb18030 = table(GOOD, "gb.csv", "gb18030")
    assert [r.values for r in plain.rows] == [r.values for r in bom.rows] == [r.values for r in gbk.rows]
    assert [r.values for r in gb18030.rows] == [r.values for r in plain.rows]
    assert plain.rows[3].values["successor"] == "40-10.10.20" and plain.rows[0].row == 2
    with db.writer() as s:
        report = writer.import_codes(s, "szgws-me", "r1", [gbk], actor="t", publish=True)
    assert report.added == 4 and report.errors == [] and report.published
    with db.session() as s:
        result = get_validator(s, "szgws-me").validate(["40-10.10.90"])[0]
    assert result["status"] == "deprecated" and result["successor"] == "40-10.10.20"


def test_import_xlsx_with_a_title_row_above_the_header(db):
    book = Workbook()
    sheet = book.active
    sheet.append(["深圳市建筑工务署 材料设备编码 2025"])
    sheet.append(["Code", "Title", "unit"])
    sheet.append(["40-20.00.00", "水泥", "t"])
    sheet.append(["40-20.10.00", "通用硅酸盐水泥", "t"])
    buffer = io.BytesIO()
    book.save(buffer)
    tbl = reader.read_table("codes.xlsx", buffer.getvalue())
    assert [r.row for r in tbl.rows] == [3, 4]
    with db.writer() as s:
        report = writer.import_codes(s, "szgws-me", "x1", [tbl], actor="t")
    assert report.added == 2 and not report.published
    with db.session() as s:
        assert codes.get_code(s, "szgws-me", "40-20.10.00", "x1")["ancestors"] == [
            {"code": "40-20.00.00", "name": "水泥"}
        ]


BAD = """code,name,parent,successor
40-10.00.00,钢材,,
40-1,坏编码,,
40-10.10.00,钢筋,,
40-10.10.00,重复的钢筋,,
40-30.10.10,缺少上级,,
40-10.10.20,热轧带肋钢筋,,40-99.99.00
40-10.10.30,上级不对,40-20.00.00,
40-10.10.40,,,
"""


def test_import_dry_run_reports_every_bad_row_and_writes_nothing(db):
    before = codes_in(db)
    with db.writer() as s:
        report = writer.import_codes(s, "szgws-me", "bad", [table(BAD, "bad.csv")], actor="t", dry_run=True)
    got = {(e.row, e.column, e.reason) for e in report.errors}
    assert got == {
        (3, "code", "malformed"),
        (5, "code", "duplicate"),
        (6, "code", "missing_parent"),
        (7, "successor", "unknown_successor"),
        (8, "parent", "wrong_parent"),
        (9, "name", "required"),
    }
    assert all(e.file == "bad.csv" and e.message for e in report.errors)
    assert codes_in(db) == before
    with db.session() as s:
        assert releases.list_releases(s, "szgws-me") == []


def test_import_with_errors_is_all_or_nothing(db, client):
    audit_before = client.get("/api/v1/audit?per_page=1").get_json()["total"]
    with db.writer() as s, pytest.raises(Invalid) as exc:
        writer.import_codes(s, "szgws-me", "bad", [table(BAD)], actor="t", publish=True)
    assert "nothing was imported" in exc.value.message and len(exc.value.errors) == 6
    assert codes_in(db) == 0
    assert client.get("/api/v1/audit?per_page=1").get_json()["total"] == audit_before


def test_import_again_reports_changes_and_published_releases_are_closed(db):
    with db.writer() as s:
        writer.import_codes(s, "szgws-me", "r1", [table(GOOD)], actor="t")
    changed = GOOD.replace("40-10.10.20,热轧带肋钢筋,t,有效,\n", "").replace(",钢筋,t", ",钢筋（含盘螺）,t")
    changed += "40-10.10.30,抗震热轧带肋钢筋,t,,\n"
    with db.writer() as s:
        report = writer.import_codes(s, "szgws-me", "r1", [table(changed)], actor="t", publish=True)
    assert (report.added, report.changed, report.unchanged) == (1, 1, 2)
    assert codes_in(db) == 5  # codes absent from the file are kept
    with db.writer() as s, pytest.raises(Conflict):
        writer.import_codes(s, "szgws-me", "r1", [table(GOOD)], actor="t")


def test_import_refuses_a_file_without_a_code_header():
    with pytest.raises(Invalid, match="no header row"):
        table("名字,单位\n钢材,t\n")


@pytest.mark.skipif(not UNICLASS_DIR.is_dir(), reason="Uniclass data not available")
def test_import_all_uniclass_tables_with_zero_errors_and_verify_catches_an_edited_row(db):
    paths = sorted(UNICLASS_DIR.glob("Uniclass2015_*.csv"))
    assert len(paths) == 13
    with db.writer() as s:
        report = writer.import_files(s, "uniclass2015", "2022-01", paths, actor="t", publish=True)
    assert report.errors == []
    assert report.rows == report.added == 15_363 + 12  # the twelve table roots from Uniclass2015_Tables.csv
    with db.session() as s:
        v = get_validator(s, "uniclass2015")
        assert v.release == "2022-01"
        assert [r["valid"] for r in v.validate(["Pr_20_93_52_11", "ｐｒ－２０－９３", "Pr_20_93_52_99"])] == [
            True,
            True,
            False,
        ]
        detail = codes.get_code(s, "uniclass2015", "Pr_20_93_52_11")
        assert [a["code"] for a in detail["ancestors"]] == ["Pr", "Pr_20", "Pr_20_93", "Pr_20_93_52"]
        assert audit.verify(s).ok
    with db.writer() as s:
        s.execute(text("UPDATE code SET name = 'Tampered' WHERE code = 'Pr_20_93_52_11'"))
        s.commit()
    with db.session() as s:
        result = audit.verify(s)
    assert not result.ok and result.first_bad_seq is not None
    assert any("uniclass2015/2022-01" in p for p in result.problems)
