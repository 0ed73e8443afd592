"""The three-party review in a real browser (Debian's Chromium through Playwright): the contractor proposes in a
form, the supervisor finds it in the 待办 queue and endorses it, the owner approves it; a returned proposal is
amended and resubmitted; a rejection; a stale approval refused. One server with the demo per database (SQLite
and PostgreSQL), shared by the module's tests."""

from __future__ import annotations

import json
import re
import threading
import urllib.request

import pytest

import migrations
from catalog import demo as catalog_demo
from registry.config import Config
from registry.db import Database
from review import parties
from standards import demo as standards_demo
from tests.conftest import _truncate
from tests.web.test_ui_browser import ARGS, CHROMIUM, Watch

pytestmark = pytest.mark.browser

USERS = {
    "contractor": ("contributor", "CSCEC3B"),
    "supervisor": ("contributor", "SUP-DEMO"),
    "owner": ("steward", "SZGWS-GCGL"),
    "direct": ("steward", None),  # a steward writing directly, beside the review
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request, tmp_path_factory):
    """The demo's organizations, codes and catalog served on a free port; yields (url, {user: secret})."""
    from werkzeug.serving import make_server

    from web import create_app

    tmp = tmp_path_factory.mktemp("review-ui")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'yima.db'}"
        migrations.upgrade(url)
    else:
        url = request.getfixturevalue("pg_database")
        _truncate(url)
    database = Database(url)
    catalog_demo.load_organizations(database, "demo")
    standards_demo.load(database, "demo", with_uniclass=False)
    catalog_demo.load_catalog(database, "demo")
    secrets = {}
    for name, (role, org) in USERS.items():
        with database.writer() as s:
            _, secrets[name] = parties.create_token(s, f"{name}-ui", role, actor="test", organization=org)
    database.dispose()
    app = create_app(Config(database_url=url, secret_key="review-ui", instance_path=str(tmp / "inst")))
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", secrets
    httpd.shutdown()
    thread.join(5)
    app.extensions["yima"].db.dispose()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def as_user(browser, server):
    """``as_user("supervisor")`` → a logged-in page of its own browser context (checked for errors at the end)."""
    origin, secrets = server
    opened = []

    def open_as(name: str):
        context = browser.new_context(locale="zh-CN", viewport={"width": 1360, "height": 900})
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.watch = Watch(page, origin)
        page.goto(f"{origin}/login")
        page.fill("#token", secrets[name])
        page.click("form.form button[type=submit]")
        page.wait_for_url(re.compile(re.escape(origin) + r"/(\?.*)?$"))
        opened.append((context, page))
        return page

    yield open_as
    for context, page in opened:
        page.watch.check()
        context.close()


def test_ui_contractor_proposes_supervisor_endorses_owner_approves(as_user, server):
    origin, _ = server
    con = as_user("contractor")
    assert "CSCEC3B" in con.locator("#who-org").inner_text()
    con.click("#nav-requests")
    con.click("#propose-code")
    con.select_option("#f-kind", "code.add")
    con.fill("#f-code", "30-10.10.90")
    con.fill("#f-name", "隔热防火门")
    con.fill("#f-unit", "樘")
    con.fill("#f-reason", "施工现场使用 A 类隔热防火门，编码表中没有")
    con.click("#submit-request")
    con.wait_for_selector("#request-meta")
    assert con.locator("#request-status").get_attribute("data-status") == "submitted"
    assert "待监理审核" in con.locator("#request-status").inner_text()
    rid = re.search(r"/requests/(\d+)$", con.url).group(1)
    assert con.locator("#no-actions").count() == 1  # the submitter cannot review its own request

    sup = as_user("supervisor")
    assert sup.locator("#count-todo").inner_text() == "1"
    sup.click("#nav-requests")
    sup.locator(f'#todo-list tr[data-id="{rid}"] a').click()
    sup.wait_for_selector("#changes")
    assert "隔热防火门" in sup.locator("#changes").inner_text()
    assert "钢质防火门" in sup.locator("#siblings").inner_text()  # what is already there beside it
    assert sup.locator("#act-approve").count() == 0  # only the supervisor's actions are offered
    sup.fill("#f-comment", "现场核实无误")
    sup.click("#act-endorse")
    sup.wait_for_selector(".flash")
    assert sup.locator("#request-status").get_attribute("data-status") == "reviewed"

    own = as_user("owner")
    own.goto(f"{origin}/requests/{rid}")
    assert own.locator("#act-endorse").count() == 0
    own.click("#act-approve")
    own.wait_for_selector(".flash")
    assert own.locator("#request-status").get_attribute("data-status") == "approved"
    actions = own.locator("#history tbody tr").evaluate_all("rows => rows.map(r => r.dataset.action)")
    assert actions == ["submit", "endorse", "approve"]
    own.goto(f"{origin}/codes/szgws-me/30-10.10.90")
    assert "隔热防火门" in own.locator("h1").inner_text()
    own.goto(f"{origin}/audit?entity_type=release")
    assert f"申请 #{rid}" in own.locator("tr.entry").first.inner_text()  # the change names the request


