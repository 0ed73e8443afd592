"""Schema drift: a dataset's newest ``schema`` facet beside its catalog resource's fields, in the API
and on the resource page."""

from __future__ import annotations

import uuid

from tests.catalog.catalog_helpers import resource, seed

RUN_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def _event(fields: list[tuple[str, str]], name: str = "table_a0201_001", symlinks=None) -> dict:
    facets = {"schema": {"fields": [{"name": n, "type": t} for n, t in fields]}}
    if symlinks:
        facets["symlinks"] = {"identifiers": symlinks}
    return {
        "eventType": "COMPLETE",
        "eventTime": "2025-05-01T00:00:00Z",
        "producer": "https://example.org/yima-tests",
        "schemaURL": RUN_URL,
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "szgws.gcjs", "name": "load_contracts"},
        "inputs": [],
        "outputs": [{"namespace": "szgws.gcjs", "name": name, "facets": facets}],
    }


def test_drift_lists_fields_in_the_data_not_the_catalog_and_the_reverse(client, steward, make_token):
    seed(client, steward)
    assert client.post("/api/v1/resources", json=resource(), headers=steward).status_code == 201
    drift = client.get("/api/v1/lineage/drift?resource=A0201-001").get_json()
    assert drift["status"] == "not_seen" and drift["node"] == "dataset:szgws.gcjs:table_a0201_001"
    # the data has signed_on the catalog lacks, lacks gtin, and keeps the amount as text
    event = _event([("CONTRACT_NO", "varchar(32)"), ("amount", "varchar(20)"), ("signed_on", "date")])
    assert client.post("/api/v1/lineage", json=event, headers=make_token("contributor")).status_code == 201
    drift = client.get("/api/v1/lineage/drift?resource=A0201-001").get_json()
    assert drift["status"] == "drift" and (drift["catalog_fields"], drift["data_fields"]) == (3, 3)
    assert drift["in_data_not_catalog"] == [{"name": "signed_on", "type": "date"}]
    assert drift["in_catalog_not_data"] == [{"name": "gtin", "type": "string"}]
    assert drift["type_differs"] == [
        {
            "name": "amount",
            "catalog_type": "number",
            "data_type": "varchar(20)",
            "data_type_as_catalog": "string",
        }
    ]
    # shown on the resource page, Chinese first
    page = client.get("/catalog/A0201-001").get_data(as_text=True)
    assert 'id="drift"' in page and "结构差异" in page
    assert page.count('class="drift-data"') == 1 and "signed_on" in page and "数据中有，目录中没有" in page
    assert page.count('class="drift-catalog"') == 1 and "目录中有，数据中没有" in page
    assert page.count('class="drift-type"') == 1 and "varchar(20)" in page and "类型不一致" in page
    # the data catches up with the catalog: no drift
    same = _event([("contract_no", "varchar(32)"), ("gtin", "char(14)"), ("amount", "decimal(18,2)")])
    assert client.post("/api/v1/lineage", json=same, headers=make_token("contributor")).status_code == 201
    assert client.get("/api/v1/lineage/drift?resource=A0201-001").get_json()["status"] == "same"
    assert 'id="drift-same"' in client.get("/catalog/A0201-001").get_data(as_text=True)


def test_drift_follows_symlinks_and_answers_clearly_without_data(client, steward, make_token):
    seed(client, steward)
    # the resource names the table the Hive way; the events name its file location, with a symlink
    body = resource(lineage={"namespace": "hive://metastore:9083", "name": "gcjs.contract"})
    assert client.post("/api/v1/resources", json=body, headers=steward).status_code == 201
    link = [{"namespace": "hive://metastore:9083", "name": "gcjs.contract", "type": "TABLE"}]
    event = _event(
        [("contract_no", "string"), ("gtin", "string"), ("amount", "double")], "/warehouse/contract", link
    )
    assert client.post("/api/v1/lineage", json=event, headers=make_token("contributor")).status_code == 201
    drift = client.get("/api/v1/lineage/drift?resource=A0201-001").get_json()
    assert drift["node"] == "dataset:szgws.gcjs:/warehouse/contract" and drift["status"] == "same"
    # the one node is the resource's, whichever identifier the resource uses
    [node] = [n for n in client.get("/api/v1/lineage/graph").get_json()["nodes"] if n["type"] == "dataset"]
    assert node["resource"] == "A0201-001"
    assert client.get("/api/v1/lineage/uncatalogued").get_json()["total"] == 0
    assert (
        client.post(
            "/api/v1/resources", json=resource("A0201-002", lineage=None), headers=steward
        ).status_code
        == 201
    )
    assert client.get("/api/v1/lineage/drift?resource=A0201-002").get_json()["status"] == "no_lineage"
    assert 'id="drift-none"' in client.get("/catalog/A0201-002").get_data(as_text=True)
    missing = client.get("/api/v1/lineage/drift?resource=NOPE")
    assert missing.status_code == 404 and missing.get_json()["message"]
    assert client.get("/api/v1/lineage/drift").status_code == 422
