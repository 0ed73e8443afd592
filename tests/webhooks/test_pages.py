"""The webhooks pages: admins see each webhook and its delivery log, send a test event (CSRF), re-enable; Chinese first."""

from __future__ import annotations

import re

from registry.tokens import create_token


def _login(client, db, role: str) -> None:
    with db.writer() as s:
        _, secret = create_token(s, f"page-{role}", role, actor="test")
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    assert client.post("/login", data={"csrf_token": token, "token": secret}).status_code == 302


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_the_pages_are_for_admins_only(client, db, hook):
    made = hook()
    r = client.get("/webhooks")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    _login(client, db, "steward")
    assert client.get("/webhooks").status_code == 403
    assert client.get(f"/webhooks/{made['id']}").status_code == 403
    assert 'id="webhooks-link"' not in client.get("/audit").get_data(as_text=True)


def test_an_admin_sees_the_webhooks_the_delivery_log_and_sends_a_test_event(
    client, db, hook, receiver, loop, org
):
    made = hook(description="采购平台")
    receiver.answer("/hook", 503)
    org("U1")
    loop.run_once()
    receiver.wait_for(1)
    _login(client, db, "admin")
    assert 'id="webhooks-link"' in client.get("/audit").get_data(as_text=True)
    listing = client.get("/webhooks").get_data(as_text=True)
    assert receiver.url() in listing and "采购平台" in listing and "重试中" in listing
    page = client.get(f"/webhooks/{made['id']}").get_data(as_text=True)
    assert "投递记录" in page and "HTTP 503" in page and "pending" in page
    assert made["secret"] not in page and made["secret"] not in listing
    refused = client.post(f"/webhooks/{made['id']}/test", data={})
    assert refused.status_code == 400  # no CSRF token: nothing queued
    r = client.post(f"/webhooks/{made['id']}/test", data={"csrf_token": _csrf(page)})
    assert r.status_code == 302
    after = client.get(f"/webhooks/{made['id']}").get_data(as_text=True)
    assert "已加入测试事件" in after and "webhook.test" in after
    english = client.get(f"/webhooks/{made['id']}?lang=en").get_data(as_text=True)
    assert "Delivery log" in english and "Send a test event" in english


def test_an_admin_re_enables_a_disabled_webhook_from_its_page(client, db, hook, admin):
    made = hook()
    client.patch(f"/api/v1/webhooks/{made['id']}", json={"enabled": False}, headers=admin)
    _login(client, db, "admin")
    page = client.get(f"/webhooks/{made['id']}").get_data(as_text=True)
    assert 'id="enable"' in page and "已停用" in page
    assert client.post(f"/webhooks/{made['id']}/enable", data={"csrf_token": _csrf(page)}).status_code == 302
    assert client.get(f"/api/v1/webhooks/{made['id']}").get_json()["enabled"] is True