def test_ui_a_returned_proposal_is_amended_and_a_rejection_says_why(as_user, server):
    origin, _ = server
    con = as_user("contractor")
    con.goto(f"{origin}/requests/new/resource?code=A0101-001")
    con.fill("#f-summary", "施工单位建议的摘要")
    con.fill("#f-reason", "摘要未写明发布渠道")
    con.click("#save")
    con.wait_for_selector("#request-meta")
    rid = re.search(r"/requests/(\d+)$", con.url).group(1)
    assert con.locator('#changes tr[data-path="summary"]').count() == 1

    sup = as_user("supervisor")
    sup.goto(f"{origin}/requests/{rid}")
    sup.watch.expected_statuses.add(422)
    sup.click("#act-return")  # no comment: refused, the page says why
    assert sup.locator("#action-error").count() == 1
    sup.fill("#f-comment", "请写明发布渠道")
    sup.click("#act-return")
    sup.wait_for_selector(".flash")
    assert sup.locator("#request-status").get_attribute("data-status") == "returned"

    con.goto(f"{origin}/requests")
    con.locator(f'#todo-list tr[data-id="{rid}"] a').click()
    con.click("#act-amend")
    con.fill("#f-summary", "施工单位建议的摘要：在政府工程管理平台发布")
    con.fill("#f-comment", "已补充发布渠道")
    con.click("#save")
    con.wait_for_selector("#request-meta")
    assert con.locator("#request-status").get_attribute("data-status") == "submitted"

    sup.goto(f"{origin}/requests/{rid}")
    sup.click("#act-endorse")
    sup.wait_for_selector(".flash")
    own = as_user("owner")
    own.goto(f"{origin}/requests/{rid}")
    own.fill("#f-comment", "摘要由建设单位统一撰写")
    own.click("#act-reject")
    own.wait_for_selector(".flash")
    assert own.locator("#request-status").get_attribute("data-status") == "rejected"
    assert "摘要由建设单位统一撰写" in own.locator("#history").inner_text()
    own.goto(f"{origin}/catalog/A0101-001")
    assert "施工单位建议" not in own.locator("body").inner_text()


def test_ui_the_request_pages_in_english(as_user, server):
    origin, _ = server
    sup = as_user("supervisor")
    sup.goto(f"{origin}/requests?lang=en")
    assert sup.get_attribute("html", "lang") == "en"
    assert sup.locator("h1").inner_text().startswith("Change requests")


def test_ui_a_stale_approval_is_refused_and_says_why(as_user, server):
    origin, secrets = server
    con = as_user("contractor")
    con.goto(f"{origin}/requests/new/code?scheme=szgws-me&code=30-10.10.20")
    assert con.locator("#f-kind").input_value() == "code.update"
    con.fill("#f-name", "木质防火门（乙级）")
    con.fill("#f-reason", "应注明耐火等级")
    con.click("#submit-request")
    con.wait_for_selector("#request-meta")
    rid = re.search(r"/requests/(\d+)$", con.url).group(1)
    sup = as_user("supervisor")
    sup.goto(f"{origin}/requests/{rid}")
    sup.click("#act-endorse")
    sup.wait_for_selector(".flash")
    # meanwhile a steward changes the code directly
    patch = urllib.request.Request(
        f"{origin}/api/v1/schemes/szgws-me/codes/30-10.10.20",
        data=json.dumps({"unit": "扇"}).encode(),
        method="PATCH",
        headers={"Authorization": f"Bearer {secrets['direct']}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(patch) as resp:
        assert resp.status == 200
    own = as_user("owner")
    own.goto(f"{origin}/requests/{rid}")
    assert own.locator("#stale").count() == 1  # the owner is warned before acting
    own.watch.expected_statuses.add(409)
    own.click("#act-approve")
    assert "已被修改" in own.locator("#action-error").inner_text()
    assert own.locator("#request-status").get_attribute("data-status") == "reviewed"
    own.goto(f"{origin}/codes/szgws-me/30-10.10.20")
    assert "木质防火门（乙级）" not in own.locator("h1").inner_text()
