"""Column-level lineage: field nodes and column edges from columnLineage facets (1-0 to 1-2), their
intervals, graph queries at level=column, impact of a field, declared flows' column mappings."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid

import networkx as nx
import prov.model
import pytest
from openlineage.client.generated.column_lineage_dataset import (
    ColumnLineageDatasetFacet,
    Fields,
    InputField,
)
from openlineage.client.serde import Serde
from sqlalchemy import func, select

from lineage.columns.store import unpack
from lineage.models import LineageColumnEdge
from tests.conftest import SHARED

PRODUCER = "https://example.org/yima-tests"
RUN_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
FACET_URL = (
    "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet"
)


def stored_edges(db) -> list[tuple]:
    """Every stored column edge (``ColumnEdge``) with the row that holds it, in the rows' order."""
    with db.session() as s:
        rows = s.scalars(select(LineageColumnEdge).order_by(LineageColumnEdge.id)).all()
        return [(e, r) for r in rows for e in unpack(r.edges, r.target_dataset)]


def field(ds, name, ns="ns"):
    return f"datasetField:{ns}:{ds}:{name}"


def inp(ds, name, *transformations, ns="ns"):
    out = {"namespace": ns, "name": ds, "field": name}
    if transformations:
        out["transformations"] = [
            dict(zip(("type", "subtype"), t.split("/"), strict=True)) for t in transformations
        ]
    return out


def event(job, inputs, output, columns, *, when, state="COMPLETE", dataset=None, run_id=None):
    """A RunEvent writing ``output`` whose columnLineage ``fields`` are ``columns`` (field → input fields)."""
    facet = {
        "_producer": PRODUCER,
        "_schemaURL": FACET_URL,
        "fields": {k: {"inputFields": v} for k, v in columns.items()},
    }
    if dataset is not None:
        facet["dataset"] = dataset
    return {
        "eventType": state,
        "eventTime": when,
        "producer": PRODUCER,
        "schemaURL": RUN_URL,
        "run": {"runId": run_id or str(uuid.uuid4())},
        "job": {"namespace": "ns", "name": job},
        "inputs": [{"namespace": "ns", "name": n} for n in inputs],
        "outputs": [{"namespace": "ns", "name": output, "facets": {"columnLineage": facet}}],
    }


@pytest.fixture
def contributor(make_token):
    return make_token("contributor")


def send(client, headers, body, status=201):
    r = client.post("/api/v1/lineage", json=body, headers=headers)
    assert r.status_code == status, r.get_json()
    return r.get_json()


def graph(client, **query):
    r = client.get("/api/v1/lineage/graph", query_string={"level": "column", **query})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def pairs(g):
    return {(e["source"], e["target"]) for e in g["edges"] if e["kind"] == "column"}


@pytest.fixture
def chain(client, contributor):
    """orders → daily (2025-05-01) → monthly (2025-05-02); daily's amount is summed, its region grouped by."""
    daily = event(
        "load_daily",
        ["orders"],
        "daily",
        {
            "total": [inp("orders", "amount", "DIRECT/AGGREGATION")],
            "region": [inp("orders", "region", "DIRECT/IDENTITY")],
        },
        when="2025-05-01T00:00:00Z",
        dataset=[inp("orders", "region", "INDIRECT/GROUP_BY"), inp("orders", "status", "INDIRECT/FILTER")],
    )
    summary = send(client, contributor, daily)
    assert summary["columns"] == {"opened": 4, "closed": 0}
    monthly = event(
        "load_monthly",
        ["daily"],
        "monthly",
        {"grand_total": [inp("daily", "total", "DIRECT/AGGREGATION")]},
        when="2025-05-02T00:00:00Z",
    )
    send(client, contributor, monthly)
    return daily, monthly


def test_column_graph_has_field_nodes_and_typed_edges(client, chain):
    g = graph(client)
    nodes = {n["id"]: n for n in g["nodes"]}
    total = nodes[field("daily", "total")]
    assert total == total | {
        "type": "field",
        "dataset": "dataset:ns:daily",
        "field": "total",
        "name": "total",
    }
    assert pairs(g) >= {
        (field("orders", "amount"), field("daily", "total")),
        (field("orders", "region"), field("daily", "region")),
        (field("daily", "total"), field("monthly", "grand_total")),
    }
    edge = next(e for e in g["edges"] if e["target"] == field("daily", "total") and e["kind"] == "column")
    assert edge["transformation"] == {
        "type": "DIRECT",
        "subtype": "AGGREGATION",
        "description": None,
        "masking": False,
    }
    assert edge["valid_from"] == "2025-05-01T00:00:00Z" and edge["valid_to"] is None


