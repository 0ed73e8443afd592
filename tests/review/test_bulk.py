"""A contractor's spreadsheet of proposed codes is ONE request of many rows: refused with every bad row named,
shown to reviewers as a table with per-row problems, applied all at once or not at all."""

from __future__ import annotations

import io

import openpyxl

from tests.review.review_helpers import audit_of, decide, review, submit

SHEET = (
    "编码,名称,计量单位,说明\n"
    "30-10.10.90,隔热防火门,樘,A 类隔热\n"
    "30-10.10.91,隔声防火门,樘,\n"
    "30-10.10.92,钢质防火门,樘,与 30-10.10.10 同名\n"
)
IMPORT = "/api/v1/requests/import?scheme=szgws-me&reason=%E7%8E%B0%E5%9C%BA%E6%96%B0%E6%9D%90%E6%96%99"


def _csv(client, who, text: str = SHEET):
    return client.post(
        IMPORT + "&filename=doors.csv", data=text.encode(), content_type="text/csv", headers=who
    )


def test_a_sheet_becomes_one_request_reviewed_as_a_table_and_applied_at_once(client, party):
    created = _csv(client, party["contractor"])
    assert created.status_code == 201, created.get_json()
    req = created.get_json()
    assert req["kind"] == "code.add" and req["target"] is None and len(req["payload"]["rows"]) == 3
    assert req["payload"]["file"] == "doors.csv" and req["payload"]["rows"][0]["row"] == 2
    view = client.get(f"/api/v1/requests/{req['id']}/diff", headers=party["supervisor"]).get_json()
    assert view["actions"] == ["endorse", "return"]
    rows = view["diff"]["rows"]
    assert [r["code"] for r in rows] == ["30-10.10.90", "30-10.10.91", "30-10.10.92"]
    assert view["diff"]["bad"] == 0 and all(r["problems"] == [] for r in rows)
    assert "30-10.10.10" in rows[2]["warnings"][0]  # the same name exists: the reviewer sees it
    review(client, party["supervisor"], req["id"])
    assert decide(client, party["owner"], req["id"]).get_json()["status"] == "approved"
    for code in ("30-10.10.90", "30-10.10.91", "30-10.10.92"):
        assert client.get(f"/api/v1/schemes/szgws-me/codes/{code}").status_code == 200
    applied = audit_of(client, request=req["id"])
    assert len(applied) == 1 and applied[0]["action"] == "add_codes"  # one entry for the whole sheet
    assert applied[0]["after"]["change"]["codes"] == ["30-10.10.90", "30-10.10.91", "30-10.10.92"]
    assert client.get("/api/v1/audit/verify").get_json()["ok"]


def test_an_xlsx_sheet_and_json_rows_are_accepted_too(client, party):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["说明：施工单位提议的新编码"])  # a title row above the header, as people write them
    sheet.append(["编码", "名称", "单位"])
    sheet.append(["30-10.10.90", "隔热防火门", "樘"])
    buf = io.BytesIO()
    book.save(buf)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    made = client.post(IMPORT, data=buf.getvalue(), content_type=xlsx, headers=party["contractor"])
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["payload"]["rows"] == [
        {"row": 3, "code": "30-10.10.90", "name": "隔热防火门", "unit": "樘"}
    ]
    rows = {
        "rows": [{"code": "30-10.10.91", "name": "隔声防火门"}, {"code": "30-10.10.92", "name": "防烟门"}]
    }
    as_json = submit(client, party["contractor"], kind="code.add", scheme="szgws-me", payload=rows)
    assert as_json.status_code == 201 and len(as_json.get_json()["payload"]["rows"]) == 2


def test_a_sheet_with_bad_rows_is_refused_naming_each_row_and_column(client, party):
    text = (
        "编码,名称,上级编码\n"
        "30-10.10.90,隔热防火门,\n"
        "30-10.1x,坏编码,\n"
        "30-10.99.10,无上级,\n"
        "30-10.10.10,已存在,\n"
        "30-10.10.90,重复,\n"
        "30-10.10.93,上级不对,30-20.00.00\n"
    )
    refused = _csv(client, party["contractor"], text)
    assert refused.status_code == 422
    errors = refused.get_json()["errors"]["payload"]["rows"]
    assert set(errors) == {"3", "4", "5", "6", "7"}
    assert "malformed" in errors["3"]["code"][0]
    assert "missing_parent" in errors["4"]["code"][0]
    assert "exists" in errors["5"]["code"][0]
    assert "duplicate" in errors["6"]["code"][0]
    assert "wrong_parent" in errors["7"]["parent"][0]
    assert client.get("/api/v1/requests").get_json()["total"] == 0
    no_header = _csv(client, party["contractor"], "a,b\n1,2\n")
    assert no_header.status_code == 422


def test_a_sheet_is_applied_all_or_nothing(client, party, steward):
    rid = _csv(client, party["contractor"]).get_json()["id"]
    review(client, party["supervisor"], rid)
    # meanwhile one of its codes is added directly: that row now has a problem, and nothing is applied
    client.post(
        "/api/v1/schemes/szgws-me/codes", json={"code": "30-10.10.91", "name": "直接新增"}, headers=steward
    )
    view = client.get(f"/api/v1/requests/{rid}/diff").get_json()["diff"]
    assert view["bad"] == 1 and "exists" in view["rows"][1]["problems"][0]
    refused = decide(client, party["owner"], rid)
    assert refused.status_code == 409 and "nothing was applied" in refused.get_json()["message"]
    assert client.get("/api/v1/schemes/szgws-me/codes/30-10.10.90").status_code == 404
    assert client.get("/api/v1/schemes/szgws-me/codes/30-10.10.91").get_json()["name"] == "直接新增"


def test_a_returned_sheet_is_resubmitted_with_new_rows(client, party):
    rid = _csv(client, party["contractor"]).get_json()["id"]
    review(client, party["supervisor"], rid, "return", "第 4 行与现有编码同名")
    rows = {"file": "doors-v2.csv", "rows": [{"row": 2, "code": "30-10.10.90", "name": "隔热防火门"}]}
    again = client.post(
        f"/api/v1/requests/{rid}/resubmit", json={"payload": rows}, headers=party["contractor"]
    )
    assert again.status_code == 200 and again.get_json()["payload"]["file"] == "doors-v2.csv"
    review(client, party["supervisor"], rid)
    assert decide(client, party["owner"], rid).get_json()["status"] == "approved"
    assert client.get("/api/v1/schemes/szgws-me/codes/30-10.10.92").status_code == 404
