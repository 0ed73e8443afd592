"""The change request pages over the demo (test client, SQLite and PostgreSQL): the 待办 queue, a request with its
diff, history and only the allowed actions, the actions themselves (CSRF), the proposal forms, English."""

from __future__ import annotations

import io
import json
import re

from tests.review.review_helpers import DOOR, FREE_CODE, RESOURCE, review, submit


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _login(app, party, who):
    client = app.test_client()
    client.post(
        "/login",
        data={
            "csrf_token": _csrf(client.get("/login").get_data(as_text=True)),
            "token": party[who]["Authorization"].split()[1],
        },
    )
    return client


def _html(response) -> str:
    return response.get_data(as_text=True)


def test_the_queue_the_request_page_and_the_actions(app, client, party):
    rid = submit(
        client,
        party["contractor"],
        kind="code.add",
        scheme="szgws-me",
        payload={"code": FREE_CODE, "name": "隔热防火门"},
    ).get_json()["id"]
    anonymous = _html(client.get(f"/requests/{rid}"))
    assert (
        "act-form" not in anonymous and "隔热防火门" in anonymous and "钢质防火门" in anonymous
    )  # proposed row, siblings

    sup = _login(app, party, "supervisor")
    home = _html(sup.get("/"))
    assert re.search(r'id="count-requests-open">1<', home) and re.search(r'id="count-todo">1<', home)
    queue = _html(sup.get("/requests"))
    assert f'data-id="{rid}"' in queue.split('id="todo-list"')[1].split("</table>")[0]
    page = sup.get(f"/requests/{rid}")
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    html = _html(page)
    assert 'id="act-endorse"' in html and 'id="act-return"' in html and 'id="act-approve"' not in html
    assert 'id="parent"' in html and "30-10.10.00" in html  # the parent of the proposed code
    assert sup.post(f"/requests/{rid}/act", data={"action": "endorse"}).status_code == 400  # no CSRF token
    done = sup.post(
        f"/requests/{rid}/act", data={"action": "endorse", "comment": "已核实", "csrf_token": _csrf(html)}
    )
    assert done.status_code == 302
    assert client.get(f"/api/v1/requests/{rid}").get_json()["status"] == "reviewed"

    con = _login(app, party, "contractor")
    mine = _html(con.get(f"/requests/{rid}"))
    assert 'id="no-actions"' in mine  # a contractor decides nothing
    refused = con.post(f"/requests/{rid}/act", data={"action": "approve", "csrf_token": _csrf(mine)})
    assert refused.status_code == 403

    own = _login(app, party, "owner")
    html = _html(own.get(f"/requests/{rid}"))
    assert 'id="act-approve"' in html and 'id="act-reject"' in html and 'id="act-endorse"' not in html
    no_reason = own.post(f"/requests/{rid}/act", data={"action": "reject", "csrf_token": _csrf(html)})
    assert no_reason.status_code == 422 and 'id="action-error"' in _html(no_reason)
    assert (
        own.post(f"/requests/{rid}/act", data={"action": "approve", "csrf_token": _csrf(html)}).status_code
        == 302
    )
    assert client.get(f"/api/v1/schemes/szgws-me/codes/{FREE_CODE}").status_code == 200
    history = _html(client.get(f"/requests/{rid}")).split('id="history"')[1]
    assert history.count("<tr data-action=") == 3 and "SUP-DEMO" not in history  # names, not codes


def test_the_code_proposal_form_and_its_errors(app, client, party):
    con = _login(app, party, "contractor")
    form = _html(con.get(f"/requests/new/code?scheme=szgws-me&code={DOOR}"))
    assert 'value="code.update" selected' in form and "钢质防火门" in form  # prefilled from the code
    bad = con.post(
        "/requests/new/code",
        data={
            "csrf_token": _csrf(form),
            "kind": "code.add",
            "scheme": "szgws-me",
            "code": FREE_CODE,
            "name": "",
            "reason": "x",
        },
    )
    assert bad.status_code == 422 and 'data-for="name"' in _html(bad)
    sent = con.post(
        "/requests/new/code",
        data={
            "csrf_token": _csrf(form),
            "kind": "code.update",
            "scheme": "szgws-me",
            "target": DOOR,
            "name": "钢质防火门",
            "unit": "扇",
            "reason": "单位应为扇",
        },
    )
    assert sent.status_code == 302
    req = client.get("/api/v1/requests").get_json()["items"][0]
    assert req["kind"] == "code.update" and req["payload"] == {"unit": "扇"}  # only what changed