def test_dataset_wide_entries_are_stored_once_and_reach_every_field(client, chain, db):
    wide = [e for e, _ in stored_edges(db) if e.target_field is None]
    assert sorted(e.source for e in wide) == [field("orders", "region"), field("orders", "status")]
    assert {e.target for e in wide} == {"dataset:ns:daily"}
    # the filter column reaches each field of daily (and what they feed) through the dataset
    g = graph(client, node=field("orders", "status"), direction="downstream")
    ids = {n["id"] for n in g["nodes"]}
    assert ids == {
        field("orders", "status"),
        "dataset:ns:daily",
        field("daily", "total"),
        field("daily", "region"),
        field("monthly", "grand_total"),
    }
    wide_edge = next(e for e in g["edges"] if e["source"] == field("orders", "status"))
    assert wide_edge["target"] == "dataset:ns:daily" and wide_edge["scope"] == "dataset"
    assert wide_edge["transformation"]["subtype"] == "FILTER"
    assert {(e["source"], e["target"]) for e in g["edges"] if e["kind"] == "field"} == {
        ("dataset:ns:daily", field("daily", "total")),
        ("dataset:ns:daily", field("daily", "region")),
    }
    # upstream of a field includes the dataset-wide inputs of its dataset
    up = graph(client, node=field("daily", "total"), direction="upstream")
    assert {field("orders", "amount"), field("orders", "status"), field("orders", "region")} <= {
        n["id"] for n in up["nodes"]
    }


def test_spark_copies_of_dataset_wide_inputs_are_stored_once(client, contributor, db):
    """Spark's older mode lists the filter column under every output field: one row, not one per field."""
    filt = inp("src", "flag", "INDIRECT/FILTER")
    cols = {f"c{i}": [inp("src", f"c{i}", "DIRECT/IDENTITY"), filt] for i in range(30)}
    send(client, contributor, event("copy", ["src"], "dst", cols, when="2025-05-01T00:00:00Z"))
    edges = [e for e, _ in stored_edges(db)]
    rows = [e for e in edges if e.source == field("src", "flag")]
    assert [(r.target, r.target_field) for r in rows] == [("dataset:ns:dst", None)]
    assert len(edges) == 31
    with db.session() as s:  # an event's edges on one output: one row
        assert s.scalar(select(func.count()).select_from(LineageColumnEdge)) == 1


def test_legacy_1_0_facet_and_1_1_transformations(client, contributor):
    facet = {
        "_producer": PRODUCER,
        "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/ColumnLineageDatasetFacet.json",
        "fields": {
            "masked_id": {
                "inputFields": [{"namespace": "ns", "name": "people", "field": "id"}],
                "transformationType": "MASKED",
                "transformationDescription": "md5(id)",
            },
            "name": {
                "inputFields": [{"namespace": "ns", "name": "people", "field": "name"}],
                "transformationType": "IDENTITY",
            },
        },
    }
    body = event("mask", ["people"], "people_masked", {}, when="2025-05-01T00:00:00Z")
    body["outputs"][0]["facets"]["columnLineage"] = facet
    send(client, contributor, body)
    edges = {e["target"]: e["transformation"] for e in graph(client)["edges"] if e["kind"] == "column"}
    assert edges[field("people_masked", "masked_id")] == {
        "type": "DIRECT",
        "subtype": "TRANSFORMATION",
        "description": "md5(id)",
        "masking": True,
    }
    assert edges[field("people_masked", "name")]["subtype"] == "IDENTITY"


def test_a_facet_mixing_shapes_reads_each_field_as_alone(client, contributor):
    """One field in the usual shape, one naming an input twice (its transformations merged), one with a
    malformed entry (skipped) beside an input without transformations (read as DIRECT)."""
    columns = {
        "a": [inp("src", "x", "DIRECT/IDENTITY")],
        "b": [inp("src", "y", "DIRECT/TRANSFORMATION"), inp("src", "y", "DIRECT/AGGREGATION")],
        "c": [{"namespace": "ns", "name": "src"}, inp("src", "z")],
    }
    send(client, contributor, event("mix", ["src"], "mixed", columns, when="2025-05-01T00:00:00Z"))
    edges = {(e["source"], e["target"]): e for e in graph(client)["edges"] if e["kind"] == "column"}
    assert set(edges) == {
        (field("src", "x"), field("mixed", "a")),
        (field("src", "y"), field("mixed", "b")),
        (field("src", "z"), field("mixed", "c")),
    }
    subtypes = {k[1]: [t["subtype"] for t in e["transformations"]] for k, e in edges.items()}
    assert subtypes == {
        field("mixed", "a"): ["IDENTITY"],
        field("mixed", "b"): ["AGGREGATION", "TRANSFORMATION"],
        field("mixed", "c"): [None],
    }
    assert {e["transformation"]["type"] for e in edges.values()} == {"DIRECT"}


