"""OpenLineage compatibility: every real event in ../shared/data/openlineage-events/ (Marquez's and
OpenLineage's own tests, Airflow and Spark producers) is accepted except the templates and the
genuinely invalid ones; what was assumed is said and kept with the event."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState

from tests.conftest import SHARED

EVENTS = SHARED / "data" / "openlineage-events"

#: the events that really break the spec, by reason (the README there names them "deliberately odd")
INVALID = {
    "openlineage__proxy-fluentd-events-event-no-run-id.json": "run.runId",  # no run id
    "ol-compat-tests__simple-run-event-events-simple-run-event.json": "run.runId",  # runId "run_id"
    "openlineage__spark-test-data-serde-openlineage-event.json": "producer",  # no producer
}


def _templates() -> set[str]:
    """The files the folder's README marks TEMPLATE (test expectations with placeholders)."""
    rows = (EVENTS / "README.md").read_text(encoding="utf-8").splitlines()
    return {
        row.split("|")[1].strip()
        for row in rows
        if re.match(r"\|\s*\S+\.json\s*\|", row) and "TEMPLATE" in row
    }


def _real_events() -> list:
    if not EVENTS.is_dir():
        pytest.skip(f"{EVENTS} is not here")
    return sorted(EVENTS.glob("*.json"))


def test_every_real_event_is_accepted_but_templates_and_the_invalid(client, make_token):
    headers = make_token("contributor")
    files = _real_events()
    templates = _templates()
    assert len(files) == 120 and len(templates) == 7
    accepted, rejected, warned = [], {}, {}
    for path in files:
        response = client.post(
            "/api/v1/lineage", data=path.read_bytes(), headers={**headers, "Content-Type": "application/json"}
        )
        body = response.get_json()
        if response.status_code in (200, 201):  # 200: identical content already sent (see the README)
            accepted.append(path.name)
            warned[path.name] = body["warnings"]
        else:
            assert response.status_code == 422, (path.name, response.status_code, body)
            rejected[path.name] = body["errors"]
    assert set(rejected) == templates | set(INVALID), sorted(set(rejected) ^ (templates | set(INVALID)))
    for name, reason in INVALID.items():
        assert reason in rejected[name], (name, rejected[name])
    assert len(accepted) == 110
    # what was assumed is said: an old spec, a missing schemaURL, a time without a zone
    old = warned["marquez__api-test-open-lineage-event-full.json"]
    assert old == ["schemaURL names OpenLineage spec 1-0-1: validated as 2-0-2"]
    assert warned["marquez__api-test-apples-1-pick-apples.json"] == [
        "no schemaURL: read as OpenLineage spec 2-0-2"
    ]
    naive = warned["marquez__api-test-open-lineage-event-required-no-timezone.json"]
    assert "eventTime '2020-12-28T19:51:01.641499' has no time zone: read as UTC" in naive
    assert warned["ol-compat-tests__CLL-events-1.json"] == []  # 2-0-2 as it is: nothing assumed
    # kept with the raw event, and in its audit entry
    listed = client.get("/api/v1/lineage/events?per_page=200").get_json()["items"]
    [stored] = [e for e in listed if e["warnings"] == naive]
    assert stored["eventTime"] == "2020-12-28T19:51:01.641499Z"  # the naive time, read as UTC
    item = client.get(f"/api/v1/lineage/events/{stored['id']}").get_json()
    assert item["warnings"] == naive and item["event"]["eventTime"] == "2020-12-28T19:51:01.641499"
    entries = client.get("/api/v1/audit?entity_type=lineage_event&per_page=200").get_json()["items"]
    assert any(e["after"].get("warnings") == naive for e in entries)
    assert client.get("/api/v1/audit/verify").get_json()["ok"] is True


def test_what_still_breaks_the_spec_is_422_with_a_clear_message(client, make_token):
    headers = make_token("contributor")
    event = json.loads((EVENTS / "marquez__api-test-open-lineage-event-simple.json").read_text())
    future = {**event, "schemaURL": "https://openlineage.io/spec/3-0-0/OpenLineage.json#/$defs/RunEvent"}
    answer = client.post("/api/v1/lineage", json=future, headers=headers)
    assert answer.status_code == 422
    message = answer.get_json()["errors"]["schemaURL"][0]
    assert "spec 3-0-0 is not accepted" in message and "spec spec/" not in message
    for broken, path in (
        ({**event, "run": {"runId": "run_id"}}, "run.runId"),
        ({**event, "run": {}}, "run.runId"),
        ({k: v for k, v in event.items() if k != "producer"}, "producer"),
    ):
        answer = client.post("/api/v1/lineage", json=broken, headers=headers)
        assert answer.status_code == 422 and path in answer.get_json()["errors"], answer.get_json()
    # the kind named in the old way (#/definitions/) is read like #/$defs/
    job_event = {
        **event,
        "schemaURL": "https://openlineage.io/spec/1-0-5/OpenLineage.json#/definitions/JobEvent",
    }
    answer = client.post("/api/v1/lineage", json=job_event, headers=headers)
    assert answer.status_code == 422 and "run" in answer.get_json()["errors"]  # a JobEvent has no run


