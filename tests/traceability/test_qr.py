"""QR labels: the Digital Link under the configured base, deterministic SVG, decoded back by a real decoder.

The decoder is ZXing (``zxing-cpp``). The SVG and PNG bytes themselves are rendered by a real browser
(Debian's Chromium through Playwright, as the UI tests do), drawn on a canvas and handed to ZXing as pixels.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
import segno
import zxingcpp

from traceability import gs1, qr

GTIN = "09521234543213"
KEY = f"01/{GTIN}/10/2025%2F07/21/A%251"
BASE = "https://yima.szgws.example"
CHROMIUM = os.environ.get("YIMA_CHROMIUM", "/usr/bin/chromium")


def decode(pixels: bytes, width: int, height: int) -> list[str]:
    """Every QR code ZXing finds in a grayscale image (one byte per pixel)."""
    image = memoryview(pixels).cast("B", (height, width))
    return [b.text for b in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


def test_digital_link_puts_the_canonical_key_under_the_base():
    assert qr.digital_link(KEY, BASE + "/") == f"{BASE}/{KEY}"
    assert qr.digital_link(f"/01/{GTIN[1:]}/10/2025%2F07/21/A%251", "http://10.0.0.5:5000/dl") == (
        f"http://10.0.0.5:5000/dl/{KEY}"
    )
    assert gs1.parse_link(qr.digital_link(KEY, BASE)).lot == "2025/07"
    with pytest.raises(ValueError):
        qr.digital_link(KEY, "yima.example")
    with pytest.raises(gs1.GS1Invalid):
        qr.digital_link(f"01/{GTIN}/21/1/10/2", BASE)


def test_svg_is_deterministic_and_inline_ready():
    uri = qr.digital_link(KEY, BASE)
    first = qr.svg(uri)
    assert first == qr.svg(uri) == qr.item_svg(KEY, BASE)
    assert first.startswith(b"<svg ") and b"<?xml" not in first
    assert qr.svg(uri + "0") != first


def test_the_symbol_decodes_back_to_the_same_uri():
    uri = qr.digital_link(KEY, BASE)
    symbol = segno.make(uri, error="m")
    scale, border = 4, 4
    size = (len(symbol.matrix) + 2 * border) * scale
    pixels = bytearray(b"\xff") * (size * size)
    for y, row in enumerate(symbol.matrix):
        for x, dark in enumerate(row):
            if dark:
                for dy in range(scale):
                    start = ((y + border) * scale + dy) * size + (x + border) * scale
                    pixels[start : start + scale] = b"\x00" * scale
    assert decode(bytes(pixels), size, size) == [uri]
    assert symbol.error in ("M", "Q", "H")  # at least M: segno raises it when it fits in the same version


_RENDER = """async ([src]) => {
  const img = new Image();
  img.src = src;
  await img.decode();
  const w = img.naturalWidth * 2, h = img.naturalHeight * 2;
  const canvas = document.createElement("canvas");
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, w, h);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(img, 0, 0, w, h);
  const rgba = ctx.getImageData(0, 0, w, h).data;
  const grey = new Array(w * h);
  for (let i = 0; i < w * h; i++) grey[i] = rgba[4 * i];
  return [w, h, grey];
}"""


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed")
def test_the_svg_and_png_bytes_render_and_decode_to_the_same_uri():
    from playwright.sync_api import sync_playwright

    uri = qr.digital_link(KEY, BASE)
    sources = {
        "svg": "data:image/svg+xml;base64," + base64.b64encode(qr.svg(uri)).decode(),
        "png": "data:image/png;base64," + base64.b64encode(qr.png(uri)).decode(),
    }
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.set_content("<!doctype html><title>qr</title>")
            for kind, src in sources.items():
                width, height, grey = page.evaluate(_RENDER, [src])
                assert decode(bytes(grey), width, height) == [uri], kind
        finally:
            browser.close()
