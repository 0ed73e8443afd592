"""Lineage intake and queries: the real openlineage-python client, malformed events, flows, as_of, roles."""

from __future__ import annotations

import gzip
import json
import uuid

import pytest
import requests
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import (
    DatasetEvent,
    InputDataset,
    Job,
    JobEvent,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
    StaticDataset,
)
from openlineage.client.generated.column_lineage_dataset import ColumnLineageDatasetFacet, Fields, InputField
from openlineage.client.generated.schema_dataset import SchemaDatasetFacet, SchemaDatasetFacetFields
from sqlalchemy import func, select

from lineage import demo as lineage_demo
from lineage.models import LineageEdge, LineageEvent, LineageNode
from registry import audit
from registry.audit import AuditEntry

PRODUCER = "https://example.org/yima-tests"
RUN_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def run_event(job, inputs, outputs, when, state="COMPLETE", run_id=None, ns="ns"):
    """A RunEvent as a dict: ``inputs``/``outputs`` are dataset names in namespace ``ns``."""
    return {
        "eventType": state,
        "eventTime": when,
        "producer": PRODUCER,
        "schemaURL": RUN_URL,
        "run": {"runId": run_id or str(uuid.uuid4())},
        "job": {"namespace": ns, "name": job},
        "inputs": [{"namespace": ns, "name": n} for n in inputs],
        "outputs": [{"namespace": ns, "name": n} for n in outputs],
    }


def counts(db) -> tuple[int, int, int, int]:
    with db.session() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(t))
            for t in (LineageEvent, LineageNode, LineageEdge, AuditEntry)
        )


def ids(graph: dict) -> set[str]:
    return {n["id"] for n in graph["nodes"]}


def edges(graph: dict) -> set[tuple[str, str, str]]:
    return {(e["source"], e["target"], e["kind"]) for e in graph["edges"]}


