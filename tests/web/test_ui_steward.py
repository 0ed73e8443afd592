"""A steward's day (issue 14) in a real browser: Chinese everywhere a person reads, local times, the
validation box, the forms, readable audit diffs, the code tree, the phone layout, axe-core, search.

Same set-up as ``test_ui_browser.py`` (its fixtures: one demo server and one Chromium per module,
locale zh-CN, every page watched for console errors and requests leaving the server).
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from playwright.sync_api import expect

from tests.web import test_ui_browser as ui
from tests.web.test_ui_browser import get_json, login

# the fixtures of test_ui_browser.py, shared (a server and a browser of this module's own)
server, browser, page = ui.server, ui.browser, ui.page

pytestmark = pytest.mark.browser

LATIN_WORDS = re.compile(r"\b(?:is|not|expected|levels|found|duplicate|field|name|must|create|update)\b")


# --- 1. Chinese everywhere, local times ------------------------------------------------------------


def test_validation_errors_read_in_chinese(page, server):
    origin, _ = server
    page.goto(origin + "/codes/szgws-me")
    page.fill("#validate-codes", "40-1\n30-99.99.99\n40-10.10.90")
    page.click("#validate-submit")
    page.wait_for_selector("#validate-results")
    text = page.locator("#validate-results").inner_text()
    assert "“40-1”不是 szgws-me 编码：表代码后应有 3–4 级，实际为 1 级" in text
    assert "30-99.99.99 不在 szgws-me 的" in text
    assert "40-10.10.90 已废止，请改用 40-10.10.20" in text
    assert not LATIN_WORDS.search(text), text
    # the API's words stay as they are
    api = get_json(origin, "/api/v1/validate/codes?scheme=szgws-me&code=40-1")
    assert "is not a szgws-me code: expected 3–4 levels" in api["errors"][0]["message"]


def test_lineage_errors_read_in_chinese(page, server):
    origin, _ = server
    page.goto(origin + "/lineage?level=dataset&node=dataset:nowhere:nothing")
    alert = page.locator("main [role=alert]").first
    assert alert.inner_text() == "血缘中没有节点“dataset:nowhere:nothing”。"


def test_form_errors_read_in_chinese(page, server):
    origin, secret = server
    login(page, origin, secret)
    page.watch.expected_statuses.add(422)
    page.goto(origin + "/catalog/A0101-001/edit")
    page.locator("#fields-edit input[name=field_name]").nth(1).fill("tender_no")
    page.click("#save")
    page.wait_for_selector("#error-summary")
    form = page.locator("#resource-form").inner_text()
    assert "字段名“tender_no”重复" in form
    assert "duplicate" not in form


def test_audit_actions_keys_and_times_in_chinese(page, server):
    origin, _ = server
    page.goto(origin + "/audit?entity_type=resource")
    first = page.locator("tr.entry").first
    action = first.locator("td[data-action]")
    assert action.get_attribute("data-action") == "create" and action.inner_text() == "新建"
    assert "数据资源" in first.inner_text()
    keys = first.locator("table.diff tr[data-key] td:first-child").all_inner_texts()
    assert "信息资源摘要" in keys and "summary" not in keys
    # the time in Asia/Shanghai with the offset shown, the UTC instant kept in the element
    shown = first.locator("time")
    utc = dt.datetime.fromisoformat(shown.get_attribute("datetime").replace("Z", "+00:00"))
    local = utc.astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert shown.inner_text() == local.strftime("%Y-%m-%d %H:%M:%S") + " +08:00"
    assert shown.get_attribute("title") == "Asia/Shanghai"
    options = page.locator("select[name=entity_type] option").all_inner_texts()
    assert "数据资源" in options and "resource" not in options


def test_constraints_and_revision_values_in_words(page, server):
    origin, secret = server
    page.goto(origin + "/catalog/A0101-001")
    row = page.locator("#fields tbody tr", has_text="tender_no")
    assert row.locator("td.constraints").inner_text() == "最多 40 个字符"
    assert "max_length" not in page.locator("#fields").inner_text()
    login(page, origin, secret)
    page.goto(origin + "/catalog/A0101-001/edit")
    page.select_option("#f-security_grade", "important")
    page.click("#save")
    page.wait_for_url(origin + "/catalog/A0101-001")
    latest = page.locator("#revisions details").first
    changed = latest.locator('tr[data-key="security_grade"]')
    assert changed.locator("td").nth(0).inner_text() == "数据分级"
    assert changed.locator("td.new").inner_text() == "重要数据"
    assert "important" not in latest.inner_text()
    assert "修改" in latest.locator("summary").inner_text()


# --- 2. the validation box -----------------------------------------------------------------------


def _paste(page, origin, text):
    page.goto(origin + "/codes/szgws-me")
    page.locator("#validate-codes").evaluate("(area, text) => { area.value = text; }", text)
    page.click("#validate-submit")
    page.wait_for_selector("#validate-results")


def _rows(page):
    return page.locator("#validate-results tbody tr").evaluate_all(
        "rows => rows.map(r => [Number(r.dataset.line), r.dataset.status])"
    )


def test_validation_invalid_first_with_original_line_numbers_counts_and_filter(page, server):
    origin, _ = server
    _paste(page, origin, "30-10.10.10\n\n40-1\n30-10.10.20\n\n\nabc\n30-99.99.99")
    # invalid rows first, numbered as in the pasted text (blank lines count)
    assert _rows(page) == [[3, "malformed"], [7, "malformed"], [8, "unknown"], [1, "active"], [4, "active"]]
    counts = page.locator("#error-counts button[data-type]")
    assert counts.evaluate_all("bs => bs.map(b => [b.dataset.type, b.querySelector('.n').textContent])") == [
        ["malformed", "2"],
        ["unknown", "1"],
    ]
    expect(page.locator("#validate-summary")).to_be_focused()  # focused by the page's script once it ran
    page.check("#only-invalid")  # submits the form again
    # locator assertions, not wait_for_function: its string predicate is eval'd in the page, which the
    # pages' CSP (no 'unsafe-eval') refuses with a console error when it has to poll across a navigation
    expect(page.locator("#validate-results tbody tr")).to_have_count(3)
    assert [s for _, s in _rows(page)] == ["malformed", "malformed", "unknown"]
    page.locator('#error-counts button[data-type="unknown"]').click()
    expect(page.locator("#validate-results tbody tr")).to_have_count(1)
    assert _rows(page) == [[8, "unknown"]]
    assert page.locator("#validate-codes").input_value().count("\n") == 7  # the text kept as pasted


def test_validation_exports_the_invalid_rows(page, server):
    import csv
    import io

    from openpyxl import load_workbook

    origin, _ = server
    _paste(page, origin, "30-10.10.10\n\n40-1\n30-10.10.20\n\n\nabc\n40-10.10.90")
    with page.expect_download() as download:
        page.click("#export-csv")
    assert download.value.suggested_filename == "invalid-szgws-me.csv"
    rows = list(csv.reader(io.StringIO(open(download.value.path(), encoding="utf-8-sig").read())))
    assert rows[0][:3] == ["行号", "输入", "规范化编码"]
    assert [(r[0], r[1]) for r in rows[1:]] == [("3", "40-1"), ("7", "abc"), ("8", "40-10.10.90")]
    assert "“40-1”不是 szgws-me 编码" in rows[1][5] and rows[3][6] == "40-10.10.20"
    with page.expect_download() as download:
        page.click("#export-xlsx")
    assert download.value.suggested_filename == "invalid-szgws-me.xlsx"
    sheet = load_workbook(io.BytesIO(open(download.value.path(), "rb").read())).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert [v[:2] for v in values[1:]] == [[3, "40-1"], [7, "abc"], [8, "40-10.10.90"]]


def test_validation_of_5000_codes_is_paged(page, server):
    origin, _ = server
    lines = ["30-10.10.10", "30-10.10.20", "３０－１０．１０．１０"] * 1667
    lines = lines[:5000]
    lines[4321] = "40-1"
    _paste(page, origin, "\n".join(lines))
    assert "共 5000 个：4999 个有效，1 个无效" in page.locator("#validate-summary").inner_text()
    assert _rows(page)[0] == [4322, "malformed"]
    assert page.locator("#validate-results tbody tr").count() == 100
    assert page.evaluate("document.getElementsByTagName('*').length") < 2000  # was 45,000
    page.click("#next-page")
    page.wait_for_selector("#validate-pager >> text=第 2 / 50 页")
    assert page.locator("#validate-results tbody tr").first.get_attribute("data-line") == "100"


# --- 3. forms ----------------------------------------------------------------------------------


def test_code_form_applies_the_apis_rules_and_shows_every_error_at_once(page, server):
    origin, secret = server
    login(page, origin, secret)
    page.watch.expected_statuses.add(422)
    page.goto(origin + "/codes/szgws-me/new")
    hint = page.locator("#hint-code").inner_text()
    assert re.search(r"例如 \S+", hint), hint  # an example, not an empty "例如"
    page.fill("#f-code", "30-10.10.99")
    page.fill("#f-name", "")
    page.fill("#f-unit", "米" * 40)  # the API answers 422 above 32
    page.click("#save-code")
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()  # focused by the page's script once it ran
    links = summary.locator("a").evaluate_all("as => as.map(a => [a.getAttribute('href'), a.textContent])")
    assert [h for h, _ in links] == ["#f-name", "#f-unit"]  # both at once, in page order
    assert "最多 32 个字符" in links[1][1]
    unit = page.locator("#f-unit")
    assert unit.get_attribute("aria-invalid") == "true"
    described = unit.get_attribute("aria-describedby").split()
    assert "hint-unit" in described
    assert any(page.locator(f"#{d}").inner_text() == "最多 32 个字符" for d in described)
    assert unit.input_value() == "米" * 40  # the typing kept
    summary.locator('a[href="#f-unit"]').click()
    assert page.evaluate("document.activeElement.id") == "f-unit"
    assert get_json(origin, "/api/v1/schemes/szgws-me/codes?q=30-10.10.99")["total"] == 0


def test_code_form_edits_attributes_and_deprecates_with_a_successor(page, server):
    origin, secret = server
    login(page, origin, secret)
    page.goto(origin + "/codes/szgws-me/30-10.10.30/edit")
    row = page.locator("#attributes-edit tbody tr").last
    row.locator("input[name=attr_name]").fill("耐火极限")
    row.locator("select[name=attr_type]").select_option("number")
    row.locator("input[name=attr_unit]").fill("h")
    row.locator("input[name=attr_minimum]").fill("0.5")
    page.check("#f-deprecated")
    page.fill("#f-successor", "30-10.10.10")
    page.click("#save-code")
    page.wait_for_selector("#code-meta")
    doc = get_json(origin, "/api/v1/schemes/szgws-me/codes/30-10.10.30")
    assert doc["status"] == "deprecated" and doc["successor"] == "30-10.10.10"
    mine = [a for a in doc["own_attributes"] if a["name"] == "耐火极限"]
    assert mine and mine[0]["type"] == "number" and mine[0]["unit"] == "h" and mine[0]["minimum"] == 0.5
    assert page.locator("#successor").inner_text() == "30-10.10.10"


def test_resource_form_keeps_the_typing_after_a_conflict(page, server, browser):
    origin, secret = server
    login(page, origin, secret)
    page.watch.expected_statuses.add(409)
    page.goto(origin + "/catalog/A0302-002/edit")
    # another steward saves in between, in a browser of their own
    other = browser.new_context(locale="zh-CN")
    tab = other.new_page()
    login(tab, origin, secret)
    tab.goto(origin + "/catalog/A0302-002/edit")
    tab.fill("#f-name", "另一位管理员改的名称")
    tab.click("#save")
    tab.wait_for_url(origin + "/catalog/A0302-002")
    other.close()
    page.fill("#f-summary", "我刚写好的摘要，不能丢。")
    page.click("#save")
    conflict = page.locator("#conflict")
    # the page's script moves the focus once it has run: wait for it rather than read it at once
    expect(conflict).to_be_focused()
    assert page.locator("#f-summary").input_value() == "我刚写好的摘要，不能丢。"
    assert "另一位管理员改的名称" in conflict.locator('li[data-key="name"]').inner_text()
    page.click("#save")  # now a deliberate save over the latest version
    page.wait_for_url(origin + "/catalog/A0302-002")
    assert page.locator("#resource-summary").inner_text() == "我刚写好的摘要，不能丢。"


# --- 4. readable audit diffs -----------------------------------------------------------------------


def test_a_code_edit_is_audited_field_by_field(page, server):
    origin, secret = server
    login(page, origin, secret)
    page.goto(origin + "/codes/szgws-me/30-10.10.20/edit")
    before = page.locator("#f-unit").input_value()
    page.fill("#f-unit", "扇")
    page.click("#save-code")
    page.wait_for_selector("#code-meta")
    page.goto(origin + "/audit?entity_type=release")
    first = page.locator("tr.entry").first
    assert first.locator("td[data-action]").inner_text() == "修改编码"
    assert first.locator("code.subject").inner_text() == "30-10.10.20"
    rows = first.locator("table.diff tr[data-key]")
    assert rows.count() == 1  # only the unit changed: one row, no release summary, no digest
    assert rows.first.get_attribute("data-key") == "unit"
    assert rows.first.locator("td").all_inner_texts() == ["计量单位", before or "—", "扇"]
    assert "digest" not in first.inner_text()
    first.locator("td a").first.click()
    page.wait_for_selector("#entry-diff")
    assert page.locator("#entry-diff tr[data-key]").count() == 1
    assert page.locator("h2 code.subject").inner_text() == "30-10.10.20"


# --- 5. the code tree ---------------------------------------------------------------------------


def test_code_tree_is_kept_on_back(page, server):
    origin, _ = server
    page.goto(origin + "/codes/szgws-me")
    page.locator('#code-tree > li[data-code="30-10.00.00"] > .toggle').click()
    page.wait_for_selector('#code-tree li[data-code="30-10.10.00"]')
    page.locator('#code-tree li[data-code="30-10.10.00"] > .toggle').click()
    page.locator('#code-tree li[data-code="30-10.10.10"] > a').click()
    page.wait_for_selector("#code-meta")
    page.go_back()
    page.wait_for_selector('#code-tree li[data-code="30-10.10.10"]')  # opened again, two levels down
    assert page.locator('#code-tree li[data-code="30-10.10.00"]').get_attribute("aria-expanded") == "true"


def test_code_search_tells_the_true_total_pages_and_locates_in_the_tree(page, server):
    origin, _ = server
    api = get_json(origin, "/api/v1/schemes/szgws-me/codes?q=%E9%97%A8&per_page=1")  # 门
    assert api["total"] > 5
    page.goto(origin + "/codes/szgws-me?q=门&per_page=5")
    assert page.locator("#hits-total").inner_text() == f"共 {api['total']} 个"
    assert page.locator("#code-hits > li").count() == 5
    assert page.locator("nav.pager").count() == 1
    hit = page.locator("#code-hits > li").filter(has=page.locator(".path")).first
    code = hit.get_attribute("data-code")
    assert "›" in hit.locator(".path").inner_text() or hit.locator(".path").inner_text()
    hit.locator("a.locate").click()
    target = page.locator(f'#code-tree li[data-code="{code}"]')
    target.wait_for()
    expect(target).to_be_focused()
    assert "revealed" in target.get_attribute("class")


def test_code_tree_follows_the_wai_aria_tree_pattern(page, server):
    origin, _ = server
    page.goto(origin + "/codes/szgws-me")
    tree = page.locator("#code-tree")
    assert tree.get_attribute("role") == "tree"
    first = tree.locator("> li").first
    assert first.get_attribute("role") == "treeitem" and first.get_attribute("tabindex") == "0"
    assert tree.locator("li[tabindex='0']").count() == 1  # one tab stop for the whole tree
    first.focus()
    page.keyboard.press("ArrowDown")
    second = tree.locator("> li").nth(1)
    assert page.evaluate("document.activeElement.dataset.code") == second.get_attribute("data-code")
    door = tree.locator('> li[data-code="30-10.00.00"]')
    door.focus()
    page.keyboard.press("ArrowRight")  # expands
    page.wait_for_selector('#code-tree li[data-code="30-10.10.00"]')
    assert door.get_attribute("aria-expanded") == "true"
    assert door.locator("> ul").get_attribute("role") == "group"
    page.keyboard.press("ArrowRight")  # into the first child
    assert page.evaluate("document.activeElement.dataset.code") == "30-10.10.00"
    page.keyboard.press("ArrowLeft")  # back to the parent
    assert page.evaluate("document.activeElement.dataset.code") == "30-10.00.00"
    page.keyboard.press("ArrowLeft")  # collapses
    assert door.get_attribute("aria-expanded") == "false"
    page.keyboard.press("Enter")
    page.wait_for_selector("#code-meta")
    assert "/codes/szgws-me/30-10.00.00" in page.url


# --- 6. a phone, 390 px ------------------------------------------------------------------------

PHONE_PAGES = [
    "/",
    "/catalog",
    "/catalog?q=%E5%90%88%E5%90%8C",
    "/catalog/A0101-001",
    "/catalog/A0101-001/edit",
    "/catalog/new",
    "/codes",
    "/codes/szgws-me",
    "/codes/szgws-me?q=%E9%97%A8",
    "/codes/szgws-me/30-10.10.10",
    "/codes/szgws-me/30-10.10.10/edit",
    "/codes/uniclass2015",
    "/audit",
    "/audit?entity_type=resource",
    "/audit/1",
    "/requests",
    "/lineage",
    "/login",
]


def _overflow(page) -> dict:
    return page.evaluate(
        """() => {
        const d = document.documentElement;
        const wide = [...document.querySelectorAll('body *')].filter(e => {
          const r = e.getBoundingClientRect();
          return r.right > d.clientWidth + 1 && getComputedStyle(e).position !== 'fixed'
                 && !e.closest('.table-scroll, .graph, pre, .scroll-x');
        }).slice(0, 5).map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className);
        return {scroll: d.scrollWidth, client: d.clientWidth, wide};
      }"""
    )


@pytest.fixture
def phone(browser, server):
    origin, _ = server
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True)
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    pg.watch = ui.Watch(pg, origin)
    yield pg
    pg.watch.check()
    context.close()


def test_no_page_scrolls_sideways_on_a_phone(phone, server):
    origin, secret = server
    login(phone, origin, secret)
    bad = {}
    for path in PHONE_PAGES:
        phone.goto(origin + path)
        found = _overflow(phone)
        if found["scroll"] > found["client"]:
            bad[path] = found
    # the validation results, 5 codes with long messages
    phone.goto(origin + "/codes/szgws-me")
    phone.fill("#validate-codes", "40-1\n30-10.10.10\n30-99.99.99.99\nabc\n40-10.10.90")
    phone.click("#validate-submit")
    phone.wait_for_selector("#validate-results")
    found = _overflow(phone)
    if found["scroll"] > found["client"]:
        bad["validation"] = found
    assert bad == {}, "\n".join(f"{k}: {v}" for k, v in bad.items())


def test_the_header_is_compact_on_a_phone(phone, server):
    origin, _ = server
    phone.goto(origin + "/catalog")
    assert phone.locator("header.top").bounding_box()["height"] <= 100  # was 172 px
    assert phone.locator("header.top nav a").count() >= 5  # every link still there


def test_the_fields_table_reads_on_a_phone(phone, server):
    origin, _ = server
    phone.goto(origin + "/catalog/A0101-001")
    name = phone.locator("#fields tbody tr").first.locator("td").first
    assert name.bounding_box()["width"] >= 60  # not one character per line


# --- 7. accessibility: axe-core over every page ---------------------------------------------------


def axe(page, source: str) -> list[dict]:
    """Serious and critical axe-core violations, and heading-order at any impact. The lineage drawing
    (``.graph``) is left to the lineage page's own tests."""
    page.add_script_tag(content=source)
    found = json.loads(
        page.evaluate("async () => JSON.stringify((await axe.run({exclude: [['.graph']]})).violations)")
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"][:3]]}
        for v in found
        if v["impact"] in ("serious", "critical") or v["id"] == "heading-order"
    ]