def test_facet_built_by_openlineage_python_is_read(client, contributor):
    facet = ColumnLineageDatasetFacet(
        fields={
            "b": Fields(
                inputFields=[InputField(namespace="ns", name="a", field="x")],
                transformationDescription="",
                transformationType="",
            )
        }
    )
    body = event("py", ["a"], "b_out", {}, when="2025-05-01T00:00:00Z")
    body["outputs"][0]["facets"]["columnLineage"] = Serde.to_dict(facet)
    send(client, contributor, body)
    assert (field("a", "x"), field("b_out", "b")) in pairs(graph(client))


def test_column_edges_keep_the_dataset_edges_intervals(client, contributor, chain):
    daily, _ = chain
    # June: the job no longer takes the region from orders but from a lookup
    june = event(
        "load_daily",
        ["orders", "regions"],
        "daily",
        {
            "total": [inp("orders", "amount", "DIRECT/AGGREGATION")],
            "region": [inp("regions", "name", "DIRECT/IDENTITY")],
        },
        when="2025-06-01T00:00:00Z",
    )
    summary = send(client, contributor, june)
    assert summary["columns"] == {"opened": 1, "closed": 3}  # region edge and both dataset-wide entries
    may = pairs(graph(client, as_of="2025-05-15"))
    now = pairs(graph(client))
    assert (field("orders", "region"), field("daily", "region")) in may
    assert (field("orders", "region"), field("daily", "region")) not in now
    assert (field("regions", "name"), field("daily", "region")) in now
    assert (field("orders", "amount"), field("daily", "total")) in may & now
    # before the first event: no fields at all
    assert graph(client, as_of="2025-04-01")["nodes"] == []
    # a START that does not carry the facet changes no column edge
    start = event("load_daily", ["orders"], "daily", {}, when="2025-06-02T00:00:00Z", state="START")
    del start["outputs"][0]["facets"]
    assert "columns" not in send(client, contributor, start)


def test_when_the_dataset_edge_ends_its_column_edges_end_too(client, contributor, chain):
    # monthly is dropped (lifecycleStateChange DROP: one of the explicit ends of docs/lineage.md's rule)
    body = event("load_monthly", ["daily"], "monthly", {}, when="2025-07-01T00:00:00Z")
    body["outputs"][0]["facets"] = {"lifecycleStateChange": {"lifecycleStateChange": "DROP"}}
    send(client, contributor, body)
    assert (field("daily", "total"), field("monthly", "grand_total")) in pairs(
        graph(client, as_of="2025-06-01")
    )
    assert (field("daily", "total"), field("monthly", "grand_total")) not in pairs(graph(client))


def test_a_run_that_lists_no_outputs_ends_no_column_edge(client, contributor, chain):
    # the edge-ending rule: a COMPLETE listing no datasets ends nothing, at column level as at dataset level
    body = event("load_monthly", ["daily"], "monthly", {}, when="2025-07-01T00:00:00Z")
    body["outputs"] = []
    send(client, contributor, body)
    assert (field("daily", "total"), field("monthly", "grand_total")) in pairs(graph(client))