def test_real_openlineage_client_with_api_key_and_gzip(live_server, make_token, client, db):
    secret = make_token("contributor", "airflow")["Authorization"].split()[1]

    def ol_client(**transport):
        config = {"type": "http", "url": live_server, "endpoint": "api/v1/lineage", **transport}
        return OpenLineageClient(config={"transport": config})

    emitter = ol_client(auth={"type": "api_key", "apiKey": secret}, compression="gzip")
    run = Run(runId=str(uuid.uuid4()))
    job = Job(namespace="szgws.gcjs", name="register_contract")
    schema = SchemaDatasetFacet(
        fields=[SchemaDatasetFacetFields(name="contract_no", type="string", description="合同编号")]
    )
    columns = ColumnLineageDatasetFacet(
        fields={
            "contract_no": Fields(
                inputFields=[InputField(namespace="szgws.gcjs", name="tender_award", field="project_no")]
            )
        }
    )
    inputs = [InputDataset(namespace="szgws.gcjs", name="tender_award")]
    outputs = [
        OutputDataset(
            namespace="szgws.gcjs", name="contract", facets={"schema": schema, "columnLineage": columns}
        )
    ]
    for state, when in (
        (RunState.START, "2025-02-20T10:00:00+08:00"),
        (RunState.COMPLETE, "2025-02-20T10:30:00Z"),
    ):
        emitter.emit(
            RunEvent(eventType=state, eventTime=when, run=run, job=job, inputs=inputs, outputs=outputs)
        )
    emitter.emit(
        DatasetEvent(
            eventTime="2025-03-01T00:00:00Z",
            dataset=StaticDataset(namespace="szgws.blxw", name="negative_list", facets={"schema": schema}),
        )
    )
    emitter.emit(
        JobEvent(
            eventTime="2025-03-02T00:00:00Z",
            job=Job(namespace="szgws.lypj", name="evaluate_monthly"),
            inputs=[InputDataset(namespace="szgws.gcjs", name="contract")],
            outputs=[OutputDataset(namespace="szgws.lypj", name="perf_score_monthly")],
        )
    )
    ol_client(auth={"type": "api_key", "apiKey": secret}).emit(  # uncompressed works too
        RunEvent(
            eventType=RunState.FAIL,
            eventTime="2025-03-03T00:00:00Z",
            run=Run(runId=str(uuid.uuid4())),
            job=job,
        )
    )
    # no token: 401; a viewer: 403 — and nothing stored
    before = counts(db)
    failing = RunEvent(eventType=RunState.START, eventTime="2025-04-01T00:00:00Z", run=run, job=job)
    with pytest.raises(requests.HTTPError) as no_token:
        ol_client().emit(failing)
    assert no_token.value.response.status_code == 401
    viewer = make_token("viewer")["Authorization"].split()[1]
    with pytest.raises(requests.HTTPError) as too_low:
        ol_client(auth={"type": "api_key", "apiKey": viewer}).emit(failing)
    assert too_low.value.response.status_code == 403
    assert counts(db)[:3] == before[:3]

    events = client.get("/api/v1/lineage/events").get_json()
    assert events["total"] == 5
    assert {e["kind"] for e in events["items"]} == {"RunEvent", "DatasetEvent", "JobEvent"}
    assert {e["actor"] for e in events["items"]} == {"airflow"}
    first = min(e["id"] for e in events["items"])
    stored = client.get(f"/api/v1/lineage/events/{first}").get_json()
    assert (
        stored["event"]["job"]["name"] == "register_contract" and stored["event"]["run"]["runId"] == run.runId
    )
    assert stored["eventTime"] == "2025-02-20T02:00:00Z"  # +08:00 kept as the same instant, in UTC

    graph = client.get("/api/v1/lineage/graph").get_json()
    assert edges(graph) == {
        ("dataset:szgws.gcjs:tender_award", "job:szgws.gcjs:register_contract", "input"),
        ("job:szgws.gcjs:register_contract", "dataset:szgws.gcjs:contract", "output"),
        ("dataset:szgws.gcjs:contract", "job:szgws.lypj:evaluate_monthly", "input"),
        ("job:szgws.lypj:evaluate_monthly", "dataset:szgws.lypj:perf_score_monthly", "output"),
    }
    assert "dataset:szgws.blxw:negative_list" in ids(graph)  # a DatasetEvent's dataset, no edges yet
    node = client.get("/api/v1/lineage/node?node=dataset:szgws.gcjs:contract").get_json()
    [column] = node["facets"]["schema"]["fields"]
    assert (column["name"], column["type"], column["description"]) == ("contract_no", "string", "合同编号")
    assert node["facets"]["columnLineage"]["fields"]["contract_no"]["inputFields"][0]["field"] == "project_no"
    # each accepted event is one audit entry of its own, and verify is content
    with db.session() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.entity_type == "lineage_event")).all()
        assert len(entries) == 5 and {e.actor for e in entries} == {"airflow"}
    assert client.get("/api/v1/audit/verify").get_json()["ok"] is True


