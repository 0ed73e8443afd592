"""A target changed since submission is 409 with nothing applied, and two approvals racing on one code apply
one change and refuse the other; the audit chain stays intact — SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

from tests.review.review_helpers import DOOR, FREE_CODE, RESOURCE, audit_of, decide, review, submit

CODE_URL = "/api/v1/schemes/szgws-me/codes/"


def _reviewed(client, party, **body) -> int:
    created = submit(client, party["contractor"], **body)
    assert created.status_code == 201, created.get_json()
    rid = created.get_json()["id"]
    assert review(client, party["supervisor"], rid).status_code == 200
    return rid


def test_a_code_changed_since_submission_is_409_and_nothing_is_applied(client, party, steward):
    rid = _reviewed(
        client, party, kind="code.update", scheme="szgws-me", target=DOOR, payload={"name": "甲级防火门"}
    )
    direct = client.patch(CODE_URL + DOOR, json={"unit": "扇"}, headers=steward)  # a direct write meanwhile
    assert direct.status_code == 200
    assert client.get(f"/api/v1/requests/{rid}/diff").get_json()["diff"]["stale"] is True
    refused = decide(client, party["owner"], rid)
    assert refused.status_code == 409 and "changed since" in refused.get_json()["message"]
    code = client.get(CODE_URL + DOOR).get_json()
    assert (code["name"], code["unit"]) == ("钢质防火门", "扇")
    assert client.get(f"/api/v1/requests/{rid}").get_json()["status"] == "reviewed"
    assert audit_of(client, request=rid) == []
    assert (
        decide(client, party["owner"], rid, "reject", "对象已变更，请重新提议").get_json()["status"]
        == "rejected"
    )
    assert client.get("/api/v1/audit/verify").get_json()["ok"]


def test_a_resource_changed_since_submission_is_409(client, party, steward):
    rid = _reviewed(client, party, kind="resource.update", target=RESOURCE, payload={"summary": "申请的摘要"})
    etag = client.get(f"/api/v1/resources/{RESOURCE}").headers["ETag"]
    assert client.get(f"/api/v1/requests/{rid}").get_json()["base"] == etag.strip(
        '"'
    )  # the ETag at submission
    assert (
        client.patch(
            f"/api/v1/resources/{RESOURCE}", json={"tags": ["直接修改"]}, headers=steward
        ).status_code
        == 200
    )
    assert decide(client, party["owner"], rid).status_code == 409
    assert client.get(f"/api/v1/resources/{RESOURCE}").get_json()["summary"] != "申请的摘要"


def test_an_added_code_that_appeared_meanwhile_is_409(client, party, steward):
    rid = _reviewed(
        client, party, kind="code.add", scheme="szgws-me", payload={"code": FREE_CODE, "name": "隔热门"}
    )
    assert (
        client.post(
            "/api/v1/schemes/szgws-me/codes", json={"code": FREE_CODE, "name": "直接新增"}, headers=steward
        ).status_code
        == 201
    )
    refused = decide(client, party["owner"], rid)
    assert refused.status_code == 409 and "nothing was applied" in refused.get_json()["message"]
    assert client.get(CODE_URL + FREE_CODE).get_json()["name"] == "直接新增"


def _post(url: str, body: dict, headers: dict) -> tuple[int, dict]:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={**headers, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_two_concurrent_approvals_on_one_code_apply_one_and_refuse_the_other(client, party, live_server):
    first = _reviewed(
        client, party, kind="code.update", scheme="szgws-me", target=DOOR, payload={"name": "甲级钢质防火门"}
    )
    second = _reviewed(
        client, party, kind="code.update", scheme="szgws-me", target=DOOR, payload={"name": "乙级钢质防火门"}
    )
    deciders = {first: party["owner"], second: party["owner2"]}
    start = threading.Barrier(2)
    results: dict[int, tuple[int, dict]] = {}

    def approve(rid):
        start.wait()
        results[rid] = _post(
            f"{live_server}/api/v1/requests/{rid}/decide", {"decision": "approve"}, deciders[rid]
        )

    threads = [threading.Thread(target=approve, args=(rid,)) for rid in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    statuses = sorted(status for status, _ in results.values())
    assert statuses == [200, 409], results
    winner = next(rid for rid, (status, _) in results.items() if status == 200)
    loser = next(rid for rid in results if rid != winner)
    name = client.get(CODE_URL + DOOR).get_json()["name"]
    assert name == ("甲级钢质防火门" if winner == first else "乙级钢质防火门")
    assert client.get(f"/api/v1/requests/{loser}").get_json()["status"] == "reviewed"
    assert len(audit_of(client, request=winner)) == 1 and audit_of(client, request=loser) == []
    assert client.get("/api/v1/audit/verify").get_json()["ok"]
