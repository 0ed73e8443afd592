"""Lineage from SQL over HTTP and the CLI: preview, recording as events (audited, as_of, exports), the
catalog's field lists as the schema, per-statement errors, dialect aliases, roles."""

from __future__ import annotations

import json

import pytest

from tests.catalog.catalog_helpers import resource, seed

URL = "/api/v1/lineage/sql"


@pytest.fixture
def contributor(make_token):
    return make_token("contributor", "etl-bot")


def post(client, headers, status=201, **body):
    r = client.post(URL, json=body, headers=headers)
    assert r.status_code == status, r.get_json()
    return r.get_json()


def column_pairs(client, **query):
    g = client.get("/api/v1/lineage/graph", query_string={"level": "column", **query}).get_json()
    return {(e["source"], e["target"]) for e in g["edges"] if e["kind"] == "column"}


def test_preview_answers_the_contract_shape_and_records_nothing(client, contributor):
    body = post(
        client,
        contributor,
        200,
        sql="CREATE VIEW rpt.v AS SELECT id, amount * 2 AS twice FROM src.t",
        dialect="postgres",
        namespace="pv",
        record=False,
    )
    (st,) = body["statements"]
    assert st["index"] == 0 and st["type"] == "CREATE VIEW" and st["error"] is None
    assert st["inputs"] == ["dataset:pv:src.t"] and st["outputs"] == ["dataset:pv:rpt.v"]
    twice = next(c for c in st["columns"] if c["target"] == "datasetField:pv:rpt.v:twice")
    assert twice["sources"] == ["datasetField:pv:src.t:amount"]
    assert twice["transformation"]["subtype"] == "TRANSFORMATION"
    assert body["events"] == [] and st["recorded"] is False
    assert client.get("/api/v1/lineage/graph").get_json()["nodes"] == []


def test_recording_is_an_audited_event_in_the_graph_as_of_and_exports(client, contributor):
    before = client.get("/api/v1/audit?per_page=1").get_json()["total"]
    sql = "INSERT INTO dw.x (a, b) SELECT y.a, SUM(y.n) FROM ods.y y WHERE y.ok = 1 GROUP BY y.a"
    body = post(client, contributor, sql=sql, dialect="mysql", namespace="rec")
    assert body["job"] == "job:rec:sql/dw.x"
    (event,) = body["events"]
    assert event["created"] is True
    assert client.get("/api/v1/audit?per_page=1").get_json()["total"] == before + 1
    entry = client.get("/api/v1/audit", query_string={"entity_type": "lineage_event"}).get_json()["items"][-1]
    assert entry["actor"] == "etl-bot" and entry["entity_key"] == str(event["id"])
    stored = client.get(f"/api/v1/lineage/events/{event['id']}").get_json()["event"]
    assert stored["job"]["facets"]["sql"]["query"].startswith("INSERT INTO dw.x")
    g = client.get("/api/v1/lineage/graph").get_json()
    assert {(e["source"], e["target"]) for e in g["edges"]} == {
        ("dataset:rec:ods.y", "job:rec:sql/dw.x"),
        ("job:rec:sql/dw.x", "dataset:rec:dw.x"),
    }
    assert column_pairs(client) >= {
        ("datasetField:rec:ods.y:a", "datasetField:rec:dw.x:a"),
        ("datasetField:rec:ods.y:n", "datasetField:rec:dw.x:b"),
        ("datasetField:rec:ods.y:ok", "dataset:rec:dw.x"),  # the filter, once for the dataset
    }
    assert column_pairs(client, as_of="2020-01-01") == set()
    csv_file = client.get("/api/v1/lineage/export", query_string={"format": "csv", "level": "column"})
    assert "datasetField:rec:ods.y:n" in csv_file.data.decode("utf-8-sig")
    # the view redefined: the old column edge ends, the new one opens
    post(
        client,
        contributor,
        sql="INSERT INTO dw.x (a, b) SELECT a, m FROM ods.y",
        dialect="mysql",
        namespace="rec",
    )
    now = column_pairs(client)
    assert ("datasetField:rec:ods.y:m", "datasetField:rec:dw.x:b") in now
    assert ("datasetField:rec:ods.y:n", "datasetField:rec:dw.x:b") not in now


def test_catalogued_resource_field_lists_expand_select_star(client, contributor, steward):
    seed(client, steward)
    r = client.post("/api/v1/resources", json=resource(), headers=steward)
    assert r.status_code == 201, r.get_json()
    sql = "CREATE VIEW rpt.contracts AS SELECT * FROM table_a0201_001"
    body = post(client, contributor, 200, sql=sql, dialect="postgres", namespace="szgws.gcjs", record=False)
    (st,) = body["statements"]
    assert st["fields"] == [
        "datasetField:szgws.gcjs:rpt.contracts:contract_no",
        "datasetField:szgws.gcjs:rpt.contracts:gtin",
        "datasetField:szgws.gcjs:rpt.contracts:amount",
    ]
    assert not st["warnings"]
    # the same without the catalog (another namespace): the star cannot expand, and says so
    other = post(client, contributor, 200, sql=sql, dialect="postgres", namespace="elsewhere", record=False)
    assert other["statements"][0]["columns"] == [] and "SELECT *" in other["statements"][0]["warnings"][0]


