"""Search over the demo catalog (Chinese substrings, pinyin initials, filters, facets) and revisions with diffs."""

import pytest

from catalog.demo import load_catalog, load_organizations
from tests.catalog.catalog_helpers import resource, seed


@pytest.fixture
def demo(client, db):
    load_organizations(db, "test")
    load_catalog(db, "test")
    return client


def codes(client, query: str) -> list[str]:
    r = client.get("/api/v1/resources?per_page=100&" + query)
    assert r.status_code == 200, r.get_json()
    return [i["code"] for i in r.get_json()["items"]]


def test_chinese_substrings_without_word_boundaries(demo):
    client = demo
    # two characters (below the trigram length) and longer, anywhere in a name, summary, tag or field title
    found = codes(client, "q=工程")
    assert "A0301-001" in found and "A0202-001" in found  # 政府工程项目信息库, 工程变更记录
    found = codes(client, "q=履约评价")  # names first, then the rest (负面清单's summary mentions it)
    assert found[:3] == ["C0101-001", "C0101-002", "C0101-003"] and "C0201-002" in found
    assert codes(client, "q=审查意见") == ["D0101-002"]
    assert "E0301-001" in codes(client, "q=进场验收")
    assert codes(client, "q=统一社会信用代码") != []  # a field title
    assert "C0201-002" in codes(client, "q=负面清单")  # a tag and a name
    assert codes(client, "q=不存在的东西") == []
    one = codes(client, "q=码")  # one character works too
    assert "E0101-001" in one and "A0101-001" not in one
    assert codes(client, "q=zb") == codes(client, "q=ZB") and "A0101-001" in codes(client, "q=zb")


def test_pinyin_initials_and_mixed_terms(demo):
    client = demo
    assert codes(client, "q=lypjdf")[:3] == ["C0101-001", "C0101-002", "C0101-003"]  # 履约评价得分
    assert set(codes(client, "q=htlypj")) == {"C0101-001", "C0101-002", "C0101-003"}  # system 合同履约评价
    assert codes(client, "q=zbgg") == ["A0101-001"]  # 招标公告
    assert codes(client, "q=ZBGG") == ["A0101-001"]  # case and full width do not matter
    assert codes(client, "q=ｚｂｇｇ") == ["A0101-001"]
    assert codes(client, "q=BIM 审查") == ["D0101-001", "D0101-002", "D0201-001"]  # terms are ANDed
    assert codes(client, "q=BIM 审查意见") == ["D0101-002"]


def test_filters_and_facets(demo):
    client = demo
    body = client.get("/api/v1/resources?q=一码到底&per_page=2").get_json()
    assert body["total"] == 5 and len(body["items"]) == 2 and body["page"] == 1 and body["per_page"] == 2
    facets = body["facets"]
    assert set(facets) >= {"category", "share_type", "security_grade", "system", "provider", "status"}
    assert sum(facets["system"].values()) == 5 and facets["system"]["CGGL"] == 1
    assert facets["status"] == {"published": 5}
    assert codes(client, "q=一码到底&security_grade=important") == ["E0201-001", "E0301-001"]
    assert codes(client, "system=LYPJ&share_type=conditional") == ["C0101-001", "C0101-002", "C0101-003"]
    assert codes(client, "status=draft") == ["A0302-002"]
    assert codes(client, "tag=区块链") == ["C0301-001"]
    assert codes(client, "provider=QA-DEMO") == ["B0301-001"]
    assert codes(client, "category=C0201") == ["C0201-001", "C0201-002"]
    everything = client.get("/api/v1/resources").get_json()
    assert everything["total"] == 23 and sum(everything["facets"]["status"].values()) == 23


def test_search_follows_edits(demo, steward):
    client = demo
    r = client.patch("/api/v1/resources/A0101-001", json={"name": "施工招标公告汇编"}, headers=steward)
    assert r.status_code == 200
    assert codes(client, "q=招标公告汇编") == ["A0101-001"]
    assert codes(client, "q=sgzbgghb") == ["A0101-001"]
    client.patch("/api/v1/systems/LYPJ", json={"name": "履约考核系统"}, headers=steward)
    assert codes(client, "q=htlypj") == []
    assert len(codes(client, "q=lykhxt")) == 3


