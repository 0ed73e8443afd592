"""``yima standards list|import|publish|crosswalk`` and ``yima validate codes``."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import click

from registry.errors import Invalid
from standards import formats, releases, validation
from standards.crosswalks import set_crosswalk
from standards.importer import writer
from standards.importer.reader import decode_csv, read_files
from web.cli.groups import cli_actor, get_db, main, progress, validate


@main.group()
def standards():
    """Classification code schemes, their releases and codes (一码到底)."""


@standards.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the schemes as JSON.")
def list_(as_json):
    """The schemes and their releases (status and number of codes); * marks the current release."""
    with get_db().session() as s:
        items = releases.list_schemes(s)
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False, indent=2, default=str))
        return
    for item in items:
        kind = "" if item["has_code_list"] else "  (format and check digit only)"
        click.echo(f"{item['id']}\t{item['name']}{kind}")
        for r in item["releases"]:
            mark = "*" if r["release"] == item["current_release"] else " "
            click.echo(f"  {mark} {r['release']}\t{r['status']}\t{r['codes']} codes")


@standards.command("import")
@click.argument("scheme")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--release", "-r", required=True, help="Release to import into (created as a draft if absent).")
@click.option("--publish", is_flag=True, help="Publish the release once imported.")
@click.option("--dry-run", is_flag=True, help="Check every row and report what would change; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def import_(scheme, files, release, publish, dry_run, as_json):
    """Import codes of SCHEME from CSV or XLSX FILES into a release: all rows or none.

    Columns are found by their header: code/编码/Code, name/名称/Title, parent/上级编码, status/状态,
    successor/替代编码, unit/单位, name_en/英文名称, attributes/属性 (a JSON template), description/说明.
    CSV may be UTF-8 (with or without BOM) or GB18030/GBK. Every bad row is reported with its row
    number, column and reason (malformed, duplicate, missing_parent, unknown_successor, …).
    Exit 0 on success, 1 when a row is bad (nothing is written).
    """
    formats.get_scheme(scheme)
    tables = read_files(list(files))
    rows = sum(len(t.rows) for t in tables)
    try:
        with get_db().writer() as s, progress(rows, f"importing {rows} rows") as bar:
            report = writer.import_codes(
                s,
                scheme,
                release,
                tables,
                actor=cli_actor(),
                publish=publish,
                dry_run=dry_run,
                progress=bar.update,
            )
    except Invalid as exc:
        if isinstance(exc.errors, list):
            for line in exc.errors:
                click.echo(f"  {line}", err=True)
        click.secho(f"error: {exc.message}", fg="red", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        for error in report.errors:
            click.echo(f"  {error}", err=True)
        verb = "would import" if dry_run else "imported"
        click.echo(
            f"{scheme} release {release}: {verb} {report.rows} rows "
            f"({report.added} new, {report.changed} changed, {report.unchanged} unchanged)"
            + ("; published" if report.published else "")
            + (f"; {len(report.errors)} bad row(s): nothing would be written" if report.errors else "")
        )
    sys.exit(1 if report.errors else 0)


@standards.command("publish")
@click.argument("scheme")
@click.argument("release")
def publish_(scheme, release):
    """Publish a draft RELEASE of SCHEME: validation uses it from now on."""
    with get_db().writer() as s:
        r = releases.publish_release(s, scheme, release, actor=cli_actor())
    click.echo(f"{scheme} release {release} published ({r['codes']} codes)")


@standards.command("crosswalk")
@click.argument("from_scheme")
@click.argument("to_scheme")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--from-release", help="Default: the current release of FROM_SCHEME.")
@click.option("--to-release", help="Default: the current release of TO_SCHEME.")
@click.option("--replace", is_flag=True, help="Replace every mapping between the two releases.")
def crosswalk(from_scheme, to_scheme, file, from_release, to_release, replace):
    """Map codes from a CSV with columns from,to[,relation] (relation: exact, broader, narrower, related, successor)."""
    text = decode_csv(Path(file).read_bytes())
    reader = csv.DictReader(io.StringIO(text, newline=""))
    mappings = [{k.strip().lower(): (v or "").strip() for k, v in row.items() if k} for row in reader]
    with get_db().writer() as s:
        r = set_crosswalk(
            s,
            from_scheme,
            to_scheme,
            mappings,
            actor=cli_actor(),
            from_release=from_release,
            to_release=to_release,
            replace=replace,
        )
    click.echo(
        f"{r['from_scheme']} {r['from_release']} → {r['to_scheme']} {r['to_release']}: {r['mappings']} mappings"
    )


@validate.command("codes")
@click.argument("scheme")
@click.argument("file", type=click.File("rb"))
@click.option("--release", "-r", help="Default: the current published release.")
@click.option(
    "--column", help="For a CSV with a header: the column holding the codes (default: code/编码/Code)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the contract's JSON response.")
def validate_codes(scheme, file, release, column, as_json):
    """Validate the codes in FILE (one per line, or a CSV column; '-' reads stdin). Exit 0 only if all are valid."""
    codes = _read_codes(file.read(), column)
    with get_db().session() as s:
        body = validation.validate_batch(s, scheme, codes, None, release)
    if as_json:
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
    else:
        for r in body["results"]:
            if r["valid"]:
                click.echo(f"{'ok':<15}{r['code']}\t{r['name'] or ''}")
            else:
                # the error's type, not the code's status: a code that exists is "active" even when it
                # is not one an item may carry (not_assignable) or its attributes are wrong
                label = r["errors"][0]["type"] if r["errors"] else r["status"]
                why = "; ".join(e["message"] for e in r["errors"])
                click.echo(f"{label:<14} {r['input']}\t{why}")
        click.echo(
            f"{body['total']} codes, {body['valid']} valid, {body['invalid']} invalid "
            f"({scheme} release {body['release'] or '(format only)'})",
            err=True,
        )
    sys.exit(0 if body["invalid"] == 0 else 1)


def _read_codes(data: bytes, column: str | None) -> list[str]:
    text = decode_csv(data)
    lines = text.splitlines()
    first = lines[0] if lines else ""
    if column or ("," in first and any(k in first.lower() for k in ("code", "编码"))):
        reader = csv.reader(io.StringIO(text, newline=""))
        header = [h.strip().lstrip("\ufeff") for h in next(reader, [])]
        wanted = [column] if column else ["code", "Code", "编码", "代码"]
        idx = next((header.index(w) for w in wanted if w in header), None)
        if idx is None:
            raise Invalid(f"no column {column or 'code'} in the CSV header ({', '.join(header)})")
        return [row[idx] for row in reader if len(row) > idx and row[idx].strip()]
    return [line for line in lines if line.strip()]
