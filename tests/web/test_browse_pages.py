"""The browse pages over the bureau's demo data, on SQLite and PostgreSQL: every page, search, the code
tree and validation box, the lineage drawing, and the steward's forms (roles, CSRF, field errors, 412)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.engine import make_url

import migrations
from registry.config import Config
from registry.tokens import create_token


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo(request, tmp_path_factory):
    """An app over a database with the demo loaded once per module (Uniclass left out for speed)."""
    from catalog import demo as catalog_demo
    from lineage import demo as lineage_demo
    from registry.db import Database
    from standards import demo as standards_demo
    from web import create_app

    tmp = tmp_path_factory.mktemp("pages")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'yima.db'}"
        migrations.upgrade(url)
    else:
        url = request.getfixturevalue("pg_database")
        from tests.conftest import _truncate

        _truncate(url)
    database = Database(url)
    catalog_demo.load_organizations(database, "demo")
    standards_demo.load(database, "demo", with_uniclass=False)
    catalog_demo.load_catalog(database, "demo")
    lineage_demo.load(database, "demo")
    secrets = {}
    with database.writer() as s:
        for role in ("viewer", "steward"):
            _, secrets[role] = create_token(s, f"页面-{role}", role, actor="test")
    database.dispose()
    app = create_app(Config(database_url=url, secret_key="pages", instance_path=str(tmp / "inst")))
    app.config["TESTING"] = True
    app.secrets = secrets
    yield app
    app.extensions["yima"].db.dispose()
    assert make_url(url)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def logged_in(app, role: str):
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"csrf_token": token, "token": app.secrets[role]}).status_code == 302
    return client


PAGES = [
    "/",
    "/catalog",
    "/catalog?q=招标",
    "/catalog?q=zb",
    "/catalog?share_type=conditional&page=2&per_page=5",
    "/catalog/A0101-001",
    "/codes",
    "/codes/szgws-me",
    "/codes/szgws-me?q=gj",
    "/codes/szgws-me/40-10.10.90",
    "/codes/gtin",
    "/lineage",
    "/lineage?level=dataset&as_of=2025-04-01",
    "/lineage?node=system:GCJS&level=system&direction=downstream&depth=1",
    "/audit",
    "/audit?verify=1&actor=demo",
    "/audit/1",
]


def test_browse_every_page_renders_with_its_json_twin(demo):
    client = demo.test_client()
    for path in PAGES:
        r = client.get(path)
        html = r.get_data(as_text=True)
        assert r.status_code == 200, (path, html[-500:])
        assert '<html lang="zh-CN">' in html
        assert not re.search(r'(src|href|action)="(https?:)?//', html), path
        assert 'type="application/json"' in html, path  # the JSON twin is linked
        twin = re.search(r'class="twin" href="([^"]+)"', html).group(1).replace("&amp;", "&")
        assert client.get(twin).status_code == 200, (path, twin)


def test_browse_catalog_search_finds_chinese_substrings_and_pinyin(demo):
    client = demo.test_client()
    html = client.get("/catalog?q=招标").get_data(as_text=True)
    assert "A0101-001" in html and "共 0 个" not in html
    html = client.get("/catalog?q=zbgg").get_data(as_text=True)
    assert "A0101-001" in html
    facets = client.get("/catalog").get_data(as_text=True)
    assert 'data-facet="share_type"' in facets and "有条件共享" in facets


def test_browse_code_page_shows_ancestors_successor_and_attributes(demo):
    html = demo.test_client().get("/codes/szgws-me/40-10.10.90").get_data(as_text=True)
    assert "钢材" in html and "钢筋" in html  # ancestors
    assert 'id="successor"' in html and "40-10.10.20" in html
    assert "牌号" in html and "直径" in html
    assert "已废止" in html


def test_browse_code_tree_renders_only_the_top_level(demo):
    html = demo.test_client().get("/codes/szgws-me").get_data(as_text=True)
    tree = html[html.index('id="code-tree"') :]
    tree = tree[: tree.index("</ul>")]
    assert 'data-code="30-10.00.00"' in tree and 'data-code="30-10.10.00"' not in tree


def test_browse_validation_box_gives_each_verdict_invalid_first(demo):
    client = demo.test_client()
    token = csrf_of(client.get("/codes").get_data(as_text=True))
    r = client.post(
        "/codes/validate",
        data={
            "csrf_token": token,
            "scheme": "szgws-me",
            "codes": "40-10.10.90\n３０－１０．１０．１０\nnope\n",
        },
    )
    html = r.get_data(as_text=True)
    assert re.findall(r'data-status="(\w+)"', html) == ["deprecated", "malformed", "active"]  # invalid first
    assert "共 3 个：1 个有效，2 个无效" in html
    assert client.post("/codes/validate", data={"scheme": "szgws-me", "codes": "x"}).status_code == 400


def test_browse_lineage_drawing_has_no_overlapping_nodes(demo):
    from lineage import queries as lineage
    from web.browse.graph_layout import overlaps
    from web.browse.lineage_pages import drawing

    with demo.app_context():
        s = demo.extensions["yima"].db.session()
        for level in ("system", "dataset"):
            graph = lineage.subgraph(s, level=level)
            drawn = drawing(graph)
            assert len(drawn.nodes) == len(graph["nodes"]) >= 8
            assert overlaps(drawn) == []
        s.close()
    html = demo.test_client().get("/lineage").get_data(as_text=True)
    assert html.count('class="node system') >= 8 and "工程建设业务管理系统" in html


def test_browse_lineage_as_of_shows_the_past(demo):
    client = demo.test_client()
    now = client.get("/lineage?level=dataset").get_data(as_text=True).count('class="node ')
    before = (
        client.get("/lineage?level=dataset&as_of=2025-04-01").get_data(as_text=True).count('class="node ')
    )
    assert 0 < before < now
    r = client.get("/lineage?as_of=yesterday")
    assert r.status_code == 422 and "YYYY-MM-DD" in r.get_data(as_text=True)


def test_browse_forms_need_a_logged_in_steward(demo):
    anonymous = demo.test_client()
    r = anonymous.get("/catalog/new")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    viewer = logged_in(demo, "viewer")
    assert viewer.get("/catalog/new").status_code == 403
    assert viewer.get("/codes/szgws-me/30-10.10.10/edit").status_code == 403
    token = csrf_of(viewer.get("/").get_data(as_text=True))
    r = viewer.post("/catalog/A0101-001/edit", data={"csrf_token": token, "name": "viewer was here"})
    assert r.status_code == 403
    steward = logged_in(demo, "steward")
    assert steward.get("/catalog/new").status_code == 200
    assert 'name="csrf_token"' in steward.get("/catalog/A0101-001/edit").get_data(as_text=True)
    assert "viewer was here" not in anonymous.get("/catalog/A0101-001").get_data(as_text=True)


def _resource_form(html: str) -> dict:
    """The edit form's values as a browser would post them (inputs, selected options, checked boxes)."""
    form = html[html.index('id="resource-form"') :]
    data: dict[str, list[str]] = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        if not name:
            continue
        if 'type="checkbox"' in tag and "checked" not in tag:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        data.setdefault(name.group(1), []).append(_unescape(value.group(1) if value else ""))
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', body) or re.search(
            r'<option value="([^"]*)"', body
        )
        data.setdefault(name, []).append(_unescape(chosen.group(1)))
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        data.setdefault(name, []).append(_unescape(body))
    return data


