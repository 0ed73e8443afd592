"""The catalog import's rule: what a file leaves out is left alone; what it deletes is named, dry run included.

Real files as stewards make them: one sheet saved as CSV by LibreOffice (UTF-8 with BOM, or GB18030 from
a Chinese Windows), workbooks written with openpyxl, a CSV of another name recognised by its header.
"""

import csv
import io
import json

import pytest
from openpyxl import Workbook

from catalog.demo import load_catalog, load_organizations

DEMO_RESOURCES, DEMO_FIELDS = 23, 115  # the demo files: header rows aside


@pytest.fixture
def demo(client, db):
    load_organizations(db, "test")
    load_catalog(db, "test")
    return client


@pytest.fixture
def exported(demo, runner, tmp_path):
    """The demo catalog exported as the four CSV files; returns the folder."""
    out = tmp_path / "export"
    assert runner(["catalog", "export", "--format", "csv", "--out", out]).exit_code == 0
    return out


def field_count(client) -> int:
    items = client.get("/api/v1/resources?per_page=1000").get_json()["items"]
    return sum(len(r["fields"]) for r in items)


def read_rows(path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


def write_csv(path, rows, encoding="utf-8-sig") -> None:
    """A CSV as LibreOffice Calc saves a sheet: CRLF, quoted where needed, BOM for UTF-8."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))


def audit_total(client) -> int:
    return client.get("/api/v1/audit?per_page=1").get_json()["total"]


def test_one_resources_csv_keeps_every_field(demo, exported, runner, tmp_path):
    """resources.csv alone set every resource's fields to none (all → 0), and the dry run said only 'updated'."""
    assert field_count(demo) == DEMO_FIELDS
    rows = read_rows(exported / "resources.csv")
    rows[1][1] = "招标公告（改）"
    path = tmp_path / "resources.csv"
    write_csv(path, rows)
    dry = runner(["catalog", "import", path, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would be updated: 1 resources" in dry.output and "would be deleted: nothing" in dry.output
    assert "left as they are (no 信息项 table in the file): the fields of every resource" in dry.output
    before = audit_total(demo)
    real = runner(["catalog", "import", path, "--json"])
    assert real.exit_code == 0, real.output
    report = json.loads(real.output)
    assert report["updated"] == {"resources": 1} and report["unchanged"] == {"resources": DEMO_RESOURCES - 1}
    assert report["deleted"] == {} and report["deleted_fields"] == {}
    assert set(report["absent"]) == {"单位", "信息系统", "信息项"}
    assert field_count(demo) == DEMO_FIELDS and audit_total(demo) == before + 1
    assert demo.get(f"/api/v1/resources/{rows[1][0]}").get_json()["name"] == "招标公告（改）"


def test_a_gb18030_csv_with_some_columns_changes_only_those(demo, exported, runner, tmp_path):
    """A column the sheet does not have keeps its value (tags, lineage, summary…); an empty cell clears it."""
    rows = read_rows(exported / "resources.csv")
    code_i, tags_i, steward_i = (
        rows[0].index("信息资源代码"),
        rows[0].index("标签"),
        rows[0].index("数据管理员"),
    )
    before = demo.get(f"/api/v1/resources/{rows[1][code_i]}").get_json()
    narrow = [["信息资源代码", "数据管理员", "发布日期"], [rows[1][code_i], "", "2021/4/15"]]
    path = tmp_path / "资源.csv"  # another name: recognised by its header row
    write_csv(path, narrow, encoding="gb18030")
    r = runner(["catalog", "import", path])
    assert r.exit_code == 0, r.output
    after = demo.get(f"/api/v1/resources/{rows[1][code_i]}").get_json()
    assert after["steward"] is None and before["steward"] == rows[1][steward_i]
    assert after["published_on"] == "2021-04-15"  # LibreOffice's re-saved date, read as the date it is
    assert after["tags"] == before["tags"] == rows[1][tags_i].split(";")
    for key in ("name", "summary", "lineage", "fields", "category", "share_type"):
        assert after[key] == before[key], key


def test_an_empty_fields_sheet_deletes_and_the_dry_run_names_every_field(demo, exported, runner, tmp_path):
    """A 信息项 sheet that is there (header only) means 'these resources have no fields': named, by count."""
    folder = tmp_path / "in"
    folder.mkdir()
    rows = read_rows(exported / "resources.csv")[:3]  # two resources
    write_csv(folder / "resources.csv", rows)
    write_csv(folder / "fields.csv", read_rows(exported / "fields.csv")[:1])
    codes = [r[0] for r in rows[1:]]
    names = {c: [f["name"] for f in demo.get(f"/api/v1/resources/{c}").get_json()["fields"]] for c in codes}
    n = sum(map(len, names.values()))
    dry = runner(["catalog", "import", folder, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"would be deleted: {n} fields of 2 resources" in dry.output
    for code in codes:
        assert f"  {code}: {', '.join(names[code])}" in dry.output
    assert field_count(demo) == DEMO_FIELDS
    real = runner(["catalog", "import", folder, "--json"])
    report = json.loads(real.output)
    assert report["deleted"] == {"fields": n} and report["deleted_fields"] == names
    assert field_count(demo) == DEMO_FIELDS - n
    assert demo.get("/api/v1/audit/verify").get_json()["ok"]


def test_fields_csv_alone_replaces_the_fields_of_the_resources_it_names(demo, exported, runner, tmp_path):
    rows = read_rows(exported / "fields.csv")
    header, first = rows[0], rows[1][0]
    mine = [r for r in rows[1:] if r[0] == first]
    keep = mine[:-1]
    path = tmp_path / "fields.csv"
    write_csv(path, [header, *keep])
    before = demo.get(f"/api/v1/resources/{first}").get_json()
    r = runner(["catalog", "import", path])
    assert r.exit_code == 0, r.output
    assert f"deleted: 1 fields of 1 resources\n  {first}: {mine[-1][2]}" in r.output
    after = demo.get(f"/api/v1/resources/{first}").get_json()
    assert [f["name"] for f in after["fields"]] == [row[2] for row in keep]
    assert {k: v for k, v in after.items() if k not in ("fields", "revision")} == {
        k: v for k, v in before.items() if k not in ("fields", "revision")
    }
    assert field_count(demo) == DEMO_FIELDS - 1


def test_a_workbook_with_only_the_resources_sheet_keeps_fields(demo, exported, runner, tmp_path):
    """openpyxl workbooks: a 信息资源 sheet alone, and a sheet called Sheet1 with the resources' header."""
    rows = read_rows(exported / "resources.csv")
    for title in ("信息资源", "Sheet1"):
        wb = Workbook()
        ws = wb.active
        ws.title = title
        for row in rows:
            ws.append([v or None for v in row])
        path = tmp_path / f"{title}.xlsx"
        wb.save(path)
        r = runner(["catalog", "import", path])
        assert r.exit_code == 0, r.output
        assert f"unchanged: {DEMO_RESOURCES} resources" in r.output and "deleted: nothing" in r.output
    assert field_count(demo) == DEMO_FIELDS


def test_a_csv_that_is_no_catalog_table_says_what_the_import_takes(demo, runner, tmp_path):
    path = tmp_path / "one.csv"
    write_csv(path, [["编号", "名称", "备注"], ["1", "甲", ""], ["2", "乙", ""]])
    before = audit_total(demo)
    r = runner(["catalog", "import", path])
    assert r.exit_code == 1
    assert "one.csv holds no catalog table (found one.csv)" in r.output
    for name in ("XLSX", "信息资源", "resources.csv", "fields.csv", "systems.csv", "organizations.csv"):
        assert name in r.output
    assert "Traceback" not in r.output and audit_total(demo) == before


def test_row_errors_read_like_the_importer_s_own_not_marshmallow_s(demo, runner, tmp_path):
    path = tmp_path / "resources.csv"
    write_csv(
        path,
        [
            [
                "信息资源代码",
                "信息资源名称",
                "信息资源摘要",
                "信息资源分类",
                "信息资源提供方代码",
                "信息资源格式",
            ],
            ["NEW-1", "", "摘要", "A0201", "SZGWS", "数据库"],
            ["NEW-2", "名" * 201, "摘要", "A0201", "SZGWS", "纸质"],
        ],
    )
    r = runner(["catalog", "import", path, "--json"])
    assert r.exit_code == 1
    errors = {(e["row"], e["column"]): e["message"] for e in json.loads(r.output)["errors"]}
    assert errors[(2, "信息资源名称")] == "required (the cell is empty)"
    assert errors[(3, "信息资源名称")] == "1 to 200 characters"
    assert errors[(3, "信息资源格式")].startswith("one of 电子文件, 电子表格")
    text = json.dumps(list(errors.values()), ensure_ascii=False)
    assert "Missing data" not in text and "Must be" not in text and "Length must" not in text
    assert demo.get("/api/v1/resources/NEW-1").status_code == 404
