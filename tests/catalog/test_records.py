"""Record validation: every error type over JSON and CSV bodies, code fields against the gtin scheme, the CLI."""

import json

import pytest

from tests.catalog.catalog_helpers import seed

RESOURCE = {
    "code": "REC-1",
    "name": "材料设备进场验收记录",
    "summary": "验收记录",
    "category": "E0301",
    "provider": "SZGWS",
    "fields": [
        {"name": "id", "type": "integer", "required": True, "unique": True},
        {"name": "gtin", "type": "string", "code_scheme": "gtin"},
        {"name": "qty", "type": "number", "constraints": {"minimum": 0, "maximum": 1000}},
        {
            "name": "batch",
            "type": "string",
            "constraints": {"min_length": 2, "max_length": 6, "pattern": "[A-Z]+[0-9]*"},
        },
        {"name": "grade", "type": "string", "constraints": {"enum": ["合格", "不合格"]}},
        {"name": "passed", "type": "boolean"},
        {"name": "on", "type": "date", "constraints": {"minimum": "2020-01-01"}},
        {"name": "at", "type": "datetime"},
        {"name": "level", "type": "integer", "constraints": {"enum": [1, 2, 3]}},
    ],
}


@pytest.fixture
def rec(client, steward):
    seed(client, steward)
    r = client.post("/api/v1/resources", json=RESOURCE, headers=steward)
    assert r.status_code == 201, r.get_json()
    return client


def kinds(result) -> list[set]:
    return [{(e["field"], e["type"]) for e in r["errors"]} for r in result["results"]]


GOOD = {
    "id": 1,
    "gtin": "6901234567892",
    "qty": 2.5,
    "batch": "AB12",
    "grade": "合格",
    "passed": True,
    "on": "2024-05-01",
    "at": "2024-05-01T08:30:00Z",
    "level": 2,
}


def test_json_records_every_error_type(rec):
    records = [
        GOOD,
        {**GOOD, "gtin": "6901234567893", "qty": -1},  # duplicate id, bad check digit, below minimum
        {"gtin": "x", "extra": 1},  # id missing, malformed code, unknown field
        {**GOOD, "id": "seven", "qty": "many", "passed": "maybe", "on": "2024-02-30", "at": "noon"},
        {**GOOD, "id": 5, "batch": "a", "grade": "优秀", "on": "2019-12-31", "level": 7},
        {**GOOD, "id": 6, "batch": "ABCDEFGH", "qty": 1001, "level": "2"},
    ]
    r = rec.post("/api/v1/validate/records", json={"resource": "REC-1", "records": records})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["resource"], body["total"], body["valid"], body["invalid"]) == ("REC-1", 6, 1, 5)
    assert [x["index"] for x in body["results"]] == list(range(6))
    k = kinds(body)
    assert k[0] == set()
    assert k[1] == {("id", "unique"), ("gtin", "code"), ("qty", "constraint")}
    assert k[2] == {("id", "required"), ("gtin", "code"), ("extra", "unknown_field")}
    assert k[3] == {("id", "type"), ("qty", "type"), ("passed", "type"), ("on", "type"), ("at", "type")}
    assert k[4] == {
        ("batch", "constraint"),
        ("grade", "constraint"),
        ("on", "constraint"),
        ("level", "constraint"),
    }
    assert k[5] == {("batch", "constraint"), ("qty", "constraint")}
    messages = {e["field"]: e["message"] for e in body["results"][1]["errors"]}
    assert "check digit" in messages["gtin"].lower() or "6901234567893" in messages["gtin"]
    assert all(isinstance(e["message"], str) and e["message"] for r in body["results"] for e in r["errors"])


def test_csv_body_gives_the_same_verdicts(rec):
    csv_body = (
        "id,gtin,qty,batch,grade,passed,on,at,level\n"
        "1,6901234567892,2.5,AB12,合格,true,2024-05-01,2024-05-01T08:30:00Z,2\n"
        "1,6901234567893,-1,AB12,合格,true,2024-05-01,2024-05-01T08:30:00Z,2\n"
        ",x,,,,,,,\n"
        "seven,,many,,,maybe,2024-02-30,noon,\n"
    ).encode()
    r = rec.post(
        "/api/v1/validate/records?resource=REC-1", data=csv_body, headers={"Content-Type": "text/csv"}
    )
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["total"], body["valid"]) == (4, 1)
    k = kinds(body)
    assert k[1] == {("id", "unique"), ("gtin", "code"), ("qty", "constraint")}
    assert k[2] == {("id", "required"), ("gtin", "code")}
    assert k[3] == {("id", "type"), ("qty", "type"), ("passed", "type"), ("on", "type"), ("at", "type")}
    # an unknown column, a BOM and GB18030 (what Chinese Excel writes) are all handled
    gbk = "\ufeffid,备注\n1,好\n".encode()
    body = rec.post(
        "/api/v1/validate/records?resource=REC-1", data=gbk, headers={"Content-Type": "text/csv"}
    ).get_json()
    assert kinds(body) == [{("备注", "unknown_field")}]
    gbk = "id,grade\n1,不合格\n".encode("gb18030")
    body = rec.post(
        "/api/v1/validate/records?resource=REC-1", data=gbk, headers={"Content-Type": "text/csv"}
    ).get_json()
    assert body["valid"] == 1