def test_the_sheet_upload_and_its_row_problems(app, client, party):
    con = _login(app, party, "contractor")
    form = _html(con.get("/requests/new/code"))
    sheet = "编码,名称\n30-10.10.90,隔热防火门\n30-10.99.10,无上级\n".encode()
    bad = con.post(
        "/requests/new/code-sheet",
        data={
            "csrf_token": _csrf(form),
            "scheme": "szgws-me",
            "reason": "新材料",
            "file": (io.BytesIO(sheet), "doors.csv"),
        },
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422 and 'id="sheet-errors"' in _html(bad) and "missing_parent" in _html(bad)
    good = "编码,名称\n30-10.10.90,隔热防火门\n30-10.10.91,隔声防火门\n".encode()
    sent = con.post(
        "/requests/new/code-sheet",
        data={
            "csrf_token": _csrf(form),
            "scheme": "szgws-me",
            "reason": "新材料",
            "file": (io.BytesIO(good), "doors.csv"),
        },
        content_type="multipart/form-data",
    )
    assert sent.status_code == 302
    page = _html(client.get(sent.headers["Location"]))
    assert 'id="rows"' in page and page.count("<tr class=") >= 2 and "doors.csv" in page


def test_the_resource_proposal_and_amending_a_returned_request(app, client, party):
    con = _login(app, party, "contractor")
    form = _html(con.get(f"/requests/new/resource?code={RESOURCE}"))
    assert "提议修改数据资源" in form and 'name="reason"' in form
    current = client.get(f"/api/v1/resources/{RESOURCE}").get_json()
    data = {
        "csrf_token": _csrf(form),
        "name": current["name"],
        "summary": "施工单位建议的摘要",
        "category": current["category"],
        "provider": current["provider"],
        "share_type": current["share_type"],
        "security_grade": current["security_grade"],
        "status": current["status"],
        "reason": "摘要不准确",
    }
    sent = con.post(f"/requests/new/resource?code={RESOURCE}", data=_form_fields(data, current))
    assert sent.status_code == 302, _html(sent)[:2000]
    req = client.get("/api/v1/requests").get_json()["items"][0]
    assert req["kind"] == "resource.update" and req["payload"] == {"summary": "施工单位建议的摘要"}
    review(client, party["supervisor"], req["id"], "return", "请同时更新标签")
    amend = con.get(f"/requests/{req['id']}/amend")
    assert amend.status_code == 200 and "施工单位建议的摘要" in _html(amend)
    data = {
        **_form_fields(data, current),
        "csrf_token": _csrf(_html(amend)),
        "tags": "招标，公告，施工",
        "comment": "已补充",
    }
    again = con.post(f"/requests/{req['id']}/amend", data=data)
    assert again.status_code == 302
    shown = client.get(f"/api/v1/requests/{req['id']}").get_json()
    assert shown["status"] == "submitted" and shown["payload"]["tags"] == ["招标", "公告", "施工"]
    view = _html(client.get(f"/requests/{req['id']}"))
    assert 'data-path="summary"' in view and 'data-path="tags"' in view  # the field-by-field diff


def _form_fields(data: dict, current: dict) -> dict:
    """The resource form's field table as the browser posts it (unchanged fields)."""
    fields = current["fields"]
    return {
        **{k: v for k, v in data.items() if not k.startswith("field_")},
        "field_name": [f["name"] for f in fields],
        "field_title": [f["title"] or "" for f in fields],
        "field_type": [f["type"] for f in fields],
        "field_code_scheme": [f["code_scheme"] or "" for f in fields],
        "field_description": [f["description"] or "" for f in fields],
        "field_constraints": [json.dumps(f["constraints"]) for f in fields],
        "field_required": [str(i) for i, f in enumerate(fields) if f["required"]],
        "field_unique": [str(i) for i, f in enumerate(fields) if f["unique"]],
        "tags": "，".join(current["tags"]),
        "related": "，".join(current["related"]),
        "system": current["system"] or "",
        "format": current["format"] or "",
        "share_condition": current["share_condition"] or "",
        "share_method": current["share_method"] or "",
        "open_to_public": "1" if current["open_to_public"] else "",
        "open_condition": current["open_condition"] or "",
        "update_cycle": current["update_cycle"] or "",
        "published_on": current["published_on"] or "",
        "steward": current["steward"] or "",
        "lineage_namespace": (current["lineage"] or {}).get("namespace", ""),
        "lineage_name": (current["lineage"] or {}).get("name", ""),
        **({"tags": data["tags"]} if "tags" in data else {}),
    }


def test_pages_in_english(app, client, party):
    submit(
        client,
        party["contractor"],
        kind="code.update",
        scheme="szgws-me",
        target=DOOR,
        payload={"unit": "扇"},
    )
    html = _html(client.get("/requests?lang=en"))
    assert '<html lang="en">' in html and "Change requests" in html and "Awaiting supervisor review" in html