def test_malformed_events_get_422_and_store_nothing(client, make_token, db):
    headers = make_token("contributor")
    good = run_event("copy", ["a"], ["b"], "2025-05-01T00:00:00Z")
    cases = [
        (b"{not json", None),
        (json.dumps([good]).encode(), None),
        (json.dumps({k: v for k, v in good.items() if k != "eventTime"}).encode(), "eventTime"),
        (json.dumps({**good, "eventTime": "2025-05-01 00:00"}).encode(), "eventTime"),
        (json.dumps({**good, "run": {"runId": "not-a-uuid"}}).encode(), "run.runId"),
        (json.dumps({**good, "eventType": "FINISHED"}).encode(), "eventType"),
        (json.dumps({**good, "inputs": [{"namespace": "ns"}]}).encode(), "inputs[0].name"),
        (json.dumps({**good, "outputs": [{"namespace": "", "name": "b"}]}).encode(), "outputs[0].namespace"),
        (json.dumps({**good, "job": {"name": "copy"}}).encode(), "job.namespace"),
        (json.dumps({**good, "producer": None}).encode(), "producer"),
        (
            json.dumps(
                {**good, "outputs": [{"namespace": "ns", "name": "b", "facets": {"schema": {"fields": 3}}}]}
            ).encode(),
            "outputs[0].facets.schema.fields",
        ),
        (
            json.dumps(
                {**good, "schemaURL": "https://openlineage.io/spec/3-0-0/OpenLineage.json#/$defs/RunEvent"}
            ).encode(),
            "schemaURL",
        ),
        (
            json.dumps(
                {"eventTime": "2025-05-01T00:00:00Z", "producer": PRODUCER, "schemaURL": "x", "dataset": {}}
            ).encode(),
            "dataset.namespace",
        ),
    ]
    before = counts(db)
    for body, path in cases:
        response = client.post(
            "/api/v1/lineage", data=body, headers={**headers, "Content-Type": "application/json"}
        )
        assert response.status_code == 422, (body, response.get_json())
        error = response.get_json()
        assert error["code"] == 422 and error["message"]
        if path:
            assert path in error["errors"], (path, error)
            assert path in error["message"] or len(error["errors"]) > 5
    # a gzip body that is not gzip: a clear 400, not a 500
    broken = client.post(
        "/api/v1/lineage",
        data=b"plain",
        headers={**headers, "Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert broken.status_code == 400
    assert counts(db) == before
    # and the good one, gzipped by hand, is accepted once; a resend is recognised
    zipped = gzip.compress(json.dumps(good).encode())
    send = dict(
        data=zipped, headers={**headers, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    )
    assert client.post("/api/v1/lineage", **send).status_code == 201
    again = client.post("/api/v1/lineage", **send)
    assert again.status_code == 200 and again.get_json()["duplicate"] is True
    assert counts(db)[0] == before[0] + 1


def test_edges_over_time_every_direction_and_as_of(client, make_token, db):
    headers = make_token("contributor")

    def send(event):
        response = client.post("/api/v1/lineage", json=event, headers=headers)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    send(run_event("load", ["raw"], ["staged"], "2025-01-10T00:00:00Z"))
    send(run_event("build", ["staged", "codes"], ["report"], "2025-02-01T00:00:00Z"))
    send(run_event("publish", ["report"], ["portal"], "2025-03-01T00:00:00Z"))
    # a later run of "build" no longer reads "codes": that edge ends then
    later = send(run_event("build", ["staged"], ["report"], "2025-06-01T00:00:00Z"))
    assert later["closed"] == [["dataset:ns:codes", "job:ns:build", "input"]]
    # a START of a new run does not end anything; a FAIL adds no edges
    send(run_event("publish", ["report", "extra"], ["portal"], "2025-07-01T00:00:00Z", state="FAIL"))
    send(run_event("publish", [], ["portal"], "2025-07-02T00:00:00Z", state="START"))

    def graph(**params):
        response = client.get("/api/v1/lineage/graph", query_string=params)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    codes_edge = ("dataset:ns:codes", "job:ns:build", "input")
    assert codes_edge in edges(graph(as_of="2025-05-01T00:00:00Z"))
    assert codes_edge not in edges(graph(as_of="2025-06-01T00:00:00Z"))  # [from, to): ended at that instant
    assert codes_edge not in edges(graph())
    assert "dataset:ns:codes" in ids(graph())  # the dataset is still known, just not connected
    assert ids(graph(as_of="2025-01-01")) == set()
    assert ids(graph(as_of="2025-01-10T00:00:00Z")) == {"dataset:ns:raw", "job:ns:load", "dataset:ns:staged"}
    assert "dataset:ns:extra" not in {e[0] for e in edges(graph())}  # FAIL: seen, never connected

    down = graph(node="dataset:ns:staged", direction="downstream")
    assert ids(down) == {
        "dataset:ns:staged",
        "job:ns:build",
        "dataset:ns:report",
        "job:ns:publish",
        "dataset:ns:portal",
    }
    assert ids(graph(node="dataset:ns:staged", direction="downstream", depth=2)) == {
        "dataset:ns:staged",
        "job:ns:build",
        "dataset:ns:report",
    }
    assert ids(graph(node="dataset:ns:report", direction="upstream")) == {
        "dataset:ns:report",
        "job:ns:build",
        "dataset:ns:staged",
        "job:ns:load",
        "dataset:ns:raw",
    }
    codes_then = graph(node="dataset:ns:report", direction="up", as_of="2025-04-01")
    assert "dataset:ns:codes" in ids(codes_then)
    both = graph(node="dataset:ns:report", direction="both", depth=1)
    assert ids(both) == {"dataset:ns:report", "job:ns:build", "job:ns:publish"}
    assert all(n.keys() >= {"id", "type", "name", "system", "resource"} for n in both["nodes"])
    assert all(e.keys() >= {"source", "target", "kind"} for e in both["edges"])

    impact = client.get("/api/v1/lineage/impact", query_string={"node": "dataset:ns:raw"}).get_json()
    assert [(d["id"], d["distance"]) for d in impact["datasets"]] == [
        ("dataset:ns:staged", 1),
        ("dataset:ns:report", 2),
        ("dataset:ns:portal", 3),
    ]
    old = client.get(
        "/api/v1/lineage/impact", query_string={"node": "dataset:ns:codes", "as_of": "2025-05-01"}
    )
    assert [d["id"] for d in old.get_json()["datasets"]] == ["dataset:ns:report", "dataset:ns:portal"]
    assert client.get("/api/v1/lineage/impact?node=dataset:ns:codes").get_json()["datasets"] == []

    path = client.get("/api/v1/lineage/path?source=dataset:ns:raw&target=dataset:ns:portal").get_json()
    assert [n["id"] for n in path["path"]][::2] == [
        "dataset:ns:raw",
        "dataset:ns:staged",
        "dataset:ns:report",
        "dataset:ns:portal",
    ]
    assert path["length"] == 6
    assert (
        client.get("/api/v1/lineage/path?source=dataset:ns:portal&target=dataset:ns:raw").status_code == 404
    )

    orphans = client.get("/api/v1/lineage/orphans").get_json()
    assert {n["id"] for n in orphans["items"]} == {"dataset:ns:codes", "dataset:ns:extra"}
    assert (orphans["total"], orphans["page"], orphans["level"]) == (2, 1, "dataset")
    assert client.get("/api/v1/lineage/cycles").get_json()["total"] == 0
    send(run_event("feedback", ["portal"], ["raw"], "2025-08-01T00:00:00Z"))
    cyc = client.get("/api/v1/lineage/cycles").get_json()
    assert cyc["total"] == 1 and cyc["items"][0][0] == "dataset:ns:portal"
    assert client.get("/api/v1/lineage/cycles?as_of=2025-07-31").get_json()["total"] == 0

    # bad parameters: clear 4xx
    assert client.get("/api/v1/lineage/graph?node=nonsense").status_code == 422
    assert client.get("/api/v1/lineage/graph?node=dataset:ns:nowhere").status_code == 404
    assert client.get("/api/v1/lineage/graph?as_of=yesterday").status_code == 422
    assert client.get("/api/v1/lineage/graph?direction=sideways").status_code == 422
    assert client.get("/api/v1/lineage/impact").status_code == 422


def test_system_level_and_uncatalogued_follow_the_catalog(client, make_token, steward, db):
    headers = make_token("contributor")
    for code, ns in (("SYSA", "a.ns"), ("SYSB", "b.ns"), ("SYSC", "c.ns")):
        made = client.post(
            "/api/v1/systems",
            json={
                "code": code,
                "name": f"系统{code}",
                "namespaces": [ns],
                "owner": None,
                "description": "测试",
            },
            headers=steward,
        )
        assert made.status_code == 201, made.get_json()
    events = [
        {
            **run_event("j1", [], [], "2025-01-01T00:00:00Z", ns="a.ns"),
            "inputs": [{"namespace": "a.ns", "name": "t1"}],
            "outputs": [{"namespace": "tmp", "name": "scratch"}],
        },
        {
            **run_event("j2", [], [], "2025-02-01T00:00:00Z", ns="tmp"),
            "inputs": [{"namespace": "tmp", "name": "scratch"}],
            "outputs": [{"namespace": "b.ns", "name": "t2"}],
        },
        {
            **run_event("j3", [], [], "2025-03-01T00:00:00Z", ns="b.ns"),
            "inputs": [{"namespace": "b.ns", "name": "t2"}],
            "outputs": [{"namespace": "c.ns", "name": "t3"}],
        },
    ]
    for event in events:
        assert client.post("/api/v1/lineage", json=event, headers=headers).status_code == 201
    system = client.get("/api/v1/lineage/graph?level=system").get_json()
    # A feeds B through an uncatalogued scratch dataset; B feeds C
    assert edges(system) == {("system:SYSA", "system:SYSB", "feeds"), ("system:SYSB", "system:SYSC", "feeds")}
    assert {n["name"] for n in system["nodes"]} == {"系统SYSA", "系统SYSB", "系统SYSC"}
    assert all(n["type"] == "system" for n in system["nodes"])
    early = client.get("/api/v1/lineage/graph?level=system&as_of=2025-02-15").get_json()
    assert edges(early) == {("system:SYSA", "system:SYSB", "feeds")}
    down = client.get("/api/v1/lineage/graph?level=system&node=system:SYSB&direction=downstream").get_json()
    assert ids(down) == {"system:SYSB", "system:SYSC"}
    nodes = {n["id"]: n for n in client.get("/api/v1/lineage/graph").get_json()["nodes"]}
    assert nodes["dataset:a.ns:t1"]["system"] == "SYSA" and nodes["dataset:tmp:scratch"]["system"] is None
    impact = client.get("/api/v1/lineage/impact?node=dataset:a.ns:t1").get_json()
    assert [(s["code"], s["distance"]) for s in impact["systems"]] == [("SYSB", 2), ("SYSC", 3)]
    by_system = client.get("/api/v1/lineage/impact?node=system:SYSA").get_json()
    assert [s["code"] for s in by_system["systems"]] == ["SYSB", "SYSC"]

    todo = client.get("/api/v1/lineage/uncatalogued").get_json()
    assert {i["id"] for i in todo["items"]} == {
        "dataset:a.ns:t1",
        "dataset:tmp:scratch",
        "dataset:b.ns:t2",
        "dataset:c.ns:t3",
    }
    resource = {
        "code": "R-001",
        "name": "表一",
        "summary": "测试资源",
        "category": "A01",
        "provider": "ORG1",
        "system": "SYSA",
        "share_type": "unconditional",
        "security_grade": "general",
        "status": "draft",
        "lineage": {"namespace": "a.ns", "name": "t1"},
        "fields": [],
    }
    made = client.post("/api/v1/resources", json=resource, headers=steward)
    if made.status_code == 201:  # the catalog ties the dataset to its resource; the to-do shrinks
        todo = client.get("/api/v1/lineage/uncatalogued").get_json()
        assert "dataset:a.ns:t1" not in {i["id"] for i in todo["items"]}
        node = client.get("/api/v1/lineage/node?node=dataset:a.ns:t1").get_json()
        assert node["resource"] == "R-001"


def test_declared_flows_roles_and_end(client, make_token, db):
    contributor, viewer = make_token("contributor", "etl-team"), make_token("viewer")
    flow = {
        "source": "dataset:ftp.szgws:bid_files",
        "target": "dataset:szgws.gcjs:tender_notice",
        "description": "每日文件同步",
    }
    before = counts(db)
    assert client.post("/api/v1/lineage/flows", json=flow).status_code == 401
    assert client.post("/api/v1/lineage/flows", json=flow, headers=viewer).status_code == 403
    assert (
        client.post(
            "/api/v1/lineage", json=run_event("x", [], [], "2025-01-01T00:00:00Z"), headers=viewer
        ).status_code
        == 403
    )
    assert counts(db) == before
    for bad in (
        {**flow, "source": "ftp.szgws:bid_files"},
        {**flow, "target": "job:ns:x"},
        {**flow, "job": "dataset:ns:x"},
        {**flow, "target": flow["source"]},
        {**flow, "valid_from": "someday"},
    ):
        response = client.post("/api/v1/lineage/flows", json=bad, headers=contributor)
        assert response.status_code == 422, bad
    made = client.post(
        "/api/v1/lineage/flows", json={**flow, "valid_from": "2025-01-01T00:00:00Z"}, headers=contributor
    )
    assert made.status_code == 201
    created = made.get_json()
    assert created["created_by"] == "etl-team" and created["valid_to"] is None
    assert client.post("/api/v1/lineage/flows", json=flow, headers=contributor).status_code == 409
    via_job = client.post(
        "/api/v1/lineage/flows",
        json={
            "source": "dataset:szgws.gcjs:tender_notice",
            "target": "dataset:szgws.gcpt:project",
            "job": "job:dbsync:nightly",
            "description": "数据库同步",
        },
        headers=contributor,
    )
    assert via_job.status_code == 201
    graph = client.get("/api/v1/lineage/graph").get_json()
    assert edges(graph) >= {
        ("dataset:ftp.szgws:bid_files", "dataset:szgws.gcjs:tender_notice", "flow"),
        ("dataset:szgws.gcjs:tender_notice", "job:dbsync:nightly", "input"),
        ("job:dbsync:nightly", "dataset:szgws.gcpt:project", "output"),
    }
    # ending a flow: gone now, still there in an earlier as_of; audited; ending twice is a conflict
    assert client.delete(f"/api/v1/lineage/flows/{created['id']}", headers=viewer).status_code == 403
    assert (
        client.delete(
            f"/api/v1/lineage/flows/{created['id']}?until=2024-01-01", headers=contributor
        ).status_code
        == 422
    )
    ended = client.delete(
        f"/api/v1/lineage/flows/{created['id']}?until=2025-06-01T00:00:00Z", headers=contributor
    )
    assert ended.status_code == 204
    assert client.delete(f"/api/v1/lineage/flows/{created['id']}", headers=contributor).status_code == 409
    assert client.delete("/api/v1/lineage/flows/999", headers=contributor).status_code == 404
    flow_edge = ("dataset:ftp.szgws:bid_files", "dataset:szgws.gcjs:tender_notice", "flow")
    assert flow_edge not in edges(client.get("/api/v1/lineage/graph").get_json())
    assert flow_edge in edges(client.get("/api/v1/lineage/graph?as_of=2025-05-31").get_json())
    assert (
        client.get(f"/api/v1/lineage/flows/{created['id']}").get_json()["valid_to"] == "2025-06-01T00:00:00Z"
    )
    assert [f["id"] for f in client.get("/api/v1/lineage/flows?active=true").get_json()["items"]] == [
        via_job.get_json()["id"]
    ]
    history = client.get(f"/api/v1/audit?entity_type=lineage_flow&entity_key={created['id']}").get_json()
    assert [e["action"] for e in history["items"]] == ["create", "end"]
    assert history["items"][1]["actor"] == "etl-team"


def test_demo_is_idempotent_and_verify_catches_edited_lineage(db, runner):
    assert lineage_demo.load(db, "demo") > 30
    assert lineage_demo.load(db, "demo") == 0
    with db.session() as s:
        assert audit.verify(s).ok
        ended = s.scalars(select(LineageEdge).where(LineageEdge.valid_to.is_not(None))).all()
        assert ("dataset:szgws.gcjs:inspection_record", "job:szgws.lypj:evaluate_monthly") in {
            (e.source, e.target) for e in ended
        }
    result = runner(["audit", "verify"])
    assert result.exit_code == 0, result.output
    with db.writer() as s:  # someone edits a stored event behind Yima's back
        row = s.scalars(select(LineageEvent).order_by(LineageEvent.id).limit(1)).one()
        body = json.loads(row.body)
        body["inputs"] = []
        row.body = json.dumps(body)
        s.commit()
    result = runner(["audit", "verify"])
    assert result.exit_code == 1
    assert "lineage_event" in result.output
    with db.writer() as s:  # or an edge's interval
        s.execute(
            LineageEdge.__table__.update().where(LineageEdge.closed_by.is_not(None)).values(closed_by=None)
        )
        s.commit()
    with db.session() as s:
        problems = audit.verify(s).problems
    assert sum("lineage_event" in p for p in problems) >= 2


def test_an_event_with_thousands_of_datasets(client, make_token):
    """A wide job (a warehouse load reading 1,200 tables) is taken whole, and ended whole."""
    headers = make_token("contributor")
    tables = [f"t{i:04d}" for i in range(1200)]
    wide = run_event("load_all", tables, ["warehouse"], "2025-01-01T00:00:00Z")
    answer = client.post("/api/v1/lineage", json=wide, headers=headers)
    assert answer.status_code == 201 and len(answer.get_json()["opened"]) == 1201
    narrow = run_event("load_all", ["t0000"], ["warehouse"], "2025-02-01T00:00:00Z")
    assert len(client.post("/api/v1/lineage", json=narrow, headers=headers).get_json()["closed"]) == 1199
    up = client.get("/api/v1/lineage/graph?node=dataset:ns:warehouse&direction=upstream&as_of=2025-01-15")
    assert len(up.get_json()["nodes"]) == 1202
    now = client.get("/api/v1/lineage/graph?node=dataset:ns:warehouse&direction=upstream").get_json()
    assert {n["id"] for n in now["nodes"]} == {"dataset:ns:warehouse", "job:ns:load_all", "dataset:ns:t0000"}
    assert client.get("/api/v1/audit/verify").get_json()["ok"] is True


def test_system_level_of_the_demo_inside_a_write_transaction(db):
    """The system graph is derived from the catalog even in a session that is mid-write (SQLite holds its lock)."""
    from catalog import demo as catalog_demo
    from lineage import queries as lineage

    catalog_demo.load_organizations(db, "demo")
    catalog_demo.load_catalog(db, "demo")
    lineage_demo.load(db, "demo")
    with db.writer() as s:
        graph = lineage.subgraph(s, level="system")
    system_edges = {(e["source"], e["target"]) for e in graph["edges"]}
    assert ("system:GCJS", "system:LYPJ") in system_edges  # contracts feed performance evaluation
    assert ("system:LYPJ", "system:BLXW") in system_edges  # evaluation feeds bad-conduct records
    assert ("system:BIMSC", "system:GJK") in system_edges  # BIM review feeds the component library
    assert all(n["type"] == "system" for n in graph["nodes"])


def test_as_of_a_bare_date_is_the_start_of_that_day_for_the_api_and_the_page(client, make_token):
    """``as_of=YYYY-MM-DD`` is 00:00 that day: in UTC for the API (the contract), in the display zone
    (YIMA_TIMEZONE, Asia/Shanghai) on the /lineage page, whose links carry the instant it meant."""
    event = run_event("load", ["raw"], ["staged"], "2025-04-01T08:00:00Z")
    assert client.post("/api/v1/lineage", json=event, headers=make_token("contributor")).status_code == 201
    that_day = client.get("/api/v1/lineage/graph?as_of=2025-04-01").get_json()
    assert that_day["as_of"] == "2025-04-01T00:00:00Z" and that_day["nodes"] == []
    assert ids(client.get("/api/v1/lineage/graph?as_of=2025-04-02").get_json()) == {
        "dataset:ns:raw",
        "job:ns:load",
        "dataset:ns:staged",
    }
    page = client.get("/lineage?level=dataset&as_of=2025-04-01").get_data(as_text=True)
    assert page.count('class="node ') == 0 and "as_of=2025-03-31T16%3A00%3A00Z" in page
    next_day = client.get("/lineage?level=dataset&as_of=2025-04-02&jobs=nodes").get_data(as_text=True)
    assert next_day.count('class="node ') == 3  # 08:00Z on 1 April is before 00:00 on 2 April in Shenzhen


def _same(a, b) -> bool:
    """Equal JSON values, NaN equal to NaN."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_an_event_given_as_an_object_is_kept_as_the_same_values(client, db, database_url):
    """An event handed to intake as a dict (SQL recording, the demo) is kept as text: read back, its body
    and its datasets' facets are the values it held, whatever JSON they are (non-ASCII text, floats, an
    integer beyond 64 bits; NaN too where the database takes it, also once merged with later facets),
    and verify recomputes its sha256."""
    from lineage import intake

    facets = [
        {"text": {"v": '合同编号 \u2028 \x01 "quoted" \\', "nested": {"empty": {}, "l": [[], [None, True]]}}},
        {"numbers": {"v": [0.1, 1e16, -0.0, 2.5e-308, 1.5e300, -(2**63), 2**64 - 1]}},
    ]
    if database_url.startswith("sqlite"):  # PostgreSQL's json type refuses NaN, as it always did
        facets.append({"nan": {"v": [float("nan"), float("inf"), -float("inf")]}})
    facets.append({"plain": {"rows": 12}})  # merged into stored facets that may hold NaN
    sent = []
    for day, facet in enumerate(facets, start=1):
        event = run_event("odd_job", ["src"], ["out"], f"2025-03-{day:02d}T00:00:00Z")
        event["outputs"][0]["facets"] = facet
        event["run"]["facets"] = {"big": {"v": 2**70 + day}}  # beyond what orjson writes
        with db.writer() as s:
            summary, created = intake.ingest(s, json.loads(json.dumps(event)), actor="sql-recorder")
        assert created
        sent.append((summary["id"], event))
    for event_id, event in sent:
        stored = client.get(f"/api/v1/lineage/events/{event_id}").get_json()["event"]
        assert _same(stored, event)
    node = client.get("/api/v1/lineage/node?node=dataset:ns:out").get_json()
    assert _same(node["facets"], {k: v for f in facets for k, v in f.items()})
    assert client.get("/api/v1/audit/verify").get_json()["ok"] is True