def test_the_real_client_sends_a_time_without_a_zone(live_server, make_token, client):
    """openlineage-python lets a user set ``eventTime`` without a zone: accepted, read as UTC."""
    secret = make_token("contributor", "airflow")["Authorization"].split()[1]
    config = {"type": "http", "url": live_server, "endpoint": "api/v1/lineage"}
    emitter = OpenLineageClient(
        config={"transport": {**config, "auth": {"type": "api_key", "apiKey": secret}}}
    )
    emitter.emit(
        RunEvent(
            eventType=RunState.COMPLETE,
            eventTime="2025-05-02T10:00:00",
            run=Run(runId=str(uuid.uuid4())),
            job=Job(namespace="szgws.gcjs", name="naive_job"),
            inputs=[InputDataset(namespace="szgws.gcjs", name="tender")],
            outputs=[OutputDataset(namespace="szgws.gcjs", name="contract")],
        )
    )
    [stored] = client.get("/api/v1/lineage/events").get_json()["items"]
    assert stored["eventTime"] == "2025-05-02T10:00:00Z"
    assert stored["warnings"] == ["eventTime '2025-05-02T10:00:00' has no time zone: read as UTC"]
    graph = client.get("/api/v1/lineage/graph?as_of=2025-05-02T10:00:00Z").get_json()
    assert {n["id"] for n in graph["nodes"]} >= {"job:szgws.gcjs:naive_job", "dataset:szgws.gcjs:contract"}


# --- edges that do not vanish ---------------------------------------------------------------

SPARK = "ol-compat-tests__spark-dataproc-simple-producer-test-complete-events-{}.json"
T1 = "dataset:hdfs://dataproc-producer-test-m:/user/hive/warehouse/t1"
T2 = "dataset:hdfs://dataproc-producer-test-m:/user/hive/warehouse/t2"
APP = "job:default:cl_i_test_application"


def _spark_events() -> list[dict]:
    """The real Spark 1.23 events of one application on Dataproc, in event-time order."""
    _real_events()
    events = [json.loads((EVENTS / SPARK.format(n)).read_text()) for n in range(1, 17)]
    return sorted(events, key=lambda e: e["eventTime"])


def _edges(graph: dict) -> set[tuple[str, str]]:
    return {(e["source"], e["target"]) for e in graph["edges"]}


def test_two_runs_of_one_spark_job_name_keep_each_others_edges(client, make_token):
    """Spark names jobs ``app.action``: two runs of ``…drop_table`` wrote t1 and t2; the later COMPLETE
    must not end the earlier run's edge. (Sent without their ``lifecycleStateChange`` facet, as Spark
    integrations before it sent them: with it, a DROP opens no edge at all, see the test below.)"""
    headers = make_token("contributor")
    closed = []
    for event in _spark_events():
        for ds in event.get("outputs", []):
            (ds.get("facets") or {}).pop("lifecycleStateChange", None)
        answer = client.post("/api/v1/lineage", json=event, headers=headers)
        assert answer.status_code == 201, answer.get_json()
        closed += answer.get_json()["closed"]
    assert closed == []  # no run of the application ended what another run established
    now = _edges(client.get("/api/v1/lineage/graph").get_json())
    drop = f"{APP}.drop_table"
    assert {(drop, T1), (drop, T2)} <= now
    assert (T1, f"{APP}.execute_insert_into_hive_table.warehouse_t2") in now
    assert (f"{APP}.execute_insert_into_hive_table.warehouse_t2", T2) in now
    assert client.get("/api/v1/audit/verify").get_json()["ok"] is True


