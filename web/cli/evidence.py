"""``yima audit checkpoint``, ``yima audit key`` and ``yima verify-export``: evidence that leaves the building."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from registry import checkpoints, evidence, tree_check
from registry.signed_note import has_key, signer_for
from web.cli.core import audit_group
from web.cli.groups import get_config, get_db, main


@audit_group.command("checkpoint")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the signed note to FILE (replaced atomically) instead of printing it.",
)
def audit_checkpoint(out):
    """Issue the signed checkpoint of the log as it stands (a C2SP note: origin, size, root, Ed25519 signature).

    The note goes to stdout (or --out); the verifier key and its fingerprint go to stderr. Keep the
    note somewhere the operator cannot change (a witness, a printed report): `yima audit verify
    --against FILE` later proves that the log still extends it.
    """
    signer = signer_for(get_config())
    with get_db().writer() as s:
        issued = checkpoints.current(s, signer)
        checkpoints.remember(s, issued)
        s.commit()
    if out:
        tmp = out.with_name(f".{out.name}.{os.getpid()}")
        tmp.write_text(issued.note, "utf-8")
        tmp.replace(out)
        click.echo(f"checkpoint of size {issued.size} written to {out}", err=True)
    else:
        click.echo(issued.note, nl=False)
    click.echo(f"key: {signer.key}", err=True)
    click.echo(f"fingerprint: {signer.fingerprint}", err=True)


@audit_group.command("key")
def audit_key():
    """Print the verifier key that signs checkpoints (stdout) and its SHA-256 fingerprint (stderr).

    Publish both; auditors pass the key to `yima verify-export --key` or the standalone verifier.
    """
    signer = signer_for(get_config())
    click.echo(signer.key)
    click.echo(f"fingerprint: {signer.fingerprint}", err=True)


@audit_group.command("rebuild-tree")
def audit_rebuild_tree():
    """Recompute the stored Merkle tree from the entries (a repair, when `yima audit verify` finds it damaged).

    It cannot hide a rewritten log: checkpoints already issued still bind their roots, and
    `yima audit verify` still compares the log with all of them.
    """
    with get_db().writer() as s:
        size = tree_check.rebuild(s)
        s.commit()
    click.echo(f"stored tree rebuilt from the entries: {size} leaves")


@main.command("verify-export")
@click.argument("directory", metavar="DIR_OR_ZIP", type=click.Path(exists=True, path_type=Path))
@click.option("--key", help="Verifier key text the bureau published (default: this instance's key).")
@click.option(
    "--against-log",
    is_flag=True,
    help="Also prove that today's log (YIMA_DATABASE_URL), recomputed from its entries, extends the "
    "export's checkpoint: fails at the consistency step if history was rewritten since.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify_export(directory, key, against_log, as_json):
    """Check an export step by step: file hash → entry → inclusion → signature (→ consistency).

    DIR_OR_ZIP is the folder `yima lineage export` wrote, or the zip `POST /api/v1/lineage/export`
    answered (or its unpacked folder). Exit 0 if every step holds, 1 naming the step that failed.
    """
    if not key and not has_key(get_config()):
        raise click.UsageError(
            "this folder has no instance key: pass --key with the verifier key the bureau published"
        )
    verifier = key or signer_for(get_config())
    if against_log:
        with get_db().session() as s:
            result = evidence.verify_export(directory, verifier, log=s)
    else:
        result = evidence.verify_export(directory, verifier)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        for line in result.passed:
            click.echo(f"ok    {line}")
        if result.ok:
            click.echo(result.message)
        else:
            click.secho(f"FAIL  {result.failed_step}: {result.message}", fg="red", err=True)
    raise SystemExit(0 if result.ok else 1)
