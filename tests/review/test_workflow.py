"""Each request kind through the three parties (submit → endorse → approve), the return/resubmit and reject
paths, and what each step leaves in the data and the audit chain — API, SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.review.review_helpers import (
    DOOR,
    FREE_CODE,
    RESOURCE,
    audit_of,
    decide,
    new_resource,
    review,
    submit,
)

CODE_URL = "/api/v1/schemes/szgws-me/codes/"


def _proposals(client):
    """kind → (request body, a check that the change is in the data after approval)."""
    return {
        "code.add": (
            {
                "kind": "code.add",
                "scheme": "szgws-me",
                "payload": {"code": FREE_CODE, "name": "隔热防火门", "unit": "樘"},
            },
            lambda: client.get(CODE_URL + FREE_CODE).get_json().get("name") == "隔热防火门",
        ),
        "code.update": (
            {
                "kind": "code.update",
                "scheme": "szgws-me",
                "target": DOOR,
                "payload": {"name": "钢质防火门（甲级）"},
            },
            lambda: client.get(CODE_URL + DOOR).get_json()["name"] == "钢质防火门（甲级）",
        ),
        "code.deprecate": (
            {
                "kind": "code.deprecate",
                "scheme": "szgws-me",
                "target": "30-10.10.30",
                "payload": {"successor": DOOR},
            },
            lambda: (
                client.get("/api/v1/validate/codes?scheme=szgws-me&code=30-10.10.30").get_json()["successor"]
                == DOOR
            ),
        ),
        "resource.create": (
            {"kind": "resource.create", "payload": new_resource(client)},
            lambda: client.get("/api/v1/resources/REV-R1").status_code == 200,
        ),
        "resource.update": (
            {"kind": "resource.update", "target": RESOURCE, "payload": {"summary": "经三方审核修订的摘要"}},
            lambda: (
                client.get(f"/api/v1/resources/{RESOURCE}").get_json()["summary"] == "经三方审核修订的摘要"
            ),
        ),
    }


@pytest.mark.parametrize(
    "kind", ["code.add", "code.update", "code.deprecate", "resource.create", "resource.update"]
)
def test_each_kind_goes_submit_endorse_approve_and_is_applied_naming_the_request(client, party, kind):
    body, applied = _proposals(client)[kind]
    created = submit(client, party["contractor"], **body)
    assert created.status_code == 201, created.get_json()
    req = created.get_json()
    assert (req["status"], req["submitted_by"], req["organization"]) == ("submitted", "contractor", "CSCEC3B")
    assert req["history"][0]["action"] == "submit" and req["history"][0]["organization"] == "CSCEC3B"
    assert not applied(), "nothing changes before the owner decides"

    endorsed = review(client, party["supervisor"], req["id"])
    assert endorsed.status_code == 200 and endorsed.get_json()["status"] == "reviewed"
    assert not applied()
    approved = decide(client, party["owner"], req["id"], comment="同意")
    assert approved.status_code == 200, approved.get_json()
    shown = approved.get_json()
    assert shown["status"] == "approved"
    assert [(h["action"], h["actor"], h["organization"]) for h in shown["history"]] == [
        ("submit", "contractor", "CSCEC3B"),
        ("endorse", "supervisor", "SUP-DEMO"),
        ("approve", "owner", "SZGWS-GCGL"),
    ]
    assert applied()

    # the change's own audit entry names the request and the approver's organization; every transition is one
    changes = audit_of(client, request=req["id"])
    assert len(changes) == 1 and changes[0]["entity_type"] in ("release", "resource")
    assert changes[0]["organization"] == "SZGWS-GCGL" and changes[0]["actor"] == "owner"
    steps = audit_of(client, entity_type="change_request", entity_key=req["id"])
    assert [(e["action"], e["organization"]) for e in steps] == [
        ("submit", "CSCEC3B"),
        ("endorse", "SUP-DEMO"),
        ("approve", "SZGWS-GCGL"),
    ]
    assert steps[-1]["after"] == {k: v for k, v in shown.items()}
    assert changes[0]["seq"] < steps[-1]["seq"]  # applied, then recorded as approved, in one transaction
    assert client.get("/api/v1/audit/verify").get_json()["ok"]


def test_a_returned_request_is_amended_and_resubmitted_keeping_its_history(client, party):
    body = {"kind": "code.add", "scheme": "szgws-me", "payload": {"code": FREE_CODE, "name": "防火门"}}
    rid = submit(client, party["contractor"], **body).get_json()["id"]
    assert review(client, party["supervisor"], rid, "return", comment=None).status_code == 422  # why, please
    returned = review(
        client, party["supervisor"], rid, "return", comment="名称与 30-10.10.10 重复，请写明类型"
    )
    assert returned.get_json()["status"] == "returned"
    assert decide(client, party["owner"], rid).status_code == 409  # a returned request is not decided
    # only its submitter amends it
    other = client.post(
        f"/api/v1/requests/{rid}/resubmit", json={"payload": {}}, headers=party["contractor2"]
    )
    assert other.status_code == 403
    bad = client.post(
        f"/api/v1/requests/{rid}/resubmit", json={"payload": {"code": FREE_CODE}}, headers=party["contractor"]
    )
    assert bad.status_code == 422 and "name" in str(
        bad.get_json()["errors"]
    )  # checked again, as at submission
    amended = client.post(
        f"/api/v1/requests/{rid}/resubmit",
        json={"payload": {"code": FREE_CODE, "name": "隔声防火门"}, "comment": "已改名"},
        headers=party["contractor"],
    )
    assert amended.status_code == 200, amended.get_json()
    assert amended.get_json()["status"] == "submitted"
    assert review(client, party["supervisor"], rid).status_code == 200  # the same supervisor, a new round
    done = decide(client, party["bureau"], rid).get_json()  # the bureau decides as an owner does
    assert done["status"] == "approved"
    assert [h["action"] for h in done["history"]] == ["submit", "return", "resubmit", "endorse", "approve"]
    assert done["history"][1]["comment"].startswith("名称与")
    assert client.get(CODE_URL + FREE_CODE).get_json()["name"] == "隔声防火门"


def test_a_rejected_request_changes_nothing(client, party):
    rid = submit(
        client, party["contractor"], kind="resource.update", target=RESOURCE, payload={"name": "改名"}
    ).get_json()["id"]
    before = client.get(f"/api/v1/resources/{RESOURCE}").get_json()
    review(client, party["supervisor"], rid)
    assert decide(client, party["owner"], rid, "reject").status_code == 422  # a rejection says why
    rejected = decide(client, party["owner"], rid, "reject", comment="名称由建设单位统一规定")
    assert rejected.get_json()["status"] == "rejected"
    assert client.get(f"/api/v1/resources/{RESOURCE}").get_json() == before
    assert audit_of(client, request=rid) == []
    assert decide(client, party["owner2"], rid).status_code == 409  # final
    assert client.get("/api/v1/requests?status=rejected").get_json()["total"] == 1


def test_nobody_reviews_or_decides_their_own_request(client, party):
    # a supervisor's own proposal: neither it nor a colleague of its organization reviews it
    rid = submit(
        client,
        party["supervisor"],
        kind="code.update",
        scheme="szgws-me",
        target=DOOR,
        payload={"unit": "扇"},
    ).get_json()["id"]
    own = review(client, party["supervisor"], rid)
    assert own.status_code == 403 and "own" in own.get_json()["message"]
    # an owner's own proposal: reviewed by the supervisor, decided by another owner organization only
    rid = submit(
        client, party["owner"], kind="code.update", scheme="szgws-me", target=DOOR, payload={"unit": "套"}
    ).get_json()["id"]
    assert review(client, party["supervisor"], rid).status_code == 200
    assert decide(client, party["owner"], rid).status_code == 403
    assert decide(client, party["owner2"], rid).status_code == 200


def test_wrong_organization_kind_is_403_and_wrong_state_409(client, party):
    rid = submit(
        client,
        party["contractor"],
        kind="code.update",
        scheme="szgws-me",
        target=DOOR,
        payload={"unit": "扇"},
    ).get_json()["id"]
    for who in ("contractor2", "owner", "bureau"):  # only a supervisor organization reviews
        assert review(client, party[who], rid).status_code == 403, who
    assert decide(client, party["owner"], rid).status_code == 409  # not reviewed yet
    assert review(client, party["supervisor"], rid).status_code == 200
    assert review(client, party["supervisor"], rid, "return", "再看看").status_code == 409  # acted already
    assert decide(client, party["supervisor"], rid).status_code == 403  # role contributor: not a steward
    wrong = decide(client, party["assessor"], rid)  # a steward, but of an assessor organization
    assert wrong.status_code == 403 and "owner" in wrong.get_json()["message"]
    assert decide(client, party["owner"], rid).status_code == 200
    assert decide(client, party["owner2"], rid, "reject", "晚了").status_code == 409
    assert (
        client.post(
            "/api/v1/requests/999/review", json={"decision": "endorse"}, headers=party["supervisor"]
        ).status_code
        == 404
    )


def test_who_may_submit(client, party, make_token):
    body = {
        "kind": "code.update",
        "scheme": "szgws-me",
        "target": DOOR,
        "payload": {"unit": "扇"},
        "reason": "x",
    }
    assert client.post("/api/v1/requests", json=body).status_code == 401
    assert client.post("/api/v1/requests", json=body, headers=make_token("viewer")).status_code == 403
    lonely = client.post("/api/v1/requests", json=body, headers=party["loner"])  # an admin of no organization
    assert lonely.status_code == 403 and "--org" in lonely.get_json()["message"]
    assert client.post("/api/v1/requests", json=body, headers=party["contractor"]).status_code == 201


#: (request body, status, the field its errors name) — each refused as the direct write refuses it
BAD = [
    ({"kind": "code.add", "scheme": "szgws-me", "payload": {"code": "30-1x", "name": "坏"}}, 422, "payload"),
    ({"kind": "code.add", "scheme": "szgws-me", "payload": {"code": FREE_CODE}}, 422, "payload"),
    (
        {"kind": "code.add", "scheme": "szgws-me", "payload": {"code": "30-10.99.10", "name": "无上级"}},
        422,
        "payload",
    ),
    (
        {
            "kind": "code.add",
            "scheme": "szgws-me",
            "payload": {"code": FREE_CODE, "name": "x", "colour": "red"},
        },
        422,
        "payload",
    ),
    ({"kind": "code.add", "scheme": "szgws-me", "payload": {"code": DOOR, "name": "重复"}}, 409, None),
    ({"kind": "code.add", "payload": {"code": FREE_CODE, "name": "x"}}, 422, "scheme"),
    ({"kind": "code.add", "scheme": "nope", "payload": {"code": FREE_CODE, "name": "x"}}, 422, "scheme"),
    (
        {
            "kind": "code.add",
            "scheme": "szgws-me",
            "release": "1999",
            "payload": {"code": FREE_CODE, "name": "x"},
        },
        422,
        "release",
    ),
    (
        {"kind": "code.update", "scheme": "szgws-me", "target": "30-10.10.99", "payload": {"name": "x"}},
        422,
        "target",
    ),
    ({"kind": "code.update", "scheme": "szgws-me", "target": DOOR, "payload": {}}, 422, "payload"),
    (
        {"kind": "code.update", "scheme": "szgws-me", "target": DOOR, "payload": {"name": "钢质防火门"}},
        422,
        "payload",
    ),
    (
        {"kind": "code.deprecate", "scheme": "szgws-me", "target": DOOR, "payload": {"successor": DOOR}},
        422,
        "payload",
    ),
    (
        {
            "kind": "code.deprecate",
            "scheme": "szgws-me",
            "target": "40-10.10.90",
            "payload": {"successor": "40-10.10.20"},
        },
        409,
        None,
    ),
    ({"kind": "resource.update", "target": "NOPE", "payload": {"name": "x"}}, 422, "target"),
    ({"kind": "resource.update", "target": RESOURCE, "payload": {"provider": "NOPE"}}, 422, "payload"),
    ({"kind": "resource.update", "target": RESOURCE, "payload": {"share_type": "sometimes"}}, 422, "payload"),
    (
        {
            "kind": "resource.create",
            "payload": {"code": RESOURCE, "name": "x", "summary": "x", "category": "1", "provider": "SZGWS"},
        },
        409,
        None,
    ),
    ({"kind": "code.remove", "payload": {}}, 422, "kind"),
]


def test_a_bad_proposal_is_refused_at_submission_as_the_direct_write_would(client, party):
    for body, status, field in BAD:
        found = submit(client, party["contractor"], **body)
        got = found.get_json()
        assert found.status_code == status, (body, got)
        assert got["code"] == status and got["message"]
        if field:
            assert field in str(got.get("errors")), (body, got)
    assert client.get("/api/v1/requests").get_json()["total"] == 0  # nothing was stored
    assert client.get("/api/v1/audit?entity_type=change_request").get_json()["total"] == 0


def test_a_request_without_a_reason_is_refused(client, party):
    body = {
        "kind": "code.update",
        "scheme": "szgws-me",
        "target": DOOR,
        "payload": {"unit": "扇"},
        "reason": " ",
    }
    found = client.post("/api/v1/requests", json=body, headers=party["contractor"])
    assert found.status_code == 422 and "reason" in str(found.get_json()["errors"])


def test_lists_filter_and_the_todo_of_each_party(client, party):
    a = submit(
        client,
        party["contractor"],
        kind="code.update",
        scheme="szgws-me",
        target=DOOR,
        payload={"unit": "扇"},
    )
    b = submit(
        client, party["contractor2"], kind="resource.update", target=RESOURCE, payload={"summary": "新摘要"}
    )
    c = submit(
        client,
        party["contractor"],
        kind="code.add",
        scheme="szgws-me",
        payload={"code": FREE_CODE, "name": "隔热门"},
    )
    a, b, c = (r.get_json()["id"] for r in (a, b, c))
    review(client, party["supervisor"], b)
    review(client, party["supervisor"], c, "return", "请补充计量单位")
    page = client.get("/api/v1/requests?organization=CSCEC3B&per_page=1").get_json()
    assert (
        set(page) >= {"items", "total", "page", "per_page"} and page["total"] == 2 and len(page["items"]) == 1
    )
    assert [r["id"] for r in client.get("/api/v1/requests?kind=resource.update").get_json()["items"]] == [b]
    assert [r["id"] for r in client.get("/api/v1/requests?status=submitted").get_json()["items"]] == [a]

    def todo(who):
        found = client.get("/api/v1/requests/todo", headers=party[who])
        assert found.status_code == 200
        return [r["id"] for r in found.get_json()["items"]]

    assert todo("supervisor") == [a]
    assert todo("owner") == [b] and todo("bureau") == [b]
    assert todo("contractor") == [c]  # its own, returned: to amend
    assert todo("contractor2") == [] and todo("assessor") == []
    assert client.get("/api/v1/requests/todo").status_code == 401
    shown = client.get(f"/api/v1/requests/{a}").get_json()
    assert shown["id"] == a and shown["target"] == DOOR and shown["base"]
    assert client.get("/api/v1/requests/12345").status_code == 404


def test_whoami_names_the_token_role_and_organization(client, party):
    assert client.get("/api/v1/whoami", headers=party["supervisor"]).get_json() == {
        "name": "supervisor",
        "role": "contributor",
        "organization": "SUP-DEMO",
    }
    assert client.get("/api/v1/whoami", headers=party["loner"]).get_json()["organization"] is None
    missing = client.get("/api/v1/whoami")
    assert missing.status_code == 401 and missing.get_json()["code"] == 401


#: kind → (request body, the amended payload its submitter resubmits)
AMENDED = {
    "code.add": (
        {"kind": "code.add", "scheme": "szgws-me", "payload": {"code": FREE_CODE, "name": "防火门"}},
        {"code": FREE_CODE, "name": "隔热防火门"},
    ),
    "code.update": (
        {"kind": "code.update", "scheme": "szgws-me", "target": DOOR, "payload": {"name": "防火门"}},
        {"name": "钢质防火门（甲级）"},
    ),
    "code.deprecate": (
        {
            "kind": "code.deprecate",
            "scheme": "szgws-me",
            "target": "30-10.10.30",
            "payload": {"successor": DOOR},
        },
        {"successor": "30-10.10.20"},
    ),
    "resource.create": (None, {"name": "材料进场验收记录"}),
    "resource.update": (
        {"kind": "resource.update", "target": RESOURCE, "payload": {"summary": "草稿摘要"}},
        {"summary": "修改后的摘要"},
    ),
}


@pytest.mark.parametrize("kind", list(AMENDED))
def test_each_kind_goes_submit_return_resubmit_endorse_reject_and_changes_nothing(client, party, kind):
    body, amended = AMENDED[kind]
    if body is None:
        resource = new_resource(client)
        body, amended = {"kind": kind, "payload": resource}, {**resource, **amended}
    before = (
        client.get("/api/v1/audit?entity_type=release&per_page=1000").get_json()["total"],
        client.get(f"/api/v1/resources/{RESOURCE}").get_json(),
    )
    rid = submit(client, party["contractor"], **body).get_json()["id"]
    assert review(client, party["supervisor"], rid, "return", "请修改").get_json()["status"] == "returned"
    again = client.post(
        f"/api/v1/requests/{rid}/resubmit", json={"payload": amended}, headers=party["contractor"]
    )
    assert again.status_code == 200, again.get_json()
    assert all(again.get_json()["payload"].get(k) == v for k, v in amended.items() if k != "fields")
    assert review(client, party["supervisor"], rid).get_json()["status"] == "reviewed"
    done = decide(client, party["owner"], rid, "reject", "不予采纳").get_json()
    assert [h["action"] for h in done["history"]] == ["submit", "return", "resubmit", "endorse", "reject"]
    after = (
        client.get("/api/v1/audit?entity_type=release&per_page=1000").get_json()["total"],
        client.get(f"/api/v1/resources/{RESOURCE}").get_json(),
    )
    assert after == before and audit_of(client, request=rid) == []  # nothing applied
    assert client.get("/api/v1/resources/REV-R1").status_code == 404
    assert client.get(CODE_URL + FREE_CODE).status_code == 404
    assert client.get("/api/v1/audit/verify").get_json()["ok"]