def test_field_node_queries_depth_direction_and_errors(client, chain):
    down1 = graph(client, node=field("orders", "amount"), direction="downstream", depth=1)
    assert {n["id"] for n in down1["nodes"]} == {field("orders", "amount"), field("daily", "total")}
    down = graph(client, node=field("orders", "amount"), direction="downstream")
    assert field("monthly", "grand_total") in {n["id"] for n in down["nodes"]}
    up = graph(client, node=field("monthly", "grand_total"), direction="up")
    assert field("orders", "amount") in {n["id"] for n in up["nodes"]}
    # a dataset node at column level: the neighbourhood of all of its fields
    ds = graph(client, node="dataset:ns:monthly", direction="upstream")
    assert field("orders", "amount") in {n["id"] for n in ds["nodes"]}

    missing = client.get("/api/v1/lineage/graph", query_string={"level": "column", "node": field("x", "y")})
    assert missing.status_code == 404 and missing.get_json()["code"] == 404
    bad = client.get("/api/v1/lineage/graph", query_string={"level": "column", "node": "datasetField:nope"})
    assert bad.status_code == 422 and "datasetField:{namespace}" in bad.get_json()["message"]
    wrong_level = client.get("/api/v1/lineage/graph", query_string={"node": field("orders", "amount")})
    assert wrong_level.status_code == 422 and "level=column" in wrong_level.get_json()["message"]
    assert graph(client, node=field("orders", "amount"), as_of="2025-04-01")["nodes"] == []


def test_impact_of_a_field_lists_fields_datasets_and_systems(client, chain, steward):
    r = client.post(
        "/api/v1/systems",
        json={"code": "RPT", "name": "报表系统", "owner": None, "namespaces": ["ns"]},
        headers=steward,
    )
    assert r.status_code in (201, 422), r.get_json()
    body = client.get("/api/v1/lineage/impact", query_string={"node": field("orders", "amount")}).get_json()
    assert [(f["id"], f["distance"]) for f in body["fields"]] == [
        (field("daily", "total"), 1),
        (field("monthly", "grand_total"), 2),
    ]
    assert [(d["id"], d["distance"], d["fields"]) for d in body["datasets"]] == [
        ("dataset:ns:daily", 1, 1),
        ("dataset:ns:monthly", 2, 1),
    ]
    assert body["counts"]["fields"] == 2
    wide = client.get("/api/v1/lineage/impact", query_string={"node": field("orders", "status")}).get_json()
    assert {(f["id"], f["distance"]) for f in wide["fields"]} == {
        (field("daily", "total"), 1),
        (field("daily", "region"), 1),
        (field("monthly", "grand_total"), 2),
    }
    assert client.get("/api/v1/lineage/impact", query_string={"node": field("no", "pe")}).status_code == 404


def test_impact_fields_of_a_field_come_in_pages(client, chain):
    """``/impact/fields`` pages the impact's ``fields`` (a root field of a large graph reaches
    hundreds of thousands) in the list envelope: the same items in the same order."""
    node = field("orders", "status")
    whole = client.get("/api/v1/lineage/impact", query_string={"node": node}).get_json()
    assert len(whole["fields"]) == whole["counts"]["fields"] == 3
    pages = []
    for page in (1, 2, 3):
        query = {"node": node, "page": page, "per_page": 2}
        r = client.get("/api/v1/lineage/impact/fields", query_string=query)
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        assert (body["total"], body["page"], body["per_page"]) == (3, page, 2)
        pages.append(body["items"])
    assert pages[0] + pages[1] == whole["fields"] and len(pages[0]) == 2 and pages[2] == []
    first = client.get("/api/v1/lineage/impact/fields", query_string={"node": node}).get_json()
    assert first["items"] == whole["fields"] and first["per_page"] == 50
    before = client.get(
        "/api/v1/lineage/impact/fields", query_string={"node": node, "as_of": "2025-05-01T12:00:00Z"}
    ).get_json()
    assert [f["id"] for f in before["items"]] == [field("daily", "region"), field("daily", "total")]
    for bad in (
        {"page": 0},
        {"per_page": 0},
        {"per_page": 1001},
        {"node": "dataset:ns:daily"},
        {"node": "x"},
    ):
        r = client.get("/api/v1/lineage/impact/fields", query_string={"node": node, **bad})
        assert r.status_code == 422, (bad, r.get_json())
    r = client.get("/api/v1/lineage/impact/fields", query_string={"node": field("no", "pe")})
    assert r.status_code == 404