def test_a_run_that_rewrites_all_the_jobs_outputs_ends_the_inputs_it_no_longer_reads(client, make_token):
    """Marquez's apples: ``gather_apples`` later picks crab apples instead of red delicious, writing the
    same ``apples``: that run speaks for the whole job, and the red delicious input ends then."""
    headers = make_token("contributor")
    for name in ("1-pick-apples", "2-apple-filling", "7-pick-different-apples", "8-apple-filling"):
        event = json.loads((EVENTS / f"marquez__api-test-apples-{name}.json").read_text())
        answer = client.post("/api/v1/lineage", json=event, headers=headers)
        assert answer.status_code == 201, answer.get_json()
    job = "job:grandmas.kitchen:gather_apples"
    red, crab = "dataset:laurents-orchard:red.delicious", "dataset:backyard:crab.apples"
    now = _edges(client.get("/api/v1/lineage/graph").get_json())
    assert (crab, job) in now and (red, job) not in now
    before = _edges(client.get("/api/v1/lineage/graph?as_of=2020-10-01").get_json())
    assert (red, job) in before and (crab, job) not in before  # as_of still shows what was
    # the filling now also takes sugar: added, nothing it still reads is lost
    filling = "job:grandmas.kitchen:prepare_apple_filling"
    assert {("dataset:cupboard:sugar", filling), ("dataset:grandmas.kitchen:cinnamon", filling)} <= now


def test_a_complete_does_not_end_what_its_own_start_listed(client, make_token):
    """A producer that lists datasets in START and fewer in COMPLETE (each run) loses nothing."""
    headers = make_token("contributor")
    event = json.loads((EVENTS / "marquez__api-test-open-lineage-event-simple.json").read_text())

    def send(run_id, state, when, inputs, outputs=event["outputs"]):
        body = {**event, "eventType": state, "eventTime": when, "run": {"runId": run_id}}
        body |= {"inputs": inputs, "outputs": outputs}
        answer = client.post("/api/v1/lineage", json=body, headers=headers)
        assert answer.status_code == 201, answer.get_json()
        return answer.get_json()["closed"]

    inputs = event["inputs"]
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    assert send(first, "START", "2025-01-01T00:00:00Z", inputs) == []
    assert send(first, "COMPLETE", "2025-01-01T01:00:00Z", inputs[:1]) == []
    assert send(second, "START", "2025-01-02T00:00:00Z", inputs) == []
    assert send(second, "COMPLETE", "2025-01-02T01:00:00Z", inputs[:1]) == []
    assert send(str(uuid.uuid4()), "COMPLETE", "2025-01-03T00:00:00Z", [], []) == []  # lists nothing
    graph = client.get("/api/v1/lineage/graph").get_json()
    assert len(graph["edges"]) == 3


# --- symlinks, parent, DROP -----------------------------------------------------------------

HIVE_T1 = "dataset:hive://dataproc-producer-test-m:9083:default.t1"


def _send_spark(client, headers) -> list[dict]:
    answers = []
    for event in _spark_events():
        answer = client.post("/api/v1/lineage", json=event, headers=headers)
        assert answer.status_code == 201, answer.get_json()
        answers.append(answer.get_json())
    return answers


def test_a_drop_opens_no_edge_and_ends_the_datasets_edges(client, make_token):
    headers = make_token("contributor")
    _send_spark(client, headers)
    now = _edges(client.get("/api/v1/lineage/graph").get_json())
    assert not any(f"{APP}.drop_table" in edge for edge in now)  # dropping is not writing
    create, insert = (
        f"{APP}.execute_create_table_command.warehouse_t1",
        f"{APP}.execute_insert_into_hive_table.warehouse_t1",
    )
    assert {(create, T1), (insert, T1), (T1, f"{APP}.execute_insert_into_hive_table.warehouse_t2")} <= now
    # the next day the application drops t1 again (the real drop event, run again)
    drop = json.loads((EVENTS / SPARK.format(3)).read_text())
    drop |= {"eventTime": "2024-10-18T09:00:00Z", "run": {**drop["run"], "runId": str(uuid.uuid4())}}
    answer = client.post("/api/v1/lineage", json=drop, headers=headers).get_json()
    assert {(c[0], c[1]) for c in answer["closed"]} == {
        (create, T1),
        (insert, T1),
        (T1, f"{APP}.execute_insert_into_hive_table.warehouse_t2"),
    }
    after = _edges(client.get("/api/v1/lineage/graph").get_json())
    assert (
        not any(T1 in edge for edge in after)
        and (f"{APP}.execute_insert_into_hive_table.warehouse_t2", T2) in after
    )
    before = _edges(client.get("/api/v1/lineage/graph?as_of=2024-10-18T08:59:59Z").get_json())
    assert (insert, T1) in before  # as_of before the drop still shows them
    assert client.get("/api/v1/audit/verify").get_json()["ok"] is True


