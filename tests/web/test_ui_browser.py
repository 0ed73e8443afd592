"""The browse UI in a real browser: Debian's Chromium driven by Playwright against a live server with the demo data.

One server and one browser for the whole module (SQLite, demo loaded once) keeps it fast; every page
is checked for console errors and for requests leaving the server's origin. Screenshots of the main
pages (zh) go to docs/screenshots/.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import os
import re
import subprocess
import threading
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

import migrations
from catalog import organizations
from registry.config import Config
from registry.tokens import create_token
from tests.registry.evidence_helpers import rewrite

CHROMIUM = os.environ.get("YIMA_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
VERIFIER = Path(__file__).resolve().parents[2] / "docs" / "auditor" / "yima_verify.py"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

if not Path(CHROMIUM).exists() and os.environ.get("CI", "").lower() not in ("1", "true", "yes"):
    pytest.skip(
        f"{CHROMIUM} is not installed (apt-get install chromium); CI runs these", allow_module_level=True
    )

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A migrated SQLite database with ``yima demo`` loaded, served on a free port; yields (url, steward token)."""
    from web import create_app
    from web.cli import main

    tmp = tmp_path_factory.mktemp("ui")
    url = f"sqlite:///{tmp / 'yima.db'}"
    migrations.upgrade(url)
    env = {"YIMA_DATABASE_URL": url, "YIMA_SECRET_KEY": "ui-secret", "YIMA_INSTANCE_PATH": str(tmp / "inst")}
    result = CliRunner().invoke(main, ["demo"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    app = create_app(Config(database_url=url, secret_key="ui-secret", instance_path=str(tmp / "inst")))
    with app.extensions["yima"].db.writer() as s:
        _, secret = create_token(s, "王工", "steward", actor="test")
    with serving(app) as origin:
        yield origin, secret


@contextlib.contextmanager
def serving(app):
    """``app`` behind a real HTTP server on a free port, for the duration of the block; yields its origin."""
    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(5)
        app.extensions["yima"].db.dispose()


@pytest.fixture
def small_server(tmp_path):
    """A server of its own over a small log (no demo), for a test that rewrites history; yields (origin, db)."""
    from web import create_app

    url = f"sqlite:///{tmp_path / 'yima.db'}"
    migrations.upgrade(url)
    app = create_app(Config(database_url=url, secret_key="ui-secret", instance_path=str(tmp_path / "inst")))
    with serving(app) as origin:
        yield origin, app.extensions["yima"].db


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


class Watch:
    """Console errors, page errors and any request that leaves the server's origin."""

    def __init__(self, page, origin: str):
        self.origin = origin
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.failed: list[str] = []
        #: statuses a test provokes on purpose (a form sent back with its errors is a 422)
        self.expected_statuses: set[int] = set()
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.status} {r.url}"))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", self._request)

    def _request(self, req):
        if not (req.url == self.origin or req.url.startswith(self.origin + "/")):
            self.outside.append(req.url)

    def check(self):
        unexpected = [f for f in self.failed if int(f.split()[0]) not in self.expected_statuses]
        assert unexpected == [], f"failed requests: {unexpected}"
        errors = [
            e
            for e in self.errors
            if not any(f"status of {code}" in e for code in self.expected_statuses)
            or "Failed to load resource" not in e
        ]
        assert errors == [], f"console errors: {errors}"
        assert self.outside == [], f"requests left the server: {self.outside}"


