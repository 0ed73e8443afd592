"""Column lineage in a real browser (Debian's Chromium through Playwright): a steward previews the SQL of
a view over a catalogued resource in the SQL box (its SELECT * expanded from the catalog's fields),
records it, and finds each field's downstream fields with the transformation in Chinese on the
resource's page; the lineage page draws the column level. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading

import pytest

import migrations
from catalog import demo as catalog_demo
from registry.config import Config
from registry.db import Database
from registry.tokens import create_token
from tests.conftest import _truncate
from tests.web.test_ui_browser import ARGS, CHROMIUM, Watch

pytestmark = pytest.mark.browser

VIEW = (
    "CREATE VIEW rpt.tender_summary AS\n"
    "SELECT t.*, UPPER(t.tender_type) AS kind FROM tender_notice t WHERE t.budget > 0;\n"
    "SELEC broken FROM;"
)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request, tmp_path_factory):
    """The demo catalog served on a free port; yields (url, steward secret)."""
    from werkzeug.serving import make_server

    from web import create_app

    tmp = tmp_path_factory.mktemp("columns-ui")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'yima.db'}"
        migrations.upgrade(url)
    else:
        url = request.getfixturevalue("pg_database")
        _truncate(url)
    database = Database(url)
    catalog_demo.load_organizations(database, "demo")
    catalog_demo.load_catalog(database, "demo")
    with database.writer() as s:
        _, secret = create_token(s, "steward-ui", "steward", actor="test")
    database.dispose()
    app = create_app(Config(database_url=url, secret_key="columns-ui", instance_path=str(tmp / "inst")))
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", secret
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


def test_ui_steward_previews_records_sql_and_sees_field_lineage(browser, server):
    origin, secret = server
    context = browser.new_context(locale="zh-CN", viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    watch = Watch(page, origin)
    page.goto(f"{origin}/login")
    page.fill("#token", secret)
    page.click("form.form button[type=submit]")
    page.wait_for_url(re.compile(re.escape(origin) + r"/(\?.*)?$"))

    page.goto(f"{origin}/lineage")
    page.click("#sql-box")
    page.select_option("#dialect", "dm")
    page.fill("#namespace", "szgws.gcjs")
    page.fill("#sql", VIEW)
    page.click("#preview")
    page.wait_for_selector("#sql-statements")
    rows = page.locator("#sql-statements tbody tr")
    assert rows.count() == 2
    first = rows.nth(0).inner_text()
    # SELECT * expanded from the catalog's fields of 招标公告 (tender_notice)
    assert "tender_no" in first and "deadline" in first and "直接 · 原样" in first
    assert "直接 · 转换" in first  # UPPER(tender_type)
    assert "间接 · 筛选" in first  # the WHERE, once for the whole dataset
    assert "cannot be parsed" in rows.nth(1).inner_text()
    assert page.locator("#sql-recorded").count() == 0

    page.click("#record")
    page.wait_for_selector("#sql-recorded")
    assert "已记录 1 个血缘事件" in page.locator("#sql-recorded").inner_text()

    page.goto(f"{origin}/catalog/A0101-001")
    table = page.locator("#field-lineage")
    budget = table.locator('tr[data-field="budget"]').inner_text()
    assert "tender_summary.budget" in budget and "直接 · 原样" in budget
    kind = table.locator('tr[data-field="tender_type"]').inner_text()
    assert "tender_summary.kind" in kind and "直接 · 转换" in kind
    assert "tender_summary" in table.locator('tr[data-field="budget"] td.downstream').inner_text()

    page.click("#column-lineage-page")
    page.wait_for_selector("#graph svg")
    assert page.locator("#level").input_value() == "column"
    assert page.locator("g.node.field").count() >= 7
    assert "column · DIRECT/IDENTITY" in page.locator("#edge-list").text_content()
    watch.check()
    context.close()