def test_symlinks_make_one_node_of_two_identifiers(client, make_token):
    headers = make_token("contributor")
    answers = _send_spark(client, headers)
    assert ["dataset:hdfs://dataproc-producer-test-m/user/hive/warehouse:default.t1", T1] in answers[1][
        "aliased"
    ]
    # the Hive name of t1 answers for the one node (its file location)
    node = client.get("/api/v1/lineage/node", query_string={"node": HIVE_T1}).get_json()
    assert node["id"] == T1 and HIVE_T1 in node["aliases"]
    graph = client.get("/api/v1/lineage/graph", query_string={"node": HIVE_T1, "direction": "downstream"})
    assert T2 in {n["id"] for n in graph.get_json()["nodes"]}
    # a producer that names the table the Hive way adds to the same node, not a second one
    reader = json.loads((EVENTS / "marquez__api-test-open-lineage-event-simple.json").read_text())
    reader |= {
        "eventTime": "2024-10-20T00:00:00Z",
        "inputs": [{"namespace": "hive://dataproc-producer-test-m:9083", "name": "default.t1"}],
        "outputs": [{"namespace": "reports", "name": "t1_summary"}],
    }
    assert client.post("/api/v1/lineage", json=reader, headers=headers).status_code == 201
    whole = client.get("/api/v1/lineage/graph").get_json()
    assert HIVE_T1 not in {n["id"] for n in whole["nodes"]}
    assert (T1, "job:my-scheduler-namespace:myjob") in _edges(whole)
    impact = client.get("/api/v1/lineage/impact", query_string={"node": HIVE_T1}).get_json()
    assert "dataset:reports:t1_summary" in {d["id"] for d in impact["datasets"]}
    assert client.get("/api/v1/audit/verify").get_json()["ok"] is True


def test_the_parent_facet_links_a_run_job_to_its_parent_job(client, make_token):
    _send_spark(client, make_token("contributor"))
    nodes = {n["id"]: n for n in client.get("/api/v1/lineage/graph").get_json()["nodes"]}
    assert nodes[f"{APP}.execute_insert_into_hive_table.warehouse_t2"]["parent"] == APP
    assert nodes[APP]["parent"] is None and nodes[APP]["type"] == "job"
    detail = client.get("/api/v1/lineage/node", query_string={"node": f"{APP}.drop_table"}).get_json()
    assert detail["parent"] == APP


def test_other_assumptions_are_said_too(client, make_token):
    headers = make_token("contributor")
    event = json.loads((EVENTS / "marquez__api-test-open-lineage-event-simple.json").read_text())
    custom = {**event, "schemaURL": "https://example.org/our-lineage.json#/$defs/RunEvent"}
    answer = client.post("/api/v1/lineage", json=custom, headers=headers)
    assert answer.status_code == 201
    assert answer.get_json()["warnings"] == [
        "schemaURL 'https://example.org/our-lineage.json#/$defs/RunEvent' names no OpenLineage spec version: read as 2-0-2"
    ]
    orphan = {
        **event,
        "eventTime": "2021-01-01T00:00:00Z",
        "run": {"runId": str(uuid.uuid4()), "facets": {"parent": {"run": {"runId": str(uuid.uuid4())}}}},
    }
    answer = client.post("/api/v1/lineage", json=orphan, headers=headers)
    assert answer.status_code == 201
    assert "run.facets.parent names no job (namespace and name): not linked" in answer.get_json()["warnings"]


def test_a_dataset_event_that_says_drop_ends_the_datasets_edges(client, make_token):
    headers = make_token("contributor")
    simple = json.loads((EVENTS / "marquez__api-test-open-lineage-event-simple.json").read_text())
    assert client.post("/api/v1/lineage", json=simple, headers=headers).status_code == 201
    output = simple["outputs"][0]
    node = f"dataset:{output['namespace']}:{output['name']}"
    dropped = json.loads((EVENTS / "marquez__api-test-open-lineage-event-dataset-event.json").read_text())
    dropped["eventTime"] = "2021-06-01T00:00:00Z"
    dropped["dataset"] = {
        "namespace": output["namespace"],
        "name": output["name"],
        "facets": {"lifecycleStateChange": {"lifecycleStateChange": "DROP"}},
    }
    answer = client.post("/api/v1/lineage", json=dropped, headers=headers).get_json()
    assert answer["closed"] == [["job:my-scheduler-namespace:myjob", node, "output"]]
    assert not any(
        node in (e["source"], e["target"]) for e in client.get("/api/v1/lineage/graph").get_json()["edges"]
    )
    then = client.get("/api/v1/lineage/graph?as_of=2021-05-31").get_json()
    assert any(e["target"] == node for e in then["edges"])
    assert client.get("/api/v1/audit/verify").get_json()["ok"] is True