def test_declared_flow_carries_a_column_mapping(client, contributor):
    body = {
        "source": "dataset:ns:ftp_drop",
        "target": "dataset:ns:warehouse",
        "description": "nightly file",
        "valid_from": "2025-05-01T00:00:00Z",
        "columns": [
            {"source": "id", "target": "contract_id"},
            {
                "source": "amt",
                "target": "amount",
                "transformation": {"type": "DIRECT", "subtype": "TRANSFORMATION"},
            },
        ],
    }
    r = client.post("/api/v1/lineage/flows", json=body, headers=contributor)
    assert r.status_code == 201, r.get_json()
    flow = r.get_json()
    assert [c["target"] for c in flow["columns"]] == ["contract_id", "amount"]
    g = graph(client)
    assert pairs(g) == {
        (field("ftp_drop", "id"), field("warehouse", "contract_id")),
        (field("ftp_drop", "amt"), field("warehouse", "amount")),
    }
    identity = next(
        e for e in g["edges"] if e["target"] == field("warehouse", "contract_id") and e["kind"] == "column"
    )
    assert identity["transformation"]["subtype"] == "IDENTITY"
    # ending the flow ends its column edges; earlier as_of keeps them
    assert (
        client.delete(f"/api/v1/lineage/flows/{flow['id']}?until=2025-06-01", headers=contributor).status_code
        == 204
    )
    assert pairs(graph(client)) == set()
    assert len(pairs(graph(client, as_of="2025-05-15"))) == 2
    bad = client.post(
        "/api/v1/lineage/flows",
        json=body | {"columns": [{"source": "", "target": "x"}], "valid_from": "2025-08-01"},
        headers=contributor,
    )
    assert bad.status_code == 422 and "columns" in bad.get_json()["errors"]


EVENTS = SHARED / "data" / "openlineage-events"


def _real(name: str) -> dict:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def test_real_spark_event_column_lineage_with_copied_filters_hoisted(client, contributor, db):
    """Spark 1.23 on BigQuery's shakespeare sample: ``sum(word_count)`` aggregates ``word_count``; the
    filter and GROUP BY columns, listed under both output fields, are stored once for the dataset."""
    names = sorted(
        p.name for p in EVENTS.glob("ol-compat-tests__spark-dataproc-bigquery-shakespare-events-*.json")
    )
    for name in names:
        r = client.post("/api/v1/lineage", json=_real(name), headers=contributor)
        assert r.status_code in (200, 201), (name, r.get_json())
    src = "bigquery:bigquery-public-data.samples.shakespeare"
    out = "datasetField:file:/tmp/outputs/1729097570970"
    g = graph(client)
    column = {(e["source"], e["target"]): e for e in g["edges"] if e["kind"] == "column"}
    agg = column[(f"datasetField:{src}:word_count", f"{out}:sum(word_count)")]
    assert [(t["type"], t["subtype"]) for t in agg["transformations"]] == [("DIRECT", "AGGREGATION")]
    ident = column[(f"datasetField:{src}:word", f"{out}:word")]
    assert [(t["type"], t["subtype"]) for t in ident["transformations"]] == [("DIRECT", "IDENTITY")]
    wide = column[(f"datasetField:{src}:word", "dataset:file:/tmp/outputs/1729097570970")]
    assert {t["subtype"] for t in wide["transformations"]} == {"FILTER", "GROUP_BY"}
    assert wide["scope"] == "dataset"
    stored = [
        e
        for e, row in stored_edges(db)
        if e.target_dataset == "dataset:file:/tmp/outputs/1729097570970" and row.valid_to is None
    ]
    assert len(stored) == 4  # two DIRECT edges and two dataset-wide inputs, not one per (input, field)


def test_real_airflow_event_legacy_type_with_empty_transformations(client, contributor):
    r = client.post(
        "/api/v1/lineage", json=_real("ol-compat-tests__airflow-events-line-03.json"), headers=contributor
    )
    assert r.status_code == 201, r.get_json()
    edges = [e for e in graph(client)["edges"] if e["kind"] == "column"]
    target = "datasetField:bigquery:mock-project.test.upload:a"
    into_a = sorted(e["source"] for e in edges if e["target"] == target)
    assert into_a == [
        "datasetField:gs://mock-bucket:copied.csv:a",
        "datasetField:gs://mock-bucket:test.csv:a",
    ]
    trans = next(e for e in edges if e["target"] == target)["transformation"]
    assert trans == {"type": "DIRECT", "subtype": "IDENTITY", "description": "identical", "masking": False}


