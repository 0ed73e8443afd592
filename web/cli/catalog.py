"""``yima catalog import|export`` and ``yima validate records``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from catalog.exchange import datapackage, dcat, importer, workbook
from catalog.records import validate_records as run_validation
from web.cli.groups import cli_actor, get_db, main, progress, validate

FORMATS = ("xlsx", "csv", "dcat", "datapackage")


@main.group("catalog")
def catalog_group():
    """The data resource catalog in bulk: import from / export to Excel, CSV, DCAT and Data Package."""


@catalog_group.command("import")
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check every row and report what would change; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def catalog_import(file, dry_run, as_json):
    """Import organizations, systems, resources and fields from FILE, all rows or none.

    FILE is an XLSX workbook (sheets 信息资源, 信息项, 信息系统, 单位 with Chinese headers, as
    `yima catalog export --format xlsx` writes), a zip or a folder of CSV files (resources.csv,
    fields.csv, systems.csv, organizations.csv), or one of those CSV files alone (a sheet or file
    with another name is recognised by its header row). New codes are created, changed ones replaced
    (each change audited, with a revision), identical ones left alone.

    What FILE leaves out is left alone: without a 信息项 sheet (fields.csv) every resource keeps its
    fields; a missing column keeps that value. A 信息项 sheet that is there lists all the fields of
    the resources on the 信息资源 sheet: fields it no longer lists are deleted, and the report (the
    dry run's too) names every one. Every bad row is reported with its sheet, row and column; then
    nothing is written and the exit status is 1.
    """
    tables = workbook.read_file(file)
    for title in tables.ignored:
        click.echo(f"ignored: {title} (not a catalog table)", err=True)
    rows = sum(len(tables.get(t, ())) for t in ("单位", "信息系统", "信息资源"))
    database = get_db()
    with database.writer() as s, progress(rows, "importing") as bar:
        report = importer.import_catalog(
            s, file, actor=cli_actor(), dry_run=dry_run, progress=lambda n: bar.update(1), tables=tables
        )
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    if report.errors:
        if not as_json:
            click.secho(
                f"{file.name}: {len(report.errors)} bad row(s); nothing was imported.", fg="red", err=True
            )
            for e in report.errors[:500]:
                click.echo(f"  {e['sheet']} row {e['row']}, {e['column'] or '-'}: {e['message']}", err=True)
            if len(report.errors) > 500:
                click.echo(f"  … and {len(report.errors) - 500} more", err=True)
        raise SystemExit(1)
    if not as_json:

        def line(bucket):
            return ", ".join(f"{n} {kind}" for kind, n in bucket.items()) or "nothing"

        _echo_report(report, line)
        click.echo("dry run: nothing was written" if dry_run else "import complete")


def _echo_report(report, line) -> None:
    """What the import did (or would do), deletions by resource and field name."""
    would = "would be " if report.dry_run else ""
    click.echo(f"{would}created: {line(report.created)}")
    click.echo(f"{would}updated: {line(report.updated)}")
    click.echo(f"unchanged: {line(report.unchanged)}")
    deleted = report.deleted_fields
    if deleted:
        total = sum(len(names) for names in deleted.values())
        click.secho(f"{would}deleted: {total} fields of {len(deleted)} resources", fg="yellow")
        for code, names in deleted.items():
            click.echo(f"  {code}: {', '.join(names)}")
    else:
        click.echo(f"{would}deleted: nothing")
    for title in report.absent:
        click.echo(f"left as they are (no {title} table in the file): {_ABSENT[title]}")


_ABSENT = {
    "单位": "organizations",
    "信息系统": "systems",
    "信息资源": "resources",
    "信息项": "the fields of every resource",
}


@catalog_group.command("export")
@click.option("--format", "fmt", required=True, type=click.Choice(FORMATS), help="File format.")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="xlsx: a .xlsx file; csv: a .zip, or a folder for the four CSV files; dcat: a .jsonld file; "
    "datapackage: a folder (datapackage.json + data/*.csv) or a .zip.",
)
@click.option(
    "--base-url",
    default="http://127.0.0.1:5000",
    show_default=True,
    help="dcat: the server address the dataset and distribution URLs point to.",
)
def catalog_export(fmt, out, base_url):
    """Export the whole catalog: XLSX or CSV (what `yima catalog import` reads back), DCAT 3 JSON-LD of
    the published resources, or a Frictionless Data Package whose table schemas mirror the fields.

    Text cells starting with = + - @ are written with a leading ' so Excel never runs them.
    """
    with get_db().session() as s:
        if fmt == "xlsx":
            counts = workbook.export_xlsx(s, out)
        elif fmt == "csv":
            counts = workbook.export_csv(s, out)
        elif fmt == "dcat":
            counts = dcat.export_dcat(s, out, base_url)
        else:
            counts = datapackage.export_datapackage(s, out)
    click.echo(f"wrote {out} ({', '.join(f'{k}: {v}' for k, v in counts.items())})")


@validate.command("records")
@click.argument("resource")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the contract's JSON result.")
@click.option("--limit", default=50, show_default=True, help="Invalid rows listed in the text report.")
def validate_records(resource, file, as_json, limit):
    """Validate FILE.csv against the fields of catalog RESOURCE (types, required, unique, constraints,
    codes against their scheme's current release, unknown columns). Exit 0 only if every row is valid."""
    with get_db().session() as s:
        result = run_validation(s, resource, csv=file.read_bytes())
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
    else:
        shown = 0
        for r in result["results"]:
            if r["valid"]:
                continue
            if shown < limit:
                problems = "; ".join(f"{e['field']}: {e['type']}: {e['message']}" for e in r["errors"])
                click.echo(f"row {r['index'] + 2}: {problems}")
            shown += 1
        if shown > limit:
            click.echo(f"… and {shown - limit} more invalid rows (use --json for all)")
        click.echo(
            f"{result['resource']}: {result['total']} rows, {result['valid']} valid, {result['invalid']} invalid"
        )
    raise SystemExit(0 if result["invalid"] == 0 else 1)