def test_bad_requests_are_clear_4xx(rec, config):
    post = rec.post
    assert post("/api/v1/validate/records", json={"resource": "NOPE", "records": []}).status_code == 404
    r = post("/api/v1/validate/records", json={"records": [{}]})
    assert r.status_code == 422 and "resource" in json.dumps(r.get_json())
    r = post("/api/v1/validate/records", data=b"id\n1\n", headers={"Content-Type": "text/csv"})
    assert r.status_code == 422 and "resource" in r.get_json()["message"]
    r = post("/api/v1/validate/records", data=b"id\n1\n", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    r = post(
        "/api/v1/validate/records?resource=REC-1",
        data=b'id,qty\n1,2,3\n"unterminated',
        headers={"Content-Type": "text/csv"},
    )
    assert r.status_code in (200, 422) and r.status_code != 500
    r = post("/api/v1/validate/records", json={"resource": "REC-1", "records": [1, 2]})
    assert r.status_code == 422
    from dataclasses import replace

    from web import create_app

    small = create_app(replace(config, max_batch=3))
    r = small.test_client().post(
        "/api/v1/validate/records", json={"resource": "REC-1", "records": [{"id": i} for i in range(4)]}
    )
    assert r.status_code == 413
    small.extensions["yima"].db.dispose()


def test_reads_are_open_but_can_be_closed(rec, config, make_token):
    from dataclasses import replace

    from web import create_app

    closed = create_app(replace(config, read_requires_token=True))
    c = closed.test_client()
    body = {"resource": "REC-1", "records": [GOOD]}
    assert c.post("/api/v1/validate/records", json=body).status_code == 401
    r = c.post("/api/v1/validate/records", json=body, headers=make_token("viewer"))
    assert r.status_code == 200 and r.get_json()["valid"] == 1
    closed.extensions["yima"].db.dispose()


def test_cli_exit_codes_and_json(rec, runner, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("id,gtin,qty\n1,6901234567892,3\n2,,4\n", encoding="utf-8")
    r = runner(["validate", "records", "REC-1", good])
    assert r.exit_code == 0 and "2 rows, 2 valid, 0 invalid" in r.output
    bad = tmp_path / "bad.csv"
    bad.write_text("id,gtin,qty,extra\n1,6901234567893,-3,x\n1,,4,\n", encoding="utf-8")
    r = runner(["validate", "records", "REC-1", bad])
    assert r.exit_code == 1 and "row 2:" in r.output and "unknown_field" in r.output
    r = runner(["validate", "records", "REC-1", bad, "--json"])
    assert r.exit_code == 1
    body = json.loads(r.output)
    assert body["invalid"] == 2 and ("id", "unique") in kinds(body)[1]
    r = runner(["validate", "records", "NOPE", good])
    assert r.exit_code == 1 and "NOPE" in r.output


def test_code_fields_use_the_current_release_and_report_successors(client, db):
    """The demo's purchase orders against the bureau's material code set (szgws-me) as `yima demo` loads it."""
    from catalog.demo import load_catalog, load_organizations
    from standards.demo import load as load_standards

    load_organizations(db, "test")
    load_standards(db, "test")
    load_catalog(db, "test")
    records = [
        {"order_no": "PO-1", "contract_no": "HT-1", "material_code": "40-10.20.00", "quantity": 3},
        {"order_no": "PO-2", "contract_no": "HT-1", "material_code": "40-10.10.90", "quantity": 1},
        {"order_no": "PO-3", "contract_no": "HT-1", "material_code": "４０－１０．２０．００", "quantity": 1},
        {"order_no": "PO-4", "contract_no": "HT-1", "material_code": "99-99.99.99", "quantity": 1},
    ]
    body = client.post(
        "/api/v1/validate/records", json={"resource": "E0201-001", "records": records}
    ).get_json()
    assert [r["valid"] for r in body["results"]] == [True, False, True, False]
    deprecated = body["results"][1]["errors"][0]
    assert deprecated["type"] == "code" and deprecated["field"] == "material_code"
    assert deprecated["status"] == "deprecated" and deprecated["successor"] == "40-10.10.20"
    assert "40-10.10.20" in deprecated["message"]
    assert body["results"][3]["errors"][0]["type"] == "code"


def test_records_with_no_fields_at_all_get_their_required_errors(rec):
    """[{}] built a zero-column frame of height 0 (a 500), and ?resource= empty beside a JSON body too."""
    for url in ("/api/v1/validate/records", "/api/v1/validate/records?resource="):
        r = rec.post(url, json={"resource": "REC-1", "records": [{}, {}]})
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        assert (body["total"], body["invalid"]) == (2, 2)
        assert body["results"][1]["errors"] == [
            {"field": "id", "type": "required", "message": "id is required"}
        ]


def test_records_bounds_beyond_64_bits_are_refused_when_the_field_is_saved(rec, steward):
    """A min_length of 10**23 was stored and then overflowed the validator (a 500) on every record."""
    fields = [
        {"name": "a", "constraints": {"min_length": 10**23}},
        {"name": "b", "type": "integer", "constraints": {"maximum": 10**23}},
        {"name": "c", "type": "integer", "constraints": {"enum": [1, 10**30]}},
    ]
    r = rec.patch("/api/v1/resources/REC-1", json={"fields": fields}, headers=steward)
    assert r.status_code == 422, r.get_json()
    errors = r.get_json()["errors"]
    assert set(errors) >= {"fields[0]", "fields[1]", "fields[2]"}
    assert "0 to 2147483647" in errors["fields[0]"][0] and "64-bit" in errors["fields[1]"][0]
    ok = rec.post("/api/v1/validate/records", json={"resource": "REC-1", "records": [{"id": 1}]})
    assert ok.status_code == 200 and ok.get_json()["valid"] == 1