def test_a_bad_statement_says_why_and_the_others_still_record(client, contributor):
    sql = "INSERT INTO a.t SELECT x FROM b.s;\nSELEC broken FROM;\nCREATE VIEW c.v AS SELECT x FROM a.t"
    body = post(client, contributor, sql=sql, dialect="postgres", namespace="e", job="nightly")
    first, bad, third = body["statements"]
    assert bad["error"] and "cannot be parsed" in bad["error"] and bad["recorded"] is False
    assert first["recorded"] and third["recorded"] and first["job"] == "job:e:nightly"
    assert body["job"] == "job:e:nightly" and len(body["events"]) == 1  # one run of the named job
    g = client.get("/api/v1/lineage/graph").get_json()
    assert {e["target"] for e in g["edges"] if e["kind"] == "output"} == {"dataset:e:a.t", "dataset:e:c.v"}


@pytest.mark.parametrize(
    ("dialect", "sql", "source"),
    [
        ("dm", "CREATE VIEW HR.V AS SELECT E.ID FROM HR.EMP E", "datasetField:d:hr.emp:id"),
        ("dameng", "CREATE VIEW HR.V AS SELECT E.ID FROM HR.EMP E", "datasetField:d:hr.emp:id"),
        ("kingbase", "CREATE VIEW hr.v AS SELECT e.id::text AS id FROM hr.emp e", "datasetField:d:hr.emp:id"),
        ("gbase", "CREATE VIEW hr.v AS SELECT `e`.`id` FROM hr.emp e", "datasetField:d:hr.emp:id"),
        ("oceanbase", "CREATE VIEW hr.v AS SELECT e.id FROM hr.emp e", "datasetField:d:hr.emp:id"),
        ("tsql", "CREATE VIEW hr.v AS SELECT TOP 10 e.id FROM hr.emp e", "datasetField:d:hr.emp:id"),
    ],
)
def test_dialect_aliases(client, contributor, dialect, sql, source):
    body = post(client, contributor, 200, sql=sql, dialect=dialect, namespace="d", record=False)
    (st,) = body["statements"]
    assert st["error"] is None, st
    assert st["columns"][0]["sources"] == [source] and st["outputs"] == ["dataset:d:hr.v"]


def test_refusals_are_clear(client, contributor, make_token):
    ok = {"sql": "SELECT 1", "dialect": "postgres", "namespace": "n"}
    assert client.post(URL, json=ok).status_code == 401
    assert client.post(URL, json=ok, headers=make_token("viewer")).status_code == 403
    bad = client.post(URL, json=ok | {"dialect": "cobol"}, headers=contributor)
    assert bad.status_code == 422 and "oracle" in bad.get_json()["message"]
    assert client.post(URL, json=ok | {"sql": "  "}, headers=contributor).status_code == 422
    assert (
        client.post(URL, json={"sql": "SELECT 1", "dialect": "mysql"}, headers=contributor).status_code == 422
    )
    assert client.post(URL, json=ok | {"job": "a:b"}, headers=contributor).status_code == 422
    assert client.post(URL, json=ok | {"extra": 1}, headers=contributor).status_code == 422


def test_cli_lineage_sql_files_dry_run_json_and_exit_codes(runner, tmp_path, client):
    views = tmp_path / "views.sql"
    views.write_text("CREATE VIEW rpt.v AS SELECT id FROM src.t;\n", encoding="utf-8")
    etl = tmp_path / "etl.sql"
    etl.write_text("INSERT INTO dw.f SELECT id FROM rpt.v;\nSELEC broken FROM;\n", encoding="utf-8")

    dry = runner(["lineage", "sql", str(views), "--dialect", "kingbase", "--namespace", "cli", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "views.sql:1" in dry.output and "rpt.v" in dry.output and "nothing recorded" in dry.output
    assert client.get("/api/v1/lineage/graph").get_json()["nodes"] == []

    as_json = runner(
        ["lineage", "sql", str(views), "--dialect", "postgres", "--namespace", "cli", "--dry-run", "--json"]
    )
    data = json.loads(as_json.output)
    assert data["statements"][0]["outputs"] == ["dataset:cli:rpt.v"] and data["statements"][0]["file"] == str(
        views
    )

    both = runner(
        [
            "lineage",
            "sql",
            str(views),
            str(etl),
            "--dialect",
            "postgres",
            "--namespace",
            "cli",
            "--job",
            "batch",
        ]
    )
    assert both.exit_code == 1  # a statement failed; the others were recorded
    assert "etl.sql:2" in both.output and "cannot be parsed" in both.output
    edges = {(e["source"], e["target"]) for e in client.get("/api/v1/lineage/graph").get_json()["edges"]}
    assert ("job:cli:batch", "dataset:cli:dw.f") in edges and ("job:cli:batch", "dataset:cli:rpt.v") in edges

    unknown = runner(["lineage", "sql", str(views), "--dialect", "cobol", "--namespace", "cli"])
    assert unknown.exit_code != 0 and "unknown SQL dialect" in unknown.output


def test_sql_box_is_for_stewards(client, make_token):
    anonymous = client.get("/lineage/sql")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert client.get("/lineage/sql", headers=make_token("contributor")).status_code == 403
    page = client.get("/lineage/sql", headers=make_token("steward"))
    assert page.status_code == 200 and 'name="csrf_token"' in page.get_data(as_text=True)