def _unescape(text: str) -> str:
    import html

    return html.unescape(text)


def test_browse_edit_form_saves_through_the_service_with_audit_and_revision(demo):
    steward = logged_in(demo, "steward")
    data = _resource_form(steward.get("/catalog/A0202-001/edit").get_data(as_text=True))
    data["name"] = ["工程变更（网页修订）"]
    r = steward.post("/catalog/A0202-001/edit", data=data)
    assert r.status_code == 302, r.get_data(as_text=True)[-800:]
    page = steward.get("/catalog/A0202-001").get_data(as_text=True)
    assert "工程变更（网页修订）" in page and "已保存" in page
    entry = steward.get("/api/v1/audit?entity_type=resource&entity_key=A0202-001").get_json()["items"][-1]
    assert entry["actor"] == "页面-steward" and entry["after"]["name"] == "工程变更（网页修订）"
    revisions = steward.get("/api/v1/resources/A0202-001/revisions").get_json()
    assert revisions["total"] >= 2


def test_browse_edit_form_shows_field_errors_in_chinese_and_writes_nothing(demo):
    steward = logged_in(demo, "steward")
    before = steward.get("/api/v1/audit/verify").get_json()["count"]
    data = _resource_form(steward.get("/catalog/A0101-002/edit").get_data(as_text=True))
    data.update(name=[""], published_on=["2025-13-45"], provider=["NOBODY"])
    r = steward.post("/catalog/A0101-002/edit", data=data)
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert re.search(r'data-for="name">长度应为 1–200 个字符<', html)
    assert re.search(r'data-for="published_on">日期格式应为 YYYY-MM-DD<', html)
    assert steward.get("/api/v1/audit/verify").get_json()["count"] == before
    data = _resource_form(steward.get("/catalog/A0101-002/edit").get_data(as_text=True))
    data.update(provider=["NOBODY"])
    html = steward.post("/catalog/A0101-002/edit", data=data).get_data(as_text=True)
    assert re.search(r'data-for="provider">没有编码为 NOBODY 的单位<', html)
    english = steward.post("/catalog/A0101-002/edit?lang=en", data=data).get_data(as_text=True)
    assert re.search(r'data-for="provider">No organization with code NOBODY<', english)
    steward.get("/?lang=zh")


