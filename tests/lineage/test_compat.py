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
