"""``YIMA_REQUIRE_REVIEW=codes,resources``: direct writes of those areas below admin are refused (403, pointing at
/api/v1/requests), the browse forms lead to the proposal forms, and requests still get through."""

from __future__ import annotations

import dataclasses
import re

import pytest

from catalog import demo as catalog_demo
from registry.config import Config
from registry.tokens import create_token
from review import parties
from standards import demo as standards_demo
from tests.review.review_helpers import DOOR, RESOURCE, decide, review, submit


@pytest.fixture
def gated(config):
    from web import create_app

    app = create_app(dataclasses.replace(config, require_review=("codes", "resources")))
    app.config["TESTING"] = True
    database = app.extensions["yima"].db
    catalog_demo.load_organizations(database, "test")
    standards_demo.load(database, "test", with_uniclass=False)
    catalog_demo.load_catalog(database, "test")
    headers = {}
    for name, role, org in (
        ("owner", "steward", "SZGWS-GCGL"),
        ("admin", "admin", None),
        ("contractor", "contributor", "CSCEC3B"),
        ("supervisor", "contributor", "SUP-DEMO"),
    ):
        with database.writer() as s:
            _, secret = parties.create_token(s, name, role, actor="test", organization=org)
        headers[name] = {"Authorization": f"Bearer {secret}"}
    yield app, headers
    database.dispose()


def test_direct_writes_need_a_request_but_admins_and_requests_pass(gated):
    app, who = gated
    client = app.test_client()
    codes = "/api/v1/schemes/szgws-me/codes"
    refused = [
        client.post(codes, json={"code": "30-10.10.90", "name": "x"}, headers=who["owner"]),
        client.patch(f"{codes}/{DOOR}", json={"unit": "扇"}, headers=who["owner"]),
        client.post(f"{codes}/{DOOR}/deprecate", json={}, headers=who["owner"]),
        client.patch(f"/api/v1/resources/{RESOURCE}", json={"tags": ["x"]}, headers=who["owner"]),
        client.delete(f"/api/v1/resources/{RESOURCE}", headers=who["owner"]),
    ]
    for r in refused:
        assert r.status_code == 403 and "/api/v1/requests" in r.get_json()["message"], r.get_json()
    assert client.patch(f"{codes}/{DOOR}", json={"unit": "扇"}).status_code == 401  # no token: 401 first
    assert client.patch(f"{codes}/{DOOR}", json={"unit": "扇"}, headers=who["admin"]).status_code == 200
    assert client.get(f"{codes}/{DOOR}").status_code == 200  # reads are untouched
    rid = submit(
        client, who["contractor"], kind="code.update", scheme="szgws-me", target=DOOR, payload={"unit": "樘"}
    )
    rid = rid.get_json()["id"]
    review(client, who["supervisor"], rid)
    assert decide(client, who["owner"], rid).get_json()["status"] == "approved"
    assert client.get(f"{codes}/{DOOR}").get_json()["unit"] == "樘"


def test_the_browse_edit_forms_lead_to_the_proposal_forms(gated):
    app, who = gated
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    secret = who["owner"]["Authorization"].split()[1]
    client.post("/login", data={"csrf_token": csrf, "token": secret})
    moved = client.get(f"/catalog/{RESOURCE}/edit")
    assert moved.status_code == 302 and moved.headers["Location"].endswith(
        f"/requests/new/resource?code={RESOURCE}"
    )
    moved = client.get(f"/codes/szgws-me/{DOOR}/edit")
    assert (
        moved.status_code == 302 and "/requests/new/code?scheme=szgws-me&code=" in moved.headers["Location"]
    )
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)
    posted = client.post(f"/catalog/{RESOURCE}/edit", data={"csrf_token": csrf, "name": "x"})
    assert posted.status_code == 403 and "变更申请" in posted.get_data(as_text=True)


def test_the_setting_is_read_from_the_environment_and_checked():
    assert Config.from_env({"YIMA_REQUIRE_REVIEW": "codes, resources"}).require_review == (
        "codes",
        "resources",
    )
    assert Config.from_env({}).require_review == ()
    with pytest.raises(SystemExit, match="YIMA_REQUIRE_REVIEW"):
        Config.from_env({"YIMA_REQUIRE_REVIEW": "codes,lineage"})


def test_without_the_setting_stewards_write_directly(client, demo):
    with demo.writer() as s:
        _, secret = create_token(s, "直接", "steward", actor="test")
    found = client.patch(
        f"/api/v1/schemes/szgws-me/codes/{DOOR}",
        json={"unit": "扇"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert found.status_code == 200