def test_browse_edit_form_never_overwrites_another_stewards_change(demo):
    steward = logged_in(demo, "steward")
    data = _resource_form(steward.get("/catalog/A0201-001/edit").get_data(as_text=True))
    other = demo.test_client()
    assert (
        other.patch(
            "/api/v1/resources/A0201-001",
            json={"summary": "另一位管理员的修改"},
            headers={"Authorization": f"Bearer {demo.secrets['steward']}"},
        ).status_code
        == 200
    )
    data["name"] = ["迟到的修改"]
    r = steward.post("/catalog/A0201-001/edit", data=data)
    html = r.get_data(as_text=True)
    assert r.status_code == 409 and "已被他人修改" in html
    assert "迟到的修改" not in steward.get("/catalog/A0201-001").get_data(as_text=True)


def test_browse_new_resource_named_script_shows_as_text(demo):
    steward = logged_in(demo, "steward")
    data = _resource_form(steward.get("/catalog/new").get_data(as_text=True))
    data.update(
        code=["XSS-1"],
        name=["<script>alert('x')</script>"],
        summary=["<img src=x onerror=alert(1)>"],
        category=["A0101"],
        provider=["SZGWS"],
    )
    r = steward.post("/catalog/new", data=data)
    assert r.status_code == 302, r.get_data(as_text=True)[-600:]
    for path in ("/catalog/XSS-1", "/catalog?q=script", "/audit?entity_key=XSS-1", "/"):
        html = steward.get(path).get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html, path
    assert "&lt;script&gt;alert" in steward.get("/catalog/XSS-1").get_data(as_text=True)


def test_browse_code_forms_add_and_edit_through_the_service(demo):
    steward = logged_in(demo, "steward")
    token = csrf_of(steward.get("/codes/szgws-me/new").get_data(as_text=True))
    r = steward.post(
        "/codes/szgws-me/new", data={"csrf_token": token, "code": "30-10.10.99", "name": "测试门"}
    )
    assert r.status_code == 302
    r = steward.post("/codes/szgws-me/new", data={"csrf_token": token, "code": "30-10.77.99", "name": "孤儿"})
    assert r.status_code == 422 and "上级编码不存在" in r.get_data(as_text=True)
    r = steward.post("/codes/szgws-me/30-10.10.99/edit", data={"csrf_token": token, "name": "", "unit": "樘"})
    assert r.status_code == 422 and 'data-for="name">长度应为 1–500 个字符<' in r.get_data(
        as_text=True
    )  # the API's rule
    r = steward.post(
        "/codes/szgws-me/30-10.10.99/edit", data={"csrf_token": token, "name": "测试门（改）", "unit": "樘"}
    )
    assert r.status_code == 302
    html = steward.get("/codes/szgws-me/30-10.10.99").get_data(as_text=True)
    assert "测试门（改）" in html and "樘" in html
    r = steward.post("/codes/szgws-me/30-10.10.99/edit", data={"name": "无令牌"})
    assert r.status_code == 400


def test_browse_lineage_node_errors_show_beside_the_controls(demo):
    client = demo.test_client()
    r = client.get("/lineage?node=dataset:nowhere:nothing&level=dataset")
    assert r.status_code == 200 and 'role="alert"' in r.get_data(as_text=True)
    r = client.get("/lineage?node=system:GCJS&level=dataset")
    assert r.status_code == 200 and 'role="alert"' in r.get_data(as_text=True)
    html = client.get("/lineage?node=system:GCJS&level=system&depth=1").get_data(as_text=True)
    assert 'class="node system focus"' in html
