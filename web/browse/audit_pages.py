"""The audit pages: the history (``/audit``) with chain verification and a pasted checkpoint (POST) checked
against today's log, one entry with its inclusion proof (``/audit/<seq>``), issued checkpoints as files."""

from __future__ import annotations

from flask import Response, render_template, request
from flask_babel import gettext as _

from registry import audit, checkpoints, evidence, log_check
from registry.errors import NotFound
from registry.signed_note import Checkpoint, NoteError, b64, signer_for
from web.browse.pages import bp, page_args, twin
from web.context import config, db, session


def _audit_page(status: int = 200, **extra):
    """The history page, with whatever a form just produced (a chain verification, a checked checkpoint)."""
    s = session()
    page, per_page = page_args(25)
    filters = {
        key: request.args.get(key, "").strip() or None for key in ("entity_type", "entity_key", "actor")
    }
    found = audit.list_entries(s, page=page, per_page=per_page, newest_first=True, **filters)
    verified = audit.verify(s) if request.args.get("verify") else None
    context = {
        "entries": [e.to_dict() for e in found.items],
        "total": found.total,
        "page": found.page,
        "per_page": found.per_page,
        "filters": filters,
        "entity_types": sorted(audit.registered_entities()),
        "verified": verified,
        "json_twin": "/api/v1/audit/verify" if verified else twin("/api/v1/audit", **filters),
        "pasted": None,
        "checked": None,
        "check_error": None,
    }
    return render_template("audit.html", **(context | extra)), status


@bp.route("/audit", methods=["GET", "POST"])
def audit_list():
    """The history; a POST is a pasted checkpoint to check (the same page, so its links stay the page's)."""
    return _check_pasted() if request.method == "POST" else _audit_page()


def _check_pasted():
    """A checkpoint kept outside, pasted: is it this instance's signature, and does today's log extend it?"""
    # browsers send a textarea's lines with CRLF; a note's lines end in LF, and it ends in one
    note = request.form.get("note", "").replace("\r\n", "\n").strip()
    if not note:
        return _audit_page(422, check_error=_("请粘贴一个签名检查点（三行正文、一个空行、签名行）。"))
    note += "\n"
    try:
        checked = log_check.check_log(session(), signer_for(config()), note)
    except NoteError as exc:
        return _audit_page(422, pasted=note, check_error=_("无法读取该检查点：%(why)s", why=exc.message))
    return _audit_page(pasted=note, checked=checked)


@bp.route("/audit/<int:seq>")
def audit_entry(seq):
    """One entry, its before/after, and its inclusion proof in the current signed checkpoint."""
    signer = signer_for(config())
    found = evidence.entry_evidence(db(), seq, signer)
    cp = Checkpoint.parse(found["checkpoint"])
    with db().session() as s:  # a fresh read: the request's own may predate the checkpoint just kept
        kept = checkpoints.get(s, cp.size)
    return render_template(
        "audit_entry.html",
        e=found["entry"],
        inclusion=found["inclusion"],
        note=found["checkpoint"],
        size=cp.size,
        root=b64(cp.root),
        signer=signer,
        downloadable=kept is not None and kept.note == found["checkpoint"],
        json_twin=f"/api/v1/audit/{seq}",
    )


@bp.route("/audit/checkpoints/<int:size>.txt")
def checkpoint_note(size):
    """An issued checkpoint's signed note, as a file to keep (the bytes the signature covers, unchanged)."""
    row = checkpoints.get(session(), size)
    if row is None:
        raise NotFound(_("没有签发过记录数为 %(n)s 的检查点。", n=size))
    return Response(
        row.note,
        mimetype="text/plain",
        headers={"Content-Disposition": f'attachment; filename="yima-checkpoint-{size}.txt"'},
    )