def test_revisions_list_show_and_diff(client, steward):
    seed(client, steward)
    client.post("/api/v1/resources", json=resource(), headers=steward)
    client.patch("/api/v1/resources/A0201-001", json={"summary": "第二版摘要"}, headers=steward)
    fields = resource()["fields"]
    fields[2] = {**fields[2], "constraints": {"minimum": 0, "maximum": 1e9}}
    client.patch(
        "/api/v1/resources/A0201-001",
        json={"fields": fields + [{"name": "signed_on", "type": "date"}]},
        headers=steward,
    )
    body = client.get("/api/v1/resources/A0201-001/revisions").get_json()
    assert body["total"] == 3 and [i["number"] for i in body["items"]] == [3, 2, 1]
    assert body["items"][0]["actor"] == "steward-1" and body["items"][2]["action"] == "create"
    two = client.get("/api/v1/resources/A0201-001/revisions/2").get_json()
    assert two["against"] == 1 and two["snapshot"]["summary"] == "第二版摘要"
    assert [d["path"] for d in two["diff"]] == ["summary"] and two["diff"][0]["change"] == "changed"
    three = client.get("/api/v1/resources/A0201-001/revisions/3").get_json()
    paths = {d["path"]: d for d in three["diff"]}
    assert paths["fields.signed_on"]["change"] == "added"
    assert paths["fields.amount.constraints"]["after"] == {"minimum": 0, "maximum": 1e9}
    one_to_three = client.get("/api/v1/resources/A0201-001/revisions/3?against=1").get_json()
    assert {"summary", "fields.signed_on", "fields.amount.constraints"} <= {
        d["path"] for d in one_to_three["diff"]
    }
    first = client.get("/api/v1/resources/A0201-001/revisions/1").get_json()
    assert first["against"] is None and first["diff"]  # everything is new
    assert client.get("/api/v1/resources/A0201-001/revisions/9").status_code == 404
    assert client.get("/api/v1/resources/NOPE/revisions").status_code == 404
    # history outlives a delete, and a re-created code continues the numbering
    client.delete("/api/v1/resources/A0201-001", headers=steward)
    assert client.get("/api/v1/resources/A0201-001/revisions").get_json()["total"] == 3
    r = client.post("/api/v1/resources", json=resource(), headers=steward)
    assert r.get_json()["revision"] == 4


def test_demo_catalog_is_idempotent(demo, db):
    assert load_catalog(db, "test") == 0
    assert demo.get("/api/v1/resources").get_json()["total"] == 23
    assert demo.get("/api/v1/systems").get_json()["total"] == 13
    assert demo.get("/api/v1/audit/verify").get_json()["ok"] is True


@pytest.mark.parametrize("q", ["%'\";--\x00", "合同\x00台账", "\x00", "履约\t评价\x7f"])
def test_search_with_control_characters_is_a_normal_search(demo, db, q):
    """A NUL reached SQLite's FTS5 MATCH as an unterminated string: a 503 'the database is busy'."""
    from catalog.search import search_resources

    with db.session() as s:
        page = search_resources(s, {"q": q})
    clean = q.replace("\x00", " ").replace("\t", " ").replace("\x7f", " ").split()
    with db.session() as s:
        expected = search_resources(s, {"q": " ".join(clean)})
    assert [r.code for r in page.items] == [r.code for r in expected.items]
    if "合同" in q:
        assert "A0201-001" in [r.code for r in page.items]
    # over HTTP a NUL is refused before any search (422, pages and API alike); other control
    # characters are searched for as spaces, as the service does: never a 5xx, never "busy"
    html = demo.get("/catalog", query_string={"q": q})
    api = demo.get("/api/v1/resources", query_string={"q": q})
    if "\x00" in q:
        assert html.status_code == 422 and html.mimetype == "text/html"
        assert api.status_code == 422 and "NUL" in api.get_json()["message"]
    else:
        assert html.status_code == 200 and api.status_code == 200, api.get_json()
        assert [r["code"] for r in api.get_json()["items"]] == [r.code for r in expected.items]
