"""``yima standards list|import|publish|crosswalk`` and ``yima validate codes``: messages and exit codes."""

import json

from openpyxl import Workbook

CODES = (
    "编码,名称,单位,状态,替代编码\n40-10.00.00,钢材,t,,\n40-10.10.00,钢筋,t,,\n40-10.10.20,热轧带肋钢筋,t,,\n"
)


def test_cli_import_gbk_dry_run_then_publish_and_list(runner, tmp_path):
    path = tmp_path / "codes.csv"
    path.write_bytes(CODES.encode("gbk"))
    r = runner(["standards", "import", "szgws-me", path, "--release", "r1", "--dry-run"])
    assert r.exit_code == 0 and "would import 3 rows (3 new" in r.output
    r = runner(["standards", "list"])
    assert "r1" not in r.output  # dry run wrote nothing
    r = runner(["standards", "import", "szgws-me", path, "--release", "r1", "--publish"])
    assert r.exit_code == 0 and "imported 3 rows" in r.output and "published" in r.output
    r = runner(["standards", "list", "--json"])
    me = next(s for s in json.loads(r.output) if s["id"] == "szgws-me")
    assert me["current_release"] == "r1" and me["releases"][0]["codes"] == 3


def test_cli_import_reports_every_bad_row_and_exits_1(runner, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("code,name\n40-1,坏\n40-30.10.10,缺上级\n40-30.10.10,重复\n", encoding="utf-8-sig")
    r = runner(["standards", "import", "szgws-me", path, "--release", "r1", "--dry-run"])
    assert r.exit_code == 1
    assert "bad.csv row 2, column code: malformed" in r.output
    assert "row 3, column code: missing_parent" in r.output and "row 4, column code: duplicate" in r.output
    r = runner(["standards", "import", "szgws-me", path, "--release", "r1"])
    assert r.exit_code == 1 and "nothing was imported" in r.output
    assert "r1" not in runner(["standards", "list"]).output


def test_cli_import_xlsx_publish_crosswalk_and_validate_codes(runner, tmp_path):
    book = Workbook()
    book.active.append(["code", "name"])
    for row in CODES.splitlines()[1:]:
        book.active.append(row.split(",")[:2])
    xlsx = tmp_path / "codes.xlsx"
    book.save(xlsx)
    assert runner(["standards", "import", "szgws-me", xlsx, "-r", "r1"]).exit_code == 0
    assert runner(["standards", "publish", "szgws-me", "r1"]).exit_code == 0
    gbt = tmp_path / "gbt.csv"
    gbt.write_text(
        "编码,名称\n40-10.00.00,金属材料\n40-10.10.00,黑色金属材料\n40-10.10.10,钢筋\n", encoding="utf-8"
    )
    assert runner(["standards", "import", "gbt51269", gbt, "-r", "2017", "--publish"]).exit_code == 0
    cw = tmp_path / "cw.csv"
    cw.write_text("from,to,relation\n40-10.10.00,40-10.10.10,exact\n", encoding="utf-8")
    r = runner(["standards", "crosswalk", "szgws-me", "gbt51269", cw])
    assert r.exit_code == 0 and "1 mappings" in r.output

    good = tmp_path / "good.txt"
    good.write_text("40-10.10.20\n４０－１０．１０．００\n", encoding="utf-8")
    r = runner(["validate", "codes", "szgws-me", good])
    assert r.exit_code == 0 and "2 codes, 2 valid, 0 invalid" in r.output
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("编码,数量\n40-10.10.20,3\n40-99.99.00,1\n", encoding="utf-8")
    r = runner(["validate", "codes", "szgws-me", mixed, "--json"])
    assert r.exit_code == 1
    body = json.loads(r.output[: r.output.rindex("}") + 1])
    assert [x["status"] for x in body["results"]] == ["active", "unknown"]
    gtin = tmp_path / "gtin.txt"
    gtin.write_text("6901234567892\n6901234567893\n", encoding="utf-8")
    r = runner(["validate", "codes", "gtin", gtin])
    assert r.exit_code == 1 and "check digit" in r.output
    assert runner(["audit", "verify"]).exit_code == 0


def test_cli_unknown_scheme_is_a_clear_error(runner, tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("1\n", encoding="utf-8")
    r = runner(["validate", "codes", "nope", path])
    assert r.exit_code == 1 and "no code scheme 'nope'" in r.output


def test_cli_validate_codes_labels_an_invalid_code_by_its_error(runner, db, tmp_path):
    """A level-1 category of szgws-me exists and is active, but items may not carry it: the line said
    'active' beside the not_assignable message."""
    from standards import demo as standards_demo

    standards_demo.load(db, "test", with_uniclass=False)
    codes = tmp_path / "codes.txt"
    codes.write_text("30-10.00.00\n40-10.10.10\n99-99.99.99\n")
    r = runner(["validate", "codes", "szgws-me", codes])
    assert r.exit_code == 1
    lines = {line.split()[1]: line.split()[0] for line in r.stdout.splitlines() if line.strip()}
    assert lines == {"30-10.00.00": "not_assignable", "40-10.10.10": "ok", "99-99.99.99": "malformed"}
    as_json = json.loads(runner(["validate", "codes", "szgws-me", codes, "--json"]).stdout)
    assert as_json["results"][0]["status"] == "active"  # the contract's status is the code's own
    assert as_json["results"][0]["errors"][0]["type"] == "not_assignable"