@pytest.fixture
def axe_page(browser, server):
    """A page whose CSP lets the test inject axe-core (the app's own pages run no inline script)."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}, bypass_csp=True)
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    yield pg
    context.close()


def test_axe_finds_nothing_serious_on_any_page(axe_page, server, axe_source):
    origin, secret = server
    page = axe_page
    found = {}
    page.goto(origin + "/login")
    found["/login"] = axe(page, axe_source)
    login(page, origin, secret)
    for path in PHONE_PAGES:
        if path == "/login":
            continue
        page.goto(origin + path)
        found[path] = axe(page, axe_source)
    # page states: validation results, a form sent back with errors, the tree opened
    page.goto(origin + "/codes/szgws-me")
    page.fill("#validate-codes", "40-1\n30-10.10.10\nabc")
    page.click("#validate-submit")
    page.wait_for_selector("#validate-results")
    found["validation"] = axe(page, axe_source)
    page.goto(origin + "/codes/szgws-me/new")
    page.fill("#f-unit", "米" * 40)
    page.click("#save-code")
    page.wait_for_selector("#error-summary")
    found["code form with errors"] = axe(page, axe_source)
    page.goto(origin + "/codes/szgws-me")
    page.locator('#code-tree > li[data-code="30-10.00.00"] > .toggle').click()
    page.wait_for_selector('#code-tree li[data-code="30-10.10.00"]')
    found["tree opened"] = axe(page, axe_source)
    bad = {k: v for k, v in found.items() if v}
    assert bad == {}, "\n".join(f"{k}: {v}" for k, v in bad.items())


def test_a_skip_link_leads_to_the_content(page, server):
    origin, _ = server
    page.goto(origin + "/codes/szgws-me")
    page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    assert page.evaluate("document.activeElement.className") == "skip" and skip.inner_text() == "跳到正文"
    assert skip.is_visible()  # shown when focused
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")  # the next stop is inside the content, not the header
    assert page.evaluate("!!document.activeElement.closest('main')")


# --- 8. catalog search -------------------------------------------------------------------------


def test_search_says_why_a_resource_matched(page, server):
    origin, _ = server
    page.goto(origin + "/catalog?q=" + "%E6%8B%9B%E6%A0%87")  # 招标
    hit = page.locator("#results .hit").first
    assert hit.locator("h2 mark").first.inner_text() == "招标"
    assert "名称" in hit.locator(".why").inner_text()
    page.goto(origin + "/catalog?q=zb")  # pinyin initials
    hit = page.locator("#results .hit").first
    assert "拼音" in hit.locator(".why").inner_text() or "标签" in hit.locator(".why").inner_text()
    page.goto(origin + "/catalog?q=tender_no")  # a field's name
    assert "信息项" in page.locator("#results .hit .why").first.inner_text()


def test_search_category_facet_has_more_and_results_sort(page, server):
    origin, _ = server
    page.goto(origin + "/catalog")
    shown = page.locator('aside ul[data-facet="category"]').first.locator("li")
    assert shown.count() == 8
    more = page.locator('details[data-facet-more="category"]')
    assert more.count() == 1 and not more.get_attribute("open")
    more.locator("summary").click()
    assert more.locator("li").count() >= 1
    page.click('#sorts a[data-sort="code"]')
    page.wait_for_url("**sort=code**")
    codes = page.locator("#results .hit h2 small code").all_inner_texts()
    assert codes == sorted(codes) and page.locator('#sorts [aria-current="true"]').inner_text() == "代码"


def test_search_suggests_the_word_meant(page, server):
    origin, _ = server
    page.goto(origin + "/catalog?q=" + "%E5%90%88%E9%80%9A")  # 合通
    assert "共 0 个" in page.locator("#result-count").inner_text()
    suggestion = page.locator("#suggestion a")
    assert suggestion.inner_text() == "合同"
    suggestion.click()
    page.wait_for_selector("#results .hit")
    assert "共 0 个" not in page.locator("#result-count").inner_text()