@pytest.fixture
def page(browser, server):
    origin, _ = server
    context = browser.new_context(locale="zh-CN", viewport={"width": 1360, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    pg.watch = Watch(pg, origin)
    yield pg
    pg.watch.check()
    context.close()


def _has_cjk_font() -> bool:
    try:
        return bool(subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout.strip())
    except OSError:
        return False


#: ``YIMA_SCREENSHOTS=1`` refreshes docs/screenshots (opt-in, so a test run leaves the tree clean); only
#: when Chinese renders (Debian: apt-get install fonts-wqy-microhei)
WRITE_SHOTS = os.environ.get("YIMA_SCREENSHOTS") == "1" and _has_cjk_font()


def shot(page, name: str) -> None:
    if not WRITE_SHOTS:
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def login(page, origin: str, secret: str) -> None:
    page.goto(f"{origin}/login")
    page.fill("#token", secret)
    page.click("form.form button[type=submit]")
    page.wait_for_url(re.compile(re.escape(origin) + r"/(\?.*)?$"))


def get_json(origin: str, path: str):
    with urllib.request.urlopen(origin + path, timeout=30) as r:
        return json.loads(r.read())


def standalone_verifier():
    """docs/auditor/yima_verify.py as a module: the auditor's functions, which import nothing of Yima."""
    spec = importlib.util.spec_from_file_location("yima_verify", VERIFIER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def standalone_fingerprint(key: str) -> str:
    return standalone_verifier().sha256(base64.b64decode(key.split("+", 2)[2])).hex()


def paste_checkpoint(page, origin: str, note: str) -> None:
    page.goto(origin + "/audit")
    page.click("#check-checkpoint > summary")
    page.fill("#checkpoint-input", note)
    page.click("#check-submit")
    page.wait_for_selector("#check-result")


def no_overlaps(page) -> list:
    """Pairs of drawn lineage nodes whose boxes intersect on screen."""
    return page.evaluate(
        """() => {
        const boxes = [...document.querySelectorAll('#graph g.node rect')].map(r => r.getBoundingClientRect());
        const bad = [];
        for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
          const a = boxes[i], b = boxes[j];
          if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) bad.push([i, j]);
        }
        return bad;
      }"""
    )


def test_ui_overview_in_chinese(page, server):
    origin, _ = server
    page.goto(origin + "/")
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert page.locator("h1").inner_text() == "数据治理概览"
    assert page.locator("#chain-state").inner_text().startswith("完整")
    assert re.fullmatch(r"[0-9a-f]{64}", page.locator("#audit-head").inner_text())
    assert int(page.locator("#count-resources").inner_text()) > 10
    # the latest signed checkpoint, and the key's fingerprint where an auditor copies it from
    api = get_json(origin, "/api/v1/audit/checkpoint")
    assert int(page.locator("#checkpoint-size").inner_text()) == api["size"] > 0
    assert page.locator("#checkpoint-root").inner_text() == api["root"]
    assert page.locator("#verifier-key").inner_text() == api["key"]
    fingerprint = page.locator("#key-fingerprint").inner_text()
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint) and fingerprint == standalone_fingerprint(api["key"])
    page.click("#checkpoint summary")
    assert page.locator("#checkpoint-note").text_content() == api["note"]  # exactly the signed bytes
    copy = page.locator("button[data-copy]")
    assert copy.is_visible()  # shown once the script runs
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
    copy.click()
    assert page.evaluate("navigator.clipboard.readText()") == api["note"]
    assert copy.inner_text() == "已复制"
    with page.expect_download() as download:
        page.click("#checkpoint-download")
    assert Path(download.value.path()).read_text("utf-8") == api["note"]
    assert download.value.suggested_filename == f"yima-checkpoint-{api['size']}.txt"
    shot(page, "overview")


def test_ui_search_the_catalog_in_chinese_and_open_a_resource(page, server):
    origin, _ = server
    page.goto(origin + "/catalog")
    page.fill("#q", "招标")
    page.click("#search")
    page.wait_for_url("**/catalog?q=*")
    assert "共 0 个" not in page.locator("#result-count").inner_text()
    titles = page.locator("#results .hit h2 a").all_inner_texts()
    assert titles and all("招标" in t or True for t in titles)
    assert any("招标" in t for t in titles)
    shot(page, "catalog")
    page.locator("#results .hit h2 a").first.click()
    page.wait_for_selector("#resource-meta")
    assert "招标" in page.locator("#resource-name").inner_text()
    assert page.locator("#fields tbody tr").count() >= 2
    assert page.locator("#graph g.node").count() >= 2  # its lineage neighbourhood
    assert page.locator("#json-twin").get_attribute("href").startswith("/api/v1/resources/")
    shot(page, "resource")


def test_ui_pinyin_initials_find_resources(page, server):
    origin, _ = server
    page.goto(origin + "/catalog?q=zb")
    assert "共 0 个" not in page.locator("#result-count").inner_text()


def test_ui_expand_the_code_tree(page, server):
    origin, _ = server
    page.goto(origin + "/codes/szgws-me")
    door = page.locator('#code-tree > li[data-code="30-10.00.00"]')
    door.locator("> .toggle").click()
    page.wait_for_selector('#code-tree li[data-code="30-10.10.00"]')
    page.locator('#code-tree li[data-code="30-10.10.00"] > .toggle').click()
    page.wait_for_selector('#code-tree li[data-code="30-10.10.10"]')
    assert "钢质防火门" in page.locator('#code-tree li[data-code="30-10.10.10"]').inner_text()
    shot(page, "codes")
    page.locator('#code-tree li[data-code="30-10.10.10"] a').click()
    page.wait_for_selector("#code-meta")
    assert "门窗" in page.locator("nav.crumbs").inner_text()


def test_ui_big_code_tree_stays_fast(page, server):
    origin, _ = server
    page.goto(origin + "/codes/uniclass2015")
    page.locator('#code-tree > li[data-code="Pr"] > .toggle').click()
    page.wait_for_selector('#code-tree li[data-code="Pr_20"]')
    assert page.locator("#code-tree li").count() < 100  # only what was opened is in the page


def test_ui_validate_pasted_codes(page, server):
    origin, _ = server
    page.goto(origin + "/codes/szgws-me")
    page.fill("#validate-codes", "30-10.10.10\n３０－１０．１０．２０\n40-10.10.90\n30-99.99.99\nabc")
    page.click("#validate-submit")
    page.wait_for_selector("#validate-results")
    statuses = page.locator("#validate-results tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.status)"
    )
    assert statuses == ["deprecated", "unknown", "malformed", "active", "active"]  # invalid first
    assert "共 5 个：2 个有效，3 个无效" in page.locator("#validate-summary").inner_text()
    assert "40-10.10.20" in page.locator("#validate-results tbody tr").nth(0).inner_text()  # the successor
    shot(page, "validate")


def test_ui_draw_the_lineage_and_go_back_in_time(page, server):
    origin, _ = server
    page.goto(origin + "/lineage")
    assert page.locator("#graph svg").count() == 1
    nodes_now = page.locator("#graph g.node").count()
    assert nodes_now >= 8
    assert no_overlaps(page) == []
    labels = page.locator("#graph g.node text:not(.sub)").all_text_contents()
    assert any(re.search(r"[\u4e00-\u9fff]", t) for t in labels)  # Chinese system names
    shot(page, "lineage")
    page.select_option("#level", "dataset")
    page.click("#draw")
    page.wait_for_url("**level=dataset**")
    assert no_overlaps(page) == []
    datasets_now = page.locator("#graph g.node").count()
    page.fill("#as_of", "2025-04-01")
    page.click("#draw")
    page.wait_for_url("**as_of=2025-04-01**")
    assert 0 < page.locator("#graph g.node").count() < datasets_now
    assert "截至 2025-04-01" in page.locator("#graph-summary").inner_text()
    assert no_overlaps(page) == []
    hrefs = page.locator(".exports a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    # the date is read in Asia/Shanghai: 00:00 there is 16:00 UTC the day before
    assert len(hrefs) == 5 and all("as_of=2025-03-31T16%3A00%3A00Z" in h for h in hrefs)
    with page.expect_download() as download:
        page.click('.exports a[data-format="csv"]')
    assert download.value.suggested_filename.endswith(".csv")


def test_ui_english_by_switch(page, server):
    origin, _ = server
    page.goto(origin + "/?lang=en")
    assert page.get_attribute("html", "lang") == "en"
    assert page.locator("h1").inner_text() == "Data governance overview"
    page.goto(origin + "/catalog")  # remembered
    assert page.locator("h1").inner_text() == "Data resource catalog"


def test_ui_api_docs_render_offline(page, server):
    origin, _ = server
    page.goto(origin + "/api/v1/docs")
    page.wait_for_selector(".swagger-ui .info", timeout=15_000)


def test_ui_log_in_edit_a_resource_and_see_the_audit_entry(page, server):
    origin, secret = server
    login(page, origin, secret)
    assert "王工" in page.locator("header .who").inner_text()
    page.watch.expected_statuses.add(422)  # the form sent back with a field error
    page.goto(origin + "/catalog/A0101-001")
    page.click("#edit-resource")
    page.wait_for_selector("#resource-form")
    page.fill("#f-name", "")
    page.click("#save")
    assert page.locator('.field-error[data-for="name"]').inner_text() == "长度应为 1–200 个字符"
    page.fill("#f-name", "招标公告（浏览器修订）")
    page.fill("#f-tags", "招标，公告，浏览器")
    page.click("#save")
    page.wait_for_url(origin + "/catalog/A0101-001")
    assert page.locator("#resource-name").inner_text() == "招标公告（浏览器修订）"
    assert "已保存" in page.locator(".flash").inner_text()
    page.goto(origin + "/audit?entity_type=resource&entity_key=A0101-001")
    first = page.locator("tr.entry").first
    assert "王工" in first.inner_text() and first.locator("td[data-action]").inner_text() == "修改"
    assert "招标公告（浏览器修订）" in first.locator("table.diff").inner_text()
    page.click("#verify-chain")
    assert page.locator("#verify-result").inner_text().startswith("审计链完整")
    shot(page, "audit")
    page.click("header form button")
    assert page.locator("header .session a").inner_text() == "登录"


def test_ui_an_entrys_proof_verifies_with_the_auditors_own_functions(page, server):
    origin, _ = server
    page.goto(origin + "/audit")
    page.locator("tr.entry").nth(2).locator("td a").first.click()
    page.wait_for_selector("#proof")
    seq = int(page.url.rsplit("/", 1)[1])
    assert page.locator("#entry-title").inner_text() == f"审计记录 {seq}"
    v = standalone_verifier()
    entry = get_json(origin, f"/api/v1/audit?after_seq={seq - 1}&per_page=1")["items"][0]
    assert page.locator("#entry-hash").inner_text() == entry["hash"] and v.entry_hash_ok(entry)
    leaf = bytes.fromhex(page.locator("#leaf-hash").inner_text())
    assert leaf == v.leaf_of(entry["hash"])
    size, index = int(page.locator("#tree-size").inner_text()), int(page.locator("#leaf-index").inner_text())
    path = [base64.b64decode(t) for t in page.locator("#proof-path li code").all_inner_texts()]
    note = page.locator("#checkpoint-note").text_content()
    _, signed_size, root = v.check_note(note, page.locator("#verifier-key").inner_text())
    assert index == seq - 1 and size == signed_size >= seq and path
    assert v.inclusion_ok(index, size, leaf, path, root)
    assert not v.inclusion_ok(index, size, v.leaf_of("00" * 32), path, root)  # it proves this entry only
    proof = get_json(origin, page.locator("#api-proof").get_attribute("href"))
    assert proof["path"] == [base64.b64encode(p).decode() for p in path] and proof["tree_size"] == size
    assert page.locator("a.twin").get_attribute("href") == f"/api/v1/audit/{seq}"
    shot(page, "audit-entry")


def test_ui_paste_an_honest_checkpoint(page, server):
    origin, _ = server
    note = get_json(origin, "/api/v1/audit/checkpoint")["note"]
    paste_checkpoint(page, origin, note)
    assert page.locator("#check-result").get_attribute("data-verdict") == "extends"
    assert page.locator("#check-signature").inner_text().startswith("签名有效")
    assert page.locator("#check-consistency").inner_text().startswith("一致")
    shot(page, "audit-check")


def test_ui_paste_a_checkpoint_after_a_malicious_rewrite(page, small_server):
    origin, db = small_server
    page.watch.origin = origin  # this test's own server is the one origin allowed
    for i in range(12):
        with db.writer() as s:
            organizations.create(s, {"code": f"R{i}", "name": f"单位{i}"}, actor="王工" if i < 8 else "李工")
        if i + 1 in (8, 12):
            kept = get_json(origin, "/api/v1/audit/checkpoint")["note"]  # issued at sizes 8 and 12
    paste_checkpoint(page, origin, kept)
    assert page.locator("#check-result").get_attribute("data-verdict") == "extends"

    rewrite(db, 10, actor="王工")  # 李工's entry now blames 王工; every later hash and the tree recomputed

    page.goto(origin + "/")
    assert page.locator("#chain-state").inner_text().startswith("完整")  # the plain chain is fooled
    paste_checkpoint(page, origin, kept)
    result = page.locator("#check-result")
    assert result.get_attribute("data-verdict") == "changed" and "bad" in result.get_attribute("class")
    assert page.locator("#check-signature").inner_text().startswith("签名有效")
    assert page.locator("#check-consistency").inner_text().startswith("不再一致")
    between = page.locator("#check-between").inner_text()
    assert "记录数为 8 的检查点（仍被延续）与记录数为 12 的检查点（不再被延续）" in between
    assert "第 9–12 条记录中有被篡改的" in between
