"""``yima requests``: list and show change requests, and act on them with a token (submit a sheet of codes,
review, decide), through the same workflow functions as the API."""

from __future__ import annotations

import json
from pathlib import Path

import click

from registry.actors import Actor
from registry.errors import Unauthorized
from registry.tokens import identify, require_role
from review import code_changes, parties, workflow
from standards.importer import reader
from web.cli.groups import get_db, main
from web.context import Principal

_TOKEN = click.option(
    "--token",
    envvar="YIMA_TOKEN",
    required=True,
    help="The token to act with (or YIMA_TOKEN): its name, role and organization, as in the API.",
)


@main.group("requests")
def requests_group():
    """Change requests (三方监管): a contractor proposes, a supervisor reviews, an owner decides."""


def _acting(secret: str, step: str) -> Actor:
    """The token's actor, if its role allows ``step``. Raises Unauthorized / Forbidden (one clear line)."""
    found = identify(get_db().engine, secret.strip())
    if found is None:
        raise Unauthorized("the token is unknown or has been revoked")
    who = Principal(*found)
    require_role(who, parties.ROLE_OF[step])
    return Actor(who.name, who.organization)


def _line(r: dict) -> str:
    rows = f" ({len(r['payload']['rows'])} rows)" if "rows" in r["payload"] else ""
    return (
        f"{r['id']}\t{r['status']}\t{r['kind']}{rows}\t{r['scheme'] or '-'}\t{r['target'] or '-'}"
        f"\t{r['organization']}\t{r['submitted_by']}\t{r['updated_at']}"
    )


def _echo(req, as_json: bool) -> None:
    shown = workflow.request_dict(req)
    click.echo(json.dumps(shown, ensure_ascii=False, indent=2) if as_json else _line(shown))


@requests_group.command("list")
@click.option("--status", type=click.Choice(["submitted", "reviewed", "returned", "approved", "rejected"]))
@click.option("--kind", type=click.Choice(list(workflow.KINDS)))
@click.option("--organization", help="The submitting organization's code.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Print the list envelope as JSON.")
def requests_list(status, kind, organization, limit, as_json):
    """Newest first: id, status, kind, scheme, target, organization, submitter, last change."""
    with get_db().session() as s:
        found = workflow.list_requests(s, status=status, kind=kind, organization=organization, per_page=limit)
        if as_json:
            click.echo(json.dumps(found.envelope(workflow.request_dict), ensure_ascii=False, indent=2))
            return
        for req in found.items:
            click.echo(_line(workflow.request_dict(req)))
        click.echo(f"{found.total} request(s)", err=True)


@requests_group.command("show")
@click.argument("request_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="The request and its diff as JSON.")
def requests_show(request_id, as_json):
    """A request, its history and what it changes against the current state."""
    with get_db().session() as s:
        shown = workflow.view(s, workflow.get(s, request_id))
    if as_json:
        click.echo(json.dumps(shown, ensure_ascii=False, indent=2))
        return
    r, d = shown["request"], shown["diff"]
    click.echo(_line(r))
    click.echo(f"reason: {r['reason']}")
    for c in d.get("changes", []):
        click.echo(f"  {c['path']}: {c['before']!r} -> {c['after']!r}")
    for row in d.get("rows", []):
        problems = "; ".join(row["problems"]) or "ok"
        click.echo(f"  row {row['row']}\t{row.get('code')}\t{row.get('name')}\t{problems}")
    for p in d.get("problems", []):
        click.echo(f"  problem: {p}")
    for h in r["history"]:
        click.echo(
            f"  {h['at']}\t{h['action']}\t{h['actor']} ({h['organization'] or '-'})\t{h['comment'] or ''}"
        )


@requests_group.command("submit-codes")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--scheme", required=True)
@click.option("--release", help="Default: the scheme's current release.")
@click.option("--reason", required=True)
@_TOKEN
def requests_submit_codes(file, scheme, release, reason, token):
    """A CSV or XLSX of proposed new codes (the headers of `yima standards import`) as ONE request."""
    actor = _acting(token, "submit")
    table = reader.read_table(file.name, file.read_bytes())
    with get_db().writer() as s:
        req = workflow.submit(
            s,
            kind="code.add",
            scheme=scheme,
            release=release,
            payload=code_changes.rows_payload(table),
            reason=reason,
            actor=actor,
        )
        click.echo(f"request {req.id} submitted ({len(table.rows)} rows) for {req.organization}", err=True)
        click.echo(req.id)


@requests_group.command("review")
@click.argument("request_id", type=int)
@click.argument("decision", type=click.Choice(["endorse", "return"]))
@click.option("--comment")
@_TOKEN
def requests_review(request_id, decision, comment, token):
    """Endorse or return a submitted request (a supervisor organization's token)."""
    actor = _acting(token, "review")
    with get_db().writer() as s:
        _echo(workflow.review(s, request_id, decision=decision, comment=comment, actor=actor), False)


@requests_group.command("decide")
@click.argument("request_id", type=int)
@click.argument("decision", type=click.Choice(["approve", "reject"]))
@click.option("--comment")
@_TOKEN
def requests_decide(request_id, decision, comment, token):
    """Approve (the change is applied) or reject a reviewed request (a steward of an owner or bureau organization)."""
    actor = _acting(token, "decide")
    with get_db().writer() as s:
        _echo(workflow.decide(s, request_id, decision=decision, comment=comment, actor=actor), False)
