"""Catalog exchange: XLSX/CSV round trip into an empty database, import errors and rollback, formula
escaping, DCAT read by rdflib, the data package read by frictionless."""

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from catalog import demo as catalog_demo
from catalog.demo import load_catalog, load_organizations
from tests.catalog.catalog_helpers import resource, seed
from tests.conftest import SHARED


@pytest.fixture
def demo(client, db):
    load_organizations(db, "test")
    load_catalog(db, "test")
    return client


def catalog_state(client) -> dict:
    """Everything a user sees of the catalog (revision numbers aside)."""
    orgs = client.get("/api/v1/organizations?per_page=1000").get_json()["items"]
    systems = client.get("/api/v1/systems?per_page=1000").get_json()["items"]
    resources = client.get("/api/v1/resources?per_page=1000").get_json()["items"]
    for r in resources:
        r.pop("revision")
    return {
        "organizations": orgs,
        "systems": systems,
        "resources": sorted(resources, key=lambda r: r["code"]),
    }


@pytest.fixture
def empty_url(database_url, tmp_path):
    """A second, empty, migrated database of the same kind as the test's (SQLite file or PostgreSQL)."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    import os

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    import migrations

    base = make_url(database_url)
    name = f"yima_rt_{os.getpid()}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    migrations.upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def fresh_runner(url):
    """A CLI runner on another database."""
    from click.testing import CliRunner

    from web.cli import main

    env = {"YIMA_DATABASE_URL": url, "YIMA_SECRET_KEY": "t"}

    def invoke(args):
        return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)

    return invoke, url


@pytest.mark.parametrize("fmt,out", [("xlsx", "catalog.xlsx"), ("csv", "catalog.zip"), ("csv", "folder")])
def test_export_then_import_into_an_empty_database_gives_the_same_catalog(
    demo, runner, tmp_path, empty_url, fmt, out
):
    path = tmp_path / out
    r = runner(["catalog", "export", "--format", fmt, "--out", path])
    assert r.exit_code == 0, r.output
    invoke, url = fresh_runner(empty_url)
    r = invoke(["catalog", "import", path])
    assert r.exit_code == 0, r.output
    assert "23 resources" in r.output
    from web import create_app

    other = create_app({"database_url": url, "secret_key": "t"})
    try:
        assert catalog_state(other.test_client()) == catalog_state(demo)
        assert other.test_client().get("/api/v1/audit/verify").get_json()["ok"] is True
    finally:
        other.extensions["yima"].db.dispose()
    # importing the same file again changes nothing
    r = invoke(["catalog", "import", path])
    assert r.exit_code == 0 and "unchanged: 7 organizations, 13 systems, 23 resources" in r.output


def test_demo_data_files_are_what_export_writes(demo, db, runner, tmp_path):
    # the demo catalog is kept as exchange files: exporting what the demo loaded gives them back byte
    # for byte, so they stay in the layout `yima catalog import` reads; loading again adds nothing
    r = runner(["catalog", "export", "--format", "csv", "--out", tmp_path / "out"])
    assert r.exit_code == 0, r.output
    shipped = sorted((Path(catalog_demo.__file__).parent / "demo_data").iterdir())
    assert [p.name for p in shipped] == sorted(p.name for p in (tmp_path / "out").iterdir())
    for path in shipped:
        assert (tmp_path / "out" / path.name).read_bytes() == path.read_bytes(), path.name
    assert load_organizations(db, "test") == 0 and load_catalog(db, "test") == 0


def test_xlsx_layout_is_what_a_steward_edits(demo, runner, tmp_path):
    path = tmp_path / "c.xlsx"
    runner(["catalog", "export", "--format", "xlsx", "--out", path])
    wb = load_workbook(path)
    assert wb.sheetnames == ["信息资源", "信息项", "信息系统", "单位"]
    header = [c.value for c in wb["信息资源"][1]]
    assert header[:3] == ["信息资源代码", "信息资源名称", "信息资源摘要"] and "共享类型" in header
    row = {h: c.value for h, c in zip(header, wb["信息资源"][2], strict=False)}
    assert row["共享类型"] in ("无条件共享", "有条件共享", "不予共享") and row["数据分级"] in (
        "一般数据",
        "重要数据",
    )
    assert [c.value for c in wb["信息项"][1]][:4] == ["信息资源代码", "序号", "信息项名称", "中文名称"]


def test_formula_cells_are_escaped_on_export_and_restored_on_import(client, steward, runner, tmp_path):
    seed(client, steward)
    nasty = resource(
        name='=HYPERLINK("http://x")', summary="+1 加号开头", steward="@admin", tags=["-负号", "'引号"]
    )
    assert client.post("/api/v1/resources", json=nasty, headers=steward).status_code == 201
    path = tmp_path / "c.xlsx"
    runner(["catalog", "export", "--format", "xlsx", "--out", path])
    ws = load_workbook(path)["信息资源"]
    header = [c.value for c in ws[1]]
    row = {h: c.value for h, c in zip(header, ws[2], strict=False)}
    assert row["信息资源名称"] == '\'=HYPERLINK("http://x")' and row["信息资源摘要"].startswith("'+")
    assert row["数据管理员"] == "'@admin"
    assert all(c.data_type == "s" for c in ws[2] if c.value is not None and isinstance(c.value, str))
    zpath = tmp_path / "c.zip"
    runner(["catalog", "export", "--format", "csv", "--out", zpath])
    text = zipfile.ZipFile(zpath).read("resources.csv").decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["信息资源名称"].startswith("'=") and rows[0]["标签"] == "'-负号;'引号"
    before = client.get("/api/v1/resources/A0201-001").get_json()
    for path in (tmp_path / "c.xlsx", zpath):
        invoke, url = fresh_runner(f"sqlite:///{tmp_path / ('e-' + path.suffix[1:] + '.db')}")
        assert invoke(["catalog", "import", path]).exit_code == 0
        from web import create_app

        other = create_app({"database_url": url, "secret_key": "t"})
        got = other.test_client().get("/api/v1/resources/A0201-001").get_json()
        other.extensions["yima"].db.dispose()
        assert {k: got[k] for k in ("name", "summary", "steward", "tags")} == {
            k: before[k] for k in ("name", "summary", "steward", "tags")
        }


def _write_csv_zip(path, tables: dict[str, list[list]]):
    with zipfile.ZipFile(path, "w") as zf:
        for name, rows in tables.items():
            buf = io.StringIO()
            csv.writer(buf).writerows(rows)
            zf.writestr(name, "\ufeff" + buf.getvalue())


def test_import_reports_every_bad_row_and_writes_nothing(demo, runner, tmp_path):
    before = demo.get("/api/v1/audit?per_page=1").get_json()["total"]
    path = tmp_path / "bad.zip"
    _write_csv_zip(
        path,
        {
            "resources.csv": [
                [
                    "信息资源代码",
                    "信息资源名称",
                    "信息资源摘要",
                    "信息资源分类",
                    "信息资源提供方代码",
                    "共享类型",
                    "发布日期",
                ],
                ["NEW-1", "新资源", "一个好的新资源", "A0201", "SZGWS", "有条件共享", "2024-01-01"],
                ["NEW-2", "坏分类", "分类不存在", "Z99", "SZGWS", "有条件共享", ""],
                ["NEW-3", "坏共享类型", "共享类型写错", "A0201", "SZGWS", "随便共享", "2024-13-01"],
                ["NEW-1", "重复", "代码重复", "A0201", "SZGWS", "", ""],
                ["NEW-4", "坏提供方", "提供方不存在", "A0201", "NOBODY", "", ""],
            ],
            "fields.csv": [
                ["信息资源代码", "序号", "信息项名称", "数据类型", "必填", "代码方案"],
                ["NEW-1", "1", "id", "integer", "是", ""],
                ["NEW-1", "2", "bad", "decimal", "也许", ""],
                ["GHOST", "1", "x", "string", "否", ""],
                ["NEW-1", "3", "material", "string", "否", "no-such-scheme"],
            ],
        },
    )
    r = runner(["catalog", "import", path, "--dry-run"])
    assert r.exit_code == 1
    r = runner(["catalog", "import", path, "--json"])
    assert r.exit_code == 1
    errors = json.loads(r.output)["errors"]
    where = {(e["sheet"], e["row"], e["column"]) for e in errors}
    assert ("信息资源", 3, "信息资源分类") in where  # unknown category
    assert ("信息资源", 4, "共享类型") in where and ("信息资源", 4, "发布日期") in where
    assert ("信息资源", 5, "信息资源代码") in where  # duplicate code in the file
    assert ("信息资源", 6, "信息资源提供方代码") in where  # unknown organization
    assert ("信息项", 3, "数据类型") in where and ("信息项", 3, "必填") in where
    assert ("信息项", 4, "信息资源代码") in where
    assert ("信息项", 5, "代码方案") in where  # found by the service, pointed at the field's own row
    assert demo.get("/api/v1/resources/NEW-1").status_code == 404
    assert demo.get("/api/v1/audit?per_page=1").get_json()["total"] == before


def test_dry_run_reports_changes_and_writes_nothing(demo, runner, tmp_path):
    path = tmp_path / "c.xlsx"
    runner(["catalog", "export", "--format", "xlsx", "--out", path])
    wb = load_workbook(path)
    ws = wb["信息资源"]
    ws.cell(row=2, column=2, value="改过的名称")
    ws.append(["NEW-9", "新增资源", "新增的摘要", "A0201", "SZGWS"])
    wb.save(path)
    before = demo.get("/api/v1/audit?per_page=1").get_json()["total"]
    r = runner(["catalog", "import", path, "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "created: 1 resources" in r.output and "updated: 1 resources" in r.output and "dry run" in r.output
    assert demo.get("/api/v1/resources/NEW-9").status_code == 404
    assert demo.get("/api/v1/audit?per_page=1").get_json()["total"] == before
    r = runner(["catalog", "import", path])
    assert r.exit_code == 0 and demo.get("/api/v1/resources/NEW-9").get_json()["name"] == "新增资源"
    assert demo.get("/api/v1/audit?per_page=1").get_json()["total"] == before + 2


def test_unreadable_files_are_clear_errors(runner, tmp_path):
    bad = tmp_path / "x.xlsx"
    bad.write_text("not a workbook")
    r = runner(["catalog", "import", bad])
    assert r.exit_code == 1 and "XLSX" in r.output
    other = tmp_path / "x.txt"
    other.write_text("hello")
    r = runner(["catalog", "import", other])
    assert r.exit_code == 1 and "import takes" in r.output


def test_dcat_is_read_by_rdflib_with_the_mandatory_properties(demo, runner, tmp_path):
    import rdflib
    from rdflib.namespace import DCAT, DCTERMS, RDF

    r = demo.get("/api/v1/catalog/dcat")
    assert r.status_code == 200 and r.mimetype == "application/ld+json"
    g = rdflib.Graph().parse(data=r.data, format="json-ld")
    catalogs = list(g.subjects(RDF.type, DCAT.Catalog))
    assert len(catalogs) == 1
    cat = catalogs[0]
    for prop in (DCTERMS.title, DCTERMS.description, DCTERMS.publisher):
        assert g.value(cat, prop) is not None, prop
    datasets = list(g.objects(cat, DCAT.dataset))
    assert len(datasets) == 22  # the published ones (the draft is left out)
    titles = set()
    for ds in datasets:
        assert (ds, RDF.type, DCAT.Dataset) in g
        titles.add(str(g.value(ds, DCTERMS.title)))
        assert g.value(ds, DCTERMS.description) is not None
        dists = list(g.objects(ds, DCAT.distribution))
        assert dists and all(g.value(d, DCAT.accessURL) is not None for d in dists)
    assert "招标公告" in titles and "工程投资统计（草稿）" not in titles
    out = tmp_path / "catalog.jsonld"
    assert runner(["catalog", "export", "--format", "dcat", "--out", out]).exit_code == 0
    assert len(rdflib.Graph().parse(out, format="json-ld")) > 100


DCAT_AP_SHAPES = SHARED / "data" / "dcat-ap-shacl" / "dcat-ap-3.0.1__shacl__dcat-ap-SHACL.ttl"


def dcat_ap_shapes():
    """The DCAT-AP 3.0.1 shapes without the ``sh:property`` links to shapes defined nowhere (their README)."""
    import rdflib
    from rdflib.namespace import SH

    shapes = rdflib.Graph().parse(DCAT_AP_SHAPES)
    for subject, shape in list(shapes.subject_objects(SH.property)):
        if (shape, None, None) not in shapes:
            shapes.remove((subject, SH.property, shape))
    return shapes


def test_dcat_has_no_dcat_ap_3_violation(demo):
    """pyshacl found 132 violations: dct:source used for the lineage identity, dct:format a literal
    (数据库), vocabulary values untyped. The recommended properties Yima has data for are there too."""
    import pyshacl
    import rdflib
    from rdflib.namespace import DCAT, DCTERMS, RDF, SH

    data = rdflib.Graph().parse(data=demo.get("/api/v1/catalog/dcat").data, format="json-ld")
    conforms, report, text = pyshacl.validate(data, shacl_graph=dcat_ap_shapes(), advanced=True)
    assert len(list(report.subjects(RDF.type, SH.ValidationResult))) == 0 and conforms, text
    ds = rdflib.URIRef("http://localhost/api/v1/resources/A0101-001")
    assert (ds, DCTERMS.source, None) not in data  # the lineage identity is another identifier, not a source
    adms = rdflib.Namespace("http://www.w3.org/ns/adms#")
    notation = data.value(data.value(ds, adms.identifier), rdflib.URIRef(str(rdflib.SKOS) + "notation"))
    assert str(notation).startswith("dataset:szgws.")
    dist = data.value(ds, DCAT.distribution)
    assert data.value(dist, DCTERMS["format"]) == rdflib.URIRef(
        "http://publications.europa.eu/resource/authority/file-type/SQL"  # 数据库
    )
    for prop in (DCTERMS.issued, DCTERMS.modified, DCTERMS.language, DCTERMS.spatial, DCAT.contactPoint):
        assert data.value(ds, prop) is not None, prop
    publisher = data.value(data.value(predicate=RDF.type, object=DCAT.Catalog), DCTERMS.publisher)
    assert data.value(publisher, DCTERMS.type) == rdflib.URIRef(
        "http://purl.org/adms/publishertype/LocalAuthority"
    )


@pytest.mark.parametrize("out", ["pkg", "pkg.zip"])
def test_data_package_is_read_by_frictionless(demo, runner, tmp_path, out):
    from frictionless import Package

    path = tmp_path / out
    r = runner(["catalog", "export", "--format", "datapackage", "--out", path])
    assert r.exit_code == 0, r.output
    package = Package(str(path / "datapackage.json")) if path.is_dir() else Package(str(path))
    assert len(package.resources) == 23
    res = package.get_resource("e0201-001")
    fields = {f.name: f for f in res.schema.fields}
    ours = demo.get("/api/v1/resources/E0201-001").get_json()["fields"]
    assert list(fields) == [f["name"] for f in ours]
    assert fields["order_no"].constraints == {"required": True, "unique": True}
    assert fields["quantity"].type == "number" and fields["quantity"].constraints["minimum"] == 0
    assert fields["delivery_date"].type == "date"
    if path.is_dir():
        assert package.validate().valid
