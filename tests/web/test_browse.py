"""The browse shell: Chinese by default, English on request, nothing loaded from outside."""

import re


def test_browse_index_is_chinese_by_default(client):
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and "概览" in html


def test_browse_language_switch(client):
    r = client.get("/?lang=en")
    assert '<html lang="en">' in r.get_data(as_text=True)
    assert "lang=en" in r.headers.get("Set-Cookie", "")
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)  # remembered


def test_browse_follows_the_browser_language(app):
    fresh = app.test_client()
    assert '<html lang="en">' in fresh.get("/", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(
        as_text=True
    )
    assert '<html lang="zh-CN">' in fresh.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_data(
        as_text=True
    )


def test_browse_no_external_urls(client):
    html = client.get("/").get_data(as_text=True)
    assert not re.search(r'(src|href)="(https?:)?//', html)
