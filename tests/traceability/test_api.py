"""The traceability HTTP API as the contract says: roles, the caller's organization from its token, the lifecycle
rules and refusals (403, 409, 422 naming the part), item JSON whose proofs the standalone verifier accepts, the
QR label decoded back to the Digital Link, deliveries and product imports; on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import json
from pathlib import Path

import pytest
import segno
import zxingcpp

from review import parties
from tests.traceability.trace_helpers import CODE, GTIN

VERIFIER = Path(__file__).resolve().parents[2] / "docs" / "auditor" / "yima_verify.py"
LINK = f"https://id.gs1.org/01/{GTIN}/10/C1/21/0001"
KEY = f"01/{GTIN}/10/C1/21/0001"
#: token name → (role, organization)
TOKENS = {
    "viewer": ("viewer", None),
    "steward": ("steward", "SZGWS-GCGL"),
    "contractor": ("contributor", "CSCEC3B"),
    "supervisor": ("contributor", "SUP-DEMO"),
    "owner": ("steward", "SZGWS-GCGL"),
    "loner": ("contributor", None),
}


def standalone_verifier():
    spec = importlib.util.spec_from_file_location("yima_verify", VERIFIER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def api(app, trace_db):
    """(client, {token name: headers}) over the demo organizations and the published szgws-me codes."""
    headers = {}
    for name, (role, org) in TOKENS.items():
        with trace_db.writer() as s:
            _, secret = parties.create_token(s, name, role, actor="test", organization=org)
        headers[name] = {"Authorization": f"Bearer {secret}"}
    return app.test_client(), headers


@pytest.fixture
def product_api(api):
    client, h = api
    r = client.post(
        "/api/v1/trace/products",
        json={"gtin": GTIN[1:], "code": CODE, "name": "HRB400E 抗震钢筋", "manufacturer": "示例钢铁"},
        headers=h["steward"],
    )
    assert r.status_code == 201, r.json
    return client, h


def event(client, headers, kind, at, key=KEY, **extra):
    return client.post(
        f"/api/v1/trace/items/{key}/events", json={"type": kind, "at": at, **extra}, headers=headers
    )


def test_a_product_needs_a_steward_a_valid_gtin_and_an_assignable_code(api):
    client, h = api
    body = {"gtin": GTIN, "code": CODE, "name": "钢筋"}
    assert client.post("/api/v1/trace/products", json=body).status_code == 401
    assert client.post("/api/v1/trace/products", json=body, headers=h["contractor"]).status_code == 403
    bad = client.post("/api/v1/trace/products", json={**body, "gtin": GTIN[:-1] + "4"}, headers=h["steward"])
    assert bad.status_code == 422
    assert (
        bad.json["errors"]["gtin"][0]["code"] == "gs1.check_digit"
        and "校验位" in bad.json["errors"]["gtin"][0]["message_zh"]
    )
    category = client.post("/api/v1/trace/products", json={**body, "code": "40"}, headers=h["steward"])
    assert category.status_code == 422 and category.json["errors"]["code"][0]["code"] in (
        "trace.code_not_assignable",
        "trace.code_malformed",
    )
    extra = client.post("/api/v1/trace/products", json={**body, "colour": "red"}, headers=h["steward"])
    assert extra.status_code == 422
    made = client.post("/api/v1/trace/products", json={**body, "gtin": GTIN[1:]}, headers=h["steward"])
    assert made.status_code == 201 and made.json["gtin"] == GTIN and made.json["organization"] == "SZGWS-GCGL"
    assert client.post("/api/v1/trace/products", json=body, headers=h["steward"]).status_code == 409
    listed = client.get(f"/api/v1/trace/products?code={CODE}").json
    assert (
        listed["total"] == 1 and listed["items"][0]["item_count"] == 0 and {"page", "per_page"} <= set(listed)
    )
    assert client.get(f"/api/v1/trace/products/{GTIN[1:]}").json["gtin"] == GTIN


def test_an_item_from_a_link_or_from_parts_with_gs1_errors_naming_the_part(product_api):
    client, h = product_api
    assert client.post("/api/v1/trace/items", json={"link": LINK}, headers=h["viewer"]).status_code == 403
    made = client.post("/api/v1/trace/items", json={"link": LINK, "project": "P-1"}, headers=h["contractor"])
    assert made.status_code == 201
    assert {k: made.json[k] for k in ("key", "gtin", "lot", "serial", "code", "events", "project")} == {
        "key": KEY,
        "gtin": GTIN,
        "lot": "C1",
        "serial": "0001",
        "code": CODE,
        "events": [],
        "project": "P-1",
    }
    assert client.post("/api/v1/trace/items", json={"link": LINK}, headers=h["contractor"]).status_code == 409
    swapped = client.post(
        "/api/v1/trace/items",
        json={"link": f"https://x.example/01/{GTIN}/21/1/10/C1"},
        headers=h["contractor"],
    )
    assert swapped.status_code == 422 and swapped.json["errors"]["link"][0]["part"] == "10"
    assert swapped.json["errors"]["link"][0]["code"] == "gs1.qualifier_order"
    long_lot = client.post(
        "/api/v1/trace/items", json={"gtin": GTIN, "lot": "L" * 21, "serial": "1"}, headers=h["contractor"]
    )
    assert long_lot.status_code == 422 and long_lot.json["errors"]["lot"][0]["code"] == "gs1.too_long"
    unknown = client.post(
        "/api/v1/trace/items", json={"link": "https://x.example/01/96385074/21/1"}, headers=h["contractor"]
    )
    assert unknown.status_code == 422 and unknown.json["errors"]["link"][0]["code"] == "trace.product_unknown"
    both = client.post("/api/v1/trace/items", json={"link": LINK, "gtin": GTIN}, headers=h["contractor"])
    assert both.status_code == 422
    slash = client.post(
        "/api/v1/trace/items", json={"gtin": GTIN, "lot": "2025/07", "serial": "A%1"}, headers=h["contractor"]
    )
    assert slash.status_code == 201 and slash.json["key"] == f"01/{GTIN}/10/2025%2F07/21/A%251"
    shown = client.get(f"/api/v1/trace/items/{slash.json['key']}")
    assert shown.status_code == 200 and shown.json["lot"] == "2025/07" and shown.json["serial"] == "A%1"
    assert client.get(f"/api/v1/trace/items/01/{GTIN}/10/C9/21/1").status_code == 404
    assert client.get("/api/v1/trace/items/01/123/21/1").status_code == 422
    page = client.get("/api/v1/trace/items?project=P-1").json
    assert page["total"] == 1 and page["items"][0]["status"] == "registered"


def test_the_lifecycle_rules_with_the_organization_of_the_token(product_api):
    client, h = product_api
    client.post("/api/v1/trace/items", json={"link": LINK}, headers=h["contractor"])
    assert event(client, h["loner"], "delivered", "2025-07-01T08:00:00Z").status_code == 403
    early = event(client, h["contractor"], "installed", "2025-07-01T08:00:00Z")
    assert early.status_code == 409 and early.json["errors"]["type"][0]["code"] == "trace.order"
    assert event(client, h["contractor"], "delivered", "2025-07-01T08:00:00Z").status_code == 201
    by_contractor = event(client, h["contractor"], "inspected", "2025-07-01T09:00:00Z", result="pass")
    assert (
        by_contractor.status_code == 403
        and "监理单位" in by_contractor.json["errors"]["organization"][0]["message_zh"]
    )
    no_result = event(client, h["supervisor"], "inspected", "2025-07-01T09:00:00Z")
    assert no_result.status_code == 422
    assert (
        event(client, h["supervisor"], "inspected", "2025-07-01T09:00:00Z", result="fail").status_code == 201
    )
    failed = event(client, h["contractor"], "installed", "2025-07-02T08:00:00Z")
    assert failed.status_code == 409 and failed.json["errors"]["type"][0]["code"] == "trace.inspection_failed"
    assert (
        event(client, h["supervisor"], "inspected", "2025-07-03T09:00:00Z", result="pass").status_code == 201
    )
    before = event(client, h["contractor"], "installed", "2025-07-02T08:00:00Z")
    assert before.status_code == 409 and before.json["errors"]["at"][0]["code"] == "trace.at_before_previous"
    assert event(client, h["contractor"], "installed", "2025-07-04T08:00:00Z").status_code == 201
    assert event(client, h["contractor"], "handed_over", "2025-07-05T08:00:00Z").status_code == 403
    assert event(client, h["owner"], "handed_over", "2025-07-05T08:00:00Z").status_code == 201
    done = event(client, h["owner"], "handed_over", "2025-07-06T08:00:00Z")
    assert done.status_code == 409 and done.json["errors"]["type"][0]["code"] == "trace.handed_over"
    bad_type = event(client, h["owner"], "scrapped", "2025-07-06T08:00:00Z")
    assert bad_type.status_code == 422
    bad_time = event(client, h["owner"], "delivered", "yesterday")
    assert bad_time.status_code == 422
    item = client.get(f"/api/v1/trace/items/{KEY}").json
    assert [(e["type"], e["organization"], e["result"]) for e in item["events"]] == [
        ("delivered", "CSCEC3B", None),
        ("inspected", "SUP-DEMO", "fail"),
        ("inspected", "SUP-DEMO", "pass"),
        ("installed", "CSCEC3B", None),
        ("handed_over", "SZGWS-GCGL", None),
    ]
    assert item["status"] == "handed_over"
    audit = client.get(f"/api/v1/audit/{item['events'][1]['seq']}").json["entry"]
    assert audit["entity_type"] == "trace_event" and audit["action"] == "inspected"


def test_every_event_is_proved_against_the_signed_checkpoint_by_the_standalone_verifier(
    app, product_api, tmp_path
):
    client, h = product_api
    client.post("/api/v1/trace/items", json={"link": LINK}, headers=h["contractor"])
    event(client, h["contractor"], "delivered", "2025-07-01T08:00:00Z", note="随车资料齐全")
    event(client, h["supervisor"], "inspected", "2025-07-01T09:00:00Z", result="pass")
    item = client.get(f"/api/v1/trace/items/{KEY}").json
    checkpoint = client.get("/api/v1/audit/checkpoint").json
    assert (
        item["checkpoint"]["size"] == checkpoint["size"] and item["checkpoint"]["root"] == checkpoint["root"]
    )
    verify = standalone_verifier()
    size, proved = verify.item_proofs(item, checkpoint["key"])
    assert size == checkpoint["size"] and proved == [e["seq"] for e in item["events"]] + [
        item["registration"]["seq"]
    ]
    # the command line, as an auditor runs it on a saved page
    saved = tmp_path / "item.json"
    saved.write_text(
        client.get(f"/{KEY}", headers={"Accept": "application/json"}).get_data(as_text=True), "utf-8"
    )
    assert verify.main(["item", str(saved), "--key", checkpoint["key"]]) == 0
    # an edited event is caught: its hash no longer is the proved leaf
    tampered = dict(item, events=[dict(item["events"][0], hash="00" * 32), *item["events"][1:]])
    with pytest.raises(verify.Failed) as caught:
        verify.item_proofs(tampered, checkpoint["key"])
    assert caught.value.step == "inclusion"
    other_key = "other+00000000+AQ" + "A" * 42 + "="
    assert verify.main(["item", str(saved), "--key", other_key]) == 1


def test_the_qr_label_decodes_back_to_the_digital_link_under_the_configured_base(app, product_api):
    client, h = product_api
    client.post("/api/v1/trace/items", json={"link": LINK}, headers=h["contractor"])
    r = client.get(f"/api/v1/trace/items/{KEY}/qr.svg")
    assert r.status_code == 200 and r.mimetype == "image/svg+xml" and r.data.startswith(b"<svg")
    assert r.headers["X-Digital-Link"] == f"http://localhost/{KEY}"  # default: this server
    assert client.get(f"/api/v1/trace/items/{KEY}/qr.svg").data == r.data  # deterministic
    yima = app.extensions["yima"]
    yima.config = dataclasses.replace(yima.config, digital_link_base="https://yima.szgws.example")
    r = client.get(f"/api/v1/trace/items/{KEY}/qr.svg")
    uri = f"https://yima.szgws.example/{KEY}"
    assert r.headers["X-Digital-Link"] == uri
    assert r.data == _segno_svg(uri)
    symbol = segno.make(uri, error="m")
    assert _decode(symbol) == [uri]
    assert client.get(f"/api/v1/trace/items/01/{GTIN}/21/nope/qr.svg").status_code == 404


def _segno_svg(uri):
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=4, xmldecl=False)
    return out.getvalue()


def _decode(symbol, scale=4, border=4):
    size = (len(symbol.matrix) + 2 * border) * scale
    pixels = bytearray(b"\xff") * (size * size)
    for y, row in enumerate(symbol.matrix):
        for x, dark in enumerate(row):
            if dark:
                for dy in range(scale):
                    start = ((y + border) * scale + dy) * size + (x + border) * scale
                    pixels[start : start + scale] = b"\x00" * scale
    image = memoryview(bytes(pixels)).cast("B", (size, size))
    return [b.text for b in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


def test_deliveries_and_product_imports_all_or_nothing_with_a_dry_run(product_api):
    client, h = product_api
    sheet = "GTIN,编码,名称,生产厂家\n96385074,40-10.10.20,防火门,示例门业\n12345,40-10.10.20,坏行,\n"
    dry = client.post(
        "/api/v1/trace/products/import?dry_run=true",
        data=sheet.encode(),
        content_type="text/csv",
        headers=h["steward"],
    )
    assert dry.status_code == 200 and dry.json["added"] == 1 and dry.json["errors"][0]["row"] == 3
    refused = client.post(
        "/api/v1/trace/products/import", data=sheet.encode(), content_type="text/csv", headers=h["steward"]
    )
    assert refused.status_code == 422 and client.get("/api/v1/trace/products").json["total"] == 1
    good = client.post(
        "/api/v1/trace/products/import",
        data=sheet.splitlines(keepends=True)[0].encode() + sheet.splitlines(keepends=True)[1].encode(),
        content_type="text/csv",
        headers=h["steward"],
    )
    assert good.status_code == 201 and good.json["added"] == 1
    entries = [{"gtin": GTIN, "lot": "L1", "serial": str(n)} for n in range(5)]
    made = client.post(
        "/api/v1/trace/deliveries",
        json={"reference": "SH-001", "project": "P-1", "items": entries},
        headers=h["contractor"],
    )
    assert made.status_code == 201 and made.json["added"] == 5
    again = client.post(
        "/api/v1/trace/deliveries", json={"reference": "SH-001", "items": entries}, headers=h["contractor"]
    )
    assert again.status_code == 409
    csv = "批号,序列号,GTIN\nL2,1,09521234543213\nL2,1,09521234543213\n"
    dup = client.post(
        "/api/v1/trace/deliveries/import?reference=SH-002",
        data=csv.encode(),
        content_type="text/csv",
        headers=h["contractor"],
    )
    assert dup.status_code == 422 and dup.json["errors"]["rows"][0]["code"] == "trace.item_duplicate_row"
    shown = client.get("/api/v1/trace/deliveries/SH-001").json
    assert shown["item_count"] == 5 and shown["status"]["registered"] == 5
    assert client.get("/api/v1/trace/deliveries").json["total"] == 1
    assert client.get("/api/v1/trace/items?delivery=SH-001").json["total"] == 5
    assert client.get("/api/v1/trace/deliveries/nope").status_code == 404


def test_the_verifier_compares_each_event_with_its_audit_entry_on_a_live_server(
    app, product_api, live_server, tmp_path, capsys
):
    client, h = product_api
    client.post("/api/v1/trace/items", json={"link": LINK}, headers=h["contractor"])
    event(client, h["contractor"], "delivered", "2025-07-01T08:00:00Z", note="随车资料齐全")
    item = client.get(f"/{KEY}", headers={"Accept": "application/json"}).get_json()
    key = item["checkpoint"]["key"]
    verify = standalone_verifier()
    saved = tmp_path / "item.json"
    saved.write_text(json.dumps(item, ensure_ascii=False), "utf-8")
    assert verify.main(["item", str(saved), "--key", key, "--log", live_server]) == 0
    assert "records exactly what the item shows" in capsys.readouterr().out
    # a printed page whose note was edited afterwards no longer matches the entry its proof names
    item["events"][0]["note"] = "资料不全"
    saved.write_text(json.dumps(item, ensure_ascii=False), "utf-8")
    assert verify.main(["item", str(saved), "--key", key, "--log", live_server]) == 1
    assert "FAIL entry" in capsys.readouterr().err
