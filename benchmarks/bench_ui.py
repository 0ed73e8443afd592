"""Browse UI: the validation box with 5,000 pasted codes (server time, page size, DOM size) beside the API.

The page and the API validate the same 5,000 codes (the demo release in turn, its deprecated codes
included, two malformed, a blank line every 500) in the same run;
the API's time is the floor the page is measured against. DOM nodes are counted in Chromium
(``/usr/bin/chromium``, skipped when absent) after the page is loaded from the served HTML.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from click.testing import CliRunner

import migrations
from benchmarks.common import Figure, best_of
from registry.config import Config

N = 5000
CHROMIUM = os.environ.get("YIMA_CHROMIUM", "/usr/bin/chromium")


def _app(workdir: Path):
    from web import create_app
    from web.cli import main

    url = f"sqlite:///{workdir / 'yima.db'}"
    migrations.upgrade(url)
    env = {"YIMA_DATABASE_URL": url, "YIMA_SECRET_KEY": "bench", "YIMA_INSTANCE_PATH": str(workdir / "inst")}
    result = CliRunner().invoke(main, ["demo"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return create_app(Config(database_url=url, secret_key="bench", instance_path=str(workdir / "inst")))


def _batch(client) -> list[str]:
    codes = [
        c["code"] for c in client.get("/api/v1/schemes/szgws-me/codes?per_page=1000").get_json()["items"]
    ]
    lines = []
    for i in range(N):
        lines.append(codes[i % len(codes)])
        if i % 500 == 499:
            lines.append("")
    lines[1234] = "40-1"
    lines[4321] = "30-99.99.99"
    return lines


def run(workdir: Path) -> list[Figure]:
    app = _app(workdir)
    client = app.test_client()
    lines = _batch(client)
    text = "\n".join(lines)
    page = client.get("/codes/szgws-me").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    form = {"csrf_token": token, "scheme": "szgws-me", "codes": text}
    body = {"scheme": "szgws-me", "codes": [x for x in lines if x.strip()]}

    def post_page():
        r = client.post("/codes/validate", data=form)
        assert r.status_code == 200, r.status_code
        return r

    def post_api():
        assert client.post("/api/v1/validate/codes", json=body).status_code == 200

    post_page()
    page_s = best_of(post_page, 3)
    api_s = best_of(post_api, 3)
    html = post_page().get_data(as_text=True)
    figures = [
        Figure(
            "validation page, 5,000 pasted codes: server time", page_s * 1000, "ms", "< 1000 ms", page_s < 1
        ),
        Figure("baseline: POST /api/v1/validate/codes, same 5,000 codes", api_s * 1000, "ms"),
        Figure("validation page size", len(html.encode()) / 1024, "KiB"),
    ]
    if Path(CHROMIUM).exists():
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            tab = browser.new_page()
            started = time.perf_counter()
            tab.set_content(html, wait_until="load")
            shown = time.perf_counter() - started
            nodes = tab.evaluate("document.getElementsByTagName('*').length")
            browser.close()
        figures += [
            Figure("validation page: Chromium parse and layout", shown * 1000, "ms"),
            Figure("validation page: DOM elements", nodes, "nodes"),
        ]
    return figures
