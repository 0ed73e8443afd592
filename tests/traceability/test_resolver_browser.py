"""The resolver and the traceability pages in a real browser (Debian's Chromium through Playwright, zh-CN): the
item page a phone opens when it scans a label fits a 390 px screen without sideways scrolling, shows its trail
with every event's proof status and says how to verify; its QR code, as the browser draws it, decodes back to
the item's Digital Link; the product page, a clear 404, a delivery's items with their status and its A4 label
sheet. One server per database (SQLite and PostgreSQL), shared by the module's tests."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import zxingcpp

import migrations
from catalog.demo import load_organizations
from registry.config import Config
from registry.db import Database
from standards.demo import BUREAU_RELEASE, DATA
from standards.importer import writer as standards_service
from tests.conftest import _truncate
from tests.traceability.trace_helpers import CODE, GTIN
from tests.web.test_ui_browser import ARGS, CHROMIUM, Watch
from traceability import deliveries, events, items, products

pytestmark = pytest.mark.browser

KEY = f"01/{GTIN}/10/2025%2F07/21/0001"
PHONE = {"width": 390, "height": 844}
T0 = dt.datetime(2025, 7, 1, 8, 0)


def _load(database: Database) -> None:
    load_organizations(database, "test")
    with database.writer() as s:
        standards_service.import_files(
            s, "szgws-me", BUREAU_RELEASE, [DATA / "szgws-me.csv"], actor="test", publish=True
        )
    with database.writer() as s:
        products.register(
            s,
            GTIN,
            CODE,
            "HRB400E 抗震钢筋 Φ25",
            manufacturer="示例钢铁",
            actor="steward",
            organization="SZGWS",
        )
    with database.writer() as s:
        items.register(
            s,
            gtin=GTIN,
            lot="2025/07",
            serial="0001",
            project="光明科学城",
            actor="王工",
            organization="CSCEC3B",
        )
    trail = [
        ("delivered", "CSCEC3B", None, "随车资料齐全"),
        ("inspected", "SUP-DEMO", "pass", "复检合格"),
        ("installed", "CSCEC3B", None, "3 号楼 5 层"),
        ("handed_over", "SZGWS-GCGL", None, None),
    ]
    for hours, (kind, org, result, note) in enumerate(trail):
        with database.writer() as s:
            events.record(
                s,
                KEY,
                kind,
                T0 + dt.timedelta(days=hours),
                result=result,
                note=note,
                actor=f"{org}-用户",
                organization=org,
            )
    rows = [{"gtin": GTIN, "lot": "SH1", "serial": f"{n:04d}"} for n in range(30)]
    with database.writer() as s:
        deliveries.register_list(
            s, "SH-2025-001", rows, project="光明科学城", actor="王工", organization="CSCEC3B"
        )
    for serial, result in (("0000", "fail"), ("0001", "pass")):
        key = f"01/{GTIN}/10/SH1/21/{serial}"
        with database.writer() as s:
            events.record(s, key, "delivered", T0, actor="王工", organization="CSCEC3B")
        with database.writer() as s:
            events.record(
                s,
                key,
                "inspected",
                T0 + dt.timedelta(hours=1),
                result=result,
                actor="李工",
                organization="SUP-DEMO",
            )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request, tmp_path_factory):
    from werkzeug.serving import make_server

    from web import create_app

    tmp = tmp_path_factory.mktemp("trace-ui")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'yima.db'}"
        migrations.upgrade(url)
    else:
        url = request.getfixturevalue("pg_database")
        _truncate(url)
    database = Database(url)
    _load(database)
    database.dispose()
    app = create_app(Config(database_url=url, secret_key="trace-ui", instance_path=str(tmp / "inst")))
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
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
def phone(browser, server):
    """A page in a 390 px wide, zh-CN browser context (a phone that scanned a label)."""
    context = browser.new_context(viewport=PHONE, locale="zh-CN", device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    watch = Watch(page, server)
    yield page, watch
    watch.check()
    context.close()


def no_sideways_scroll(page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide: it scrolls sideways on a 390 px screen"


def decode_png(png: bytes) -> list[str]:
    """Every QR code ZXing reads in a screenshot (PNG bytes, decoded with the browser's own screenshot format)."""
    import struct
    import zlib

    # a PNG from Chromium: 8-bit RGB(A), no interlace; undo the filters and keep the red channel as grey
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, header = 8, [], None
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos : pos + 8])
        data = png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", data)
        elif kind == b"IDAT":
            chunks.append(data)
        pos += 12 + length
    width, height, depth, colour = header[:4]
    assert depth == 8 and colour in (2, 6)
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * bpp
    prev = bytearray(stride)
    grey = bytearray(width * height)
    i = 0
    for y in range(height):
        kind, line = raw[i], bytearray(raw[i + 1 : i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], (prev[x - bpp] if x >= bpp else 0)
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        grey[y * width : (y + 1) * width] = line[0::bpp]
        prev = line
    image = memoryview(bytes(grey)).cast("B", (height, width))
    return [r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


def test_the_item_page_fits_a_phone_shows_the_proved_trail_and_its_qr_decodes(phone, server):
    page, _watch = phone
    page.goto(f"{server}/{KEY}")
    assert page.locator("#item-name").inner_text() == "HRB400E 抗震钢筋 Φ25"
    assert "已移交" in page.locator("#item-status").inner_text()
    assert page.locator("#item-code").inner_text() == CODE
    assert page.locator("#item-lot").inner_text() == "2025/07"
    trail = page.locator("#trail li.event:not(.event-registered)")
    assert trail.count() == 4
    assert [trail.nth(i).get_attribute("data-type") for i in range(4)] == [
        "delivered",
        "inspected",
        "installed",
        "handed_over",
    ]
    assert page.locator("#trail .proof-status[data-proved=yes]").count() == 4
    assert "已纳入签名检查点" in trail.nth(1).inner_text() and "合格" in trail.nth(1).inner_text()
    no_sideways_scroll(page)
    page.locator("#how-to-verify summary").click()
    assert "yima_verify.py item item.json --key" in page.locator("#how-to-verify").inner_text()
    no_sideways_scroll(page)
    shot = page.locator("#item-qr img").screenshot()
    assert decode_png(shot) == [f"{server}/{KEY}"]


def test_the_product_page_when_only_the_gtin_is_given_and_a_gtin13_redirects(phone, server):
    page, _watch = phone
    page.goto(f"{server}/01/{GTIN[1:]}")
    assert page.url == f"{server}/01/{GTIN}"
    assert page.locator("#product-name").inner_text() == "HRB400E 抗震钢筋 Φ25"
    assert page.locator("#product-items").inner_text() == "31"
    no_sideways_scroll(page)


def test_an_unknown_item_is_a_clear_404_in_chinese(phone, server):
    page, watch = phone
    watch.expected_statuses.add(404)
    response = page.goto(f"{server}/01/{GTIN}/10/NOPE/21/1")
    assert response.status == 404
    assert page.locator("h1").inner_text() == "未找到该产品或物品"
    assert "没有物品" in page.locator("#not-found-reasons").inner_text()
    no_sideways_scroll(page)
    response = page.goto(f"{server}/01/{GTIN[:-1]}4/21/1")
    assert response.status == 404 and "校验位" in page.locator("#not-found-reasons").inner_text()


def test_a_delivery_lists_its_items_status_and_prints_a4_labels(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    watch = Watch(page, server)
    page.goto(f"{server}/trace")
    page.locator("#trace-deliveries a", has_text="SH-2025-001").click()
    cards = {
        c.get_attribute("data-status"): c.locator(".num").inner_text()
        for c in page.locator("#delivery-status a.card").all()
    }
    assert cards["registered"] == "28" and cards["inspected"] == "2"
    failed = page.locator(f"#trace-items tr[data-key='01/{GTIN}/10/SH1/21/0000'] td").last
    assert "不合格" in failed.inner_text()
    page.locator("#print-labels").click()
    labels = page.locator(".sheet .label")
    assert labels.count() == 30 and page.locator(".sheet").count() == 2
    first = labels.first
    assert "HRB400E 抗震钢筋 Φ25" in first.inner_text() and CODE in first.inner_text()
    assert decode_png(first.locator(".qr svg").screenshot(scale="device")) == [
        f"{server}/01/{GTIN}/10/SH1/21/0000"
    ]
    page.emulate_media(media="print")
    assert page.locator("header.screen-only").is_hidden()
    pdf = page.pdf(format="A4", prefer_css_page_size=True)
    assert (
        pdf.startswith(b"%PDF")
        and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") + pdf.count(b"/Type/Page") >= 2
    )
    watch.check()
    context.close()