def test_every_export_at_column_level_reads_back(client, chain, runner, tmp_path):
    g = graph(client)
    node_ids = {n["id"] for n in g["nodes"]}
    edge_pairs = {(e["source"], e["target"]) for e in g["edges"]}
    files = {}
    for fmt in ("graphml", "json", "prov", "csv", "dot"):
        r = client.get("/api/v1/lineage/export", query_string={"format": fmt, "level": "column"})
        assert r.status_code == 200, (fmt, r.get_json())
        assert r.headers["X-Content-SHA256"] == hashlib.sha256(r.data).hexdigest()
        files[fmt] = r.data

    gml = nx.read_graphml(io.BytesIO(files["graphml"]))
    assert set(gml.nodes) == node_ids and set(gml.edges) == edge_pairs
    total = gml.nodes[field("daily", "total")]
    assert total["type"] == "field" and total["field"] == "total" and total["dataset"] == "dataset:ns:daily"
    assert total["label"] == "daily.total"
    agg = gml.edges[field("orders", "amount"), field("daily", "total")]
    assert agg["kind"] == "column" and agg["transformation_type"] == "DIRECT"
    assert agg["transformation_subtype"] == "AGGREGATION" and agg["masking"] == "false"
    assert gml.graph["level"] == "column"

    data = json.loads(files["json"])
    h = nx.node_link_graph(data, directed=True, multigraph=False)
    assert set(h.nodes) == node_ids and set(h.edges) == edge_pairs
    assert (
        h.edges[field("orders", "amount"), field("daily", "total")]["transformation"]["subtype"]
        == "AGGREGATION"
    )

    doc = prov.model.ProvDocument.deserialize(content=files["prov"].decode("utf-8"), format="json")
    kinds: dict[str, list] = {}
    for record in doc.get_records():
        kinds.setdefault(type(record).__name__, []).append(record)
    column = [e for e in g["edges"] if e["kind"] == "column"]
    assert len(kinds["ProvDerivation"]) == sum(1 for e in column if e["scope"] == "field")
    assert len(kinds["ProvInfluence"]) == sum(1 for e in column if e["scope"] == "dataset")
    assert len(kinds["ProvMembership"]) == sum(1 for e in g["edges"] if e["kind"] == "field")
    derived = {
        (str(r.get_attribute("prov:usedEntity").pop()), str(r.get_attribute("prov:generatedEntity").pop()))
        for r in kinds["ProvDerivation"]
    }
    assert any("orders%3Aamount" in a and "daily%3Atotal" in b for a, b in derived)

    rows = list(csv.DictReader(io.StringIO(files["csv"].decode("utf-8-sig"))))
    assert {(r["source"], r["target"]) for r in rows} == edge_pairs
    row = next(r for r in rows if r["target"] == field("daily", "total") and r["kind"] == "column")
    assert row["source_name"] == "orders.amount" and row["transformation_subtype"] == "AGGREGATION"

    dot = files["dot"].decode("utf-8")
    assert dot.count(" -> ") == len(edge_pairs) and "DIRECT/AGGREGATION" in dot

    # a field's neighbourhood through the CLI (level column chosen from the node), with a manifest
    out = tmp_path / "out"
    result = runner(
        [
            "lineage",
            "export",
            "--format",
            "csv",
            "--node",
            field("orders", "amount"),
            "--direction",
            "down",
            "--out",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["query"]["level"] == "column" and manifest["edges"] == 2
    # same as_of twice: the same bytes
    query = {"format": "graphml", "level": "column", "as_of": "2025-06-01"}
    first = client.get("/api/v1/lineage/export", query_string=query).data
    assert client.get("/api/v1/lineage/export", query_string=query).data == first


@pytest.mark.parametrize(
    "query",
    [
        {"as_of": "2025-06-01"},
        {"as_of": "2025-05-01T12:00:00Z"},  # before monthly's fields were first seen
        {"node": field("orders", "amount"), "direction": "downstream", "depth": 1, "as_of": "2025-06-01"},
        {"node": "dataset:ns:daily", "direction": "both", "as_of": "2025-06-01"},
    ],
)
def test_column_graphml_is_the_graph_answer_written_out(db, chain, query):
    """The column-level GraphML (written straight from the field graph) says what the graph query
    answers, byte for byte as the file of that answer."""
    from lineage.export.bundle import export
    from lineage.export.formats import render
    from lineage.queries import subgraph

    with db.session() as s:
        made = export(s, "graphml", level="column", **query)
        answer = subgraph(s, level="column", **query)
        assert made.nodes == len(answer["nodes"]) and made.edges == len(answer["edges"])
        assert made.as_of == answer["as_of"] and made.nodes > 0
        assert made.body == render("graphml", answer, made.query)
    gml = nx.read_graphml(io.BytesIO(made.body))
    assert set(gml.nodes) == {n["id"] for n in answer["nodes"]}
    assert set(gml.edges) == {(e["source"], e["target"]) for e in answer["edges"]}
