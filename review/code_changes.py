"""Change requests on codes: ``code.add`` (one code, or many rows of a spreadsheet), ``code.update`` and
``code.deprecate``, checked and applied through ``standards.codes`` / ``standards.code_batch``.

A code's fingerprint is a hash of its value columns (``CODE_COLUMNS``), taken at submission and compared
at approval under a lock on the release row and the code row; an addition has none (the code must still
be absent, which the service checks). Reviewers see the proposed row, its parent and its siblings.
"""

from __future__ import annotations

import json

from marshmallow import Schema, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.errors import Conflict, Invalid, NotFound, TooLarge, YimaError
from registry.jsonutil import canonical, jsonable, sha256_hex
from review.kinds import (
    Draft,
    Kind,
    Prepared,
    field_not_found,
    in_payload,
    load_payload,
    not_applicable,
    problems_now,
    required,
    stale,
)
from review.models import ChangeRequest
from standards import code_batch, codes
from standards.formats import get_scheme, parse_code
from standards.importer.reader import SourceRow, Table
from standards.models import CODE_COLUMNS, Code, Release
from standards.releases import check_code_list, get_release
from standards.schemas import CodeCreateSchema, CodeUpdateSchema, DeprecateSchema

#: the most rows one request may carry (a contractor's sheet is tens to hundreds of rows)
MAX_ROWS = 10_000
#: siblings shown beside a proposed code
MAX_SIBLINGS = 200
_ADD = CodeCreateSchema(exclude=("release",))
_UPDATE = CodeUpdateSchema(exclude=("release",))
_DEPRECATE = DeprecateSchema(exclude=("release",))


class RowSchema(Schema):
    """One row of a spreadsheet of proposed codes (the columns of ``yima standards import``)."""

    row = fields.Integer(validate=validate.Range(min=1), metadata={"description": "its row in the file"})
    code = fields.String(required=True)
    name = fields.String(allow_none=True)
    name_en = fields.String(allow_none=True)
    parent = fields.String(allow_none=True)
    status = fields.String(allow_none=True)
    successor = fields.String(allow_none=True)
    unit = fields.String(allow_none=True)
    attributes = fields.Raw(allow_none=True, metadata={"description": "an attribute template (JSON)"})
    description = fields.String(allow_none=True)


class RowsSchema(Schema):
    file = fields.String(load_default="rows", validate=validate.Length(1, 200))
    rows = fields.List(fields.Nested(RowSchema), required=True)


# --- the scheme, release and target of a request ------------------------------------------------


def _scheme_and_release(session: Session, draft: Draft) -> tuple[str, Release]:
    scheme = field_not_found("scheme", lambda: get_scheme(required(draft.scheme, "scheme")))
    try:
        check_code_list(scheme)
    except Invalid as exc:
        raise Invalid(exc.message, {"scheme": [exc.message]}) from None
    rel = field_not_found("release", lambda: get_release(session, scheme.id, draft.release or None))
    return scheme.id, rel


def fingerprint(session: Session, release_id: int, code: str, *, lock: bool = False) -> str | None:
    """A hash of the code's value columns in the release (None when absent); ``lock`` holds its row."""
    query = select(*(getattr(Code, c) for c in CODE_COLUMNS)).where(
        Code.release_id == release_id, Code.code == code
    )
    row = session.execute(query.with_for_update() if lock else query).first()
    return None if row is None else sha256_hex(canonical(jsonable(list(row))))[:32]


def _target(session: Session, scheme_id: str, rel: Release, draft: Draft) -> str:
    """The canonical target code, which must be in the release. Raises Invalid naming ``target``."""
    text = required(draft.target, "target")
    try:
        code = parse_code(get_scheme(scheme_id), text, "target").code
    except Invalid as exc:
        raise Invalid(exc.message, {"target": [exc.message]}) from None
    if fingerprint(session, rel.id, code) is None:
        message = f"{code} is not in {scheme_id} release {rel.release}"
        raise Invalid(message, {"target": [message]})
    return code


def _lock_release(session: Session, req: ChangeRequest) -> Release:
    """The request's release, its row locked until commit and re-read (its version is the cache key)."""
    rel = get_release(session, req.scheme, req.release)
    return session.scalar(
        select(Release)
        .where(Release.id == rel.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _check_base(session: Session, req: ChangeRequest, rel: Release) -> None:
    if fingerprint(session, rel.id, req.target, lock=True) != req.base:
        raise stale(req.id, req.target)


def _service(req: ChangeRequest, call) -> None:
    """Run the service; what it refuses now (valid at submission) means the target changed: 409."""
    try:
        call()
    except (Invalid, NotFound, Conflict) as exc:
        raise not_applicable(req.id, exc) from None


# --- code.add -----------------------------------------------------------------------------------


def _prepare_add(session: Session, draft: Draft) -> Prepared:
    scheme_id, rel = _scheme_and_release(session, draft)
    if isinstance(draft.payload, dict) and "rows" in draft.payload:
        return _prepare_rows(session, scheme_id, rel, draft)
    values = load_payload(_ADD, draft.payload)
    try:
        _rel, row = codes.check_add_code(session, scheme_id, values, rel.release)
    except Invalid as exc:
        raise in_payload(exc) from None
    if draft.target and parse_code(get_scheme(scheme_id), draft.target, "target").code != row["code"]:
        raise Invalid("the target of a code.add is the proposed code", {"target": [f"{row['code']} or none"]})
    return Prepared(scheme_id, rel.release, row["code"], values, None)


def _apply_add(session: Session, req: ChangeRequest, actor: str) -> None:
    rel = _lock_release(session, req)
    if "rows" in req.payload:
        tables = [rows_table(req.payload)]
        _service(
            req,
            lambda: code_batch.add_codes(
                session, req.scheme, tables, actor=actor, release=rel.release, commit=False
            ),
        )
    else:
        values = load_payload(_ADD, req.payload)
        _service(
            req,
            lambda: codes.add_code(
                session, req.scheme, values, actor=actor, release=rel.release, commit=False
            ),
        )


# --- many rows (a spreadsheet) --------------------------------------------------------------------


def rows_payload(table: Table) -> dict:
    """A table read by ``standards.importer.reader`` as a ``code.add`` payload of rows."""
    return {"file": table.file, "rows": [{"row": r.row, **r.values} for r in table.rows]}


def rows_table(payload: dict) -> Table:
    """The payload's rows as the importer's ``Table`` (cells as text, as a file gives them)."""
    file = payload.get("file") or "rows"
    rows = []
    for i, raw in enumerate(payload["rows"], start=1):
        values = {k: _cell(v) for k, v in raw.items() if k != "row"}
        rows.append(SourceRow(file, raw.get("row") or i, values))
    columns = sorted({k for r in rows for k, v in r.values.items()})
    return Table(file, columns, rows)


def _cell(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value).strip() or None


def _prepare_rows(session: Session, scheme_id: str, rel: Release, draft: Draft) -> Prepared:
    loaded = load_payload(RowsSchema(), draft.payload)
    if len(loaded["rows"]) > MAX_ROWS:
        raise TooLarge(f"a change request takes at most {MAX_ROWS} rows; split the file")
    table = rows_table(loaded)
    _rel, _good, errors = code_batch.check_new_codes(session, scheme_id, [table], rel.release)
    if errors:
        by_row: dict[str, dict[str, list[str]]] = {}
        for e in errors:
            by_row.setdefault(str(e.row), {}).setdefault(e.column, []).append(f"{e.reason}: {e.message}")
        raise Invalid(
            f"{len(errors)} bad row(s) in {table.file}; nothing was submitted", {"payload": {"rows": by_row}}
        )
    return Prepared(scheme_id, rel.release, None, rows_payload(table), None)


# --- code.update and code.deprecate ------------------------------------------------------------------


def _prepare_update(session: Session, draft: Draft) -> Prepared:
    scheme_id, rel = _scheme_and_release(session, draft)
    code = _target(session, scheme_id, rel, draft)
    values = load_payload(_UPDATE, draft.payload)
    if not values:
        raise Invalid("the proposal changes nothing", {"payload": ["name one field to change"]})
    try:
        _rel, row, changes = codes.check_update_code(session, scheme_id, code, values, rel.release)
    except Invalid as exc:
        raise in_payload(exc) from None
    if all(getattr(row, k) == v for k, v in changes.items() if k != "pinyin"):
        raise Invalid("the proposal changes nothing", {"payload": ["the code already has these values"]})
    return Prepared(scheme_id, rel.release, code, values, fingerprint(session, rel.id, code))


def _apply_update(session: Session, req: ChangeRequest, actor: str) -> None:
    rel = _lock_release(session, req)
    _check_base(session, req, rel)
    values = load_payload(_UPDATE, req.payload)
    _service(
        req,
        lambda: codes.update_code(
            session, req.scheme, req.target, values, actor=actor, release=rel.release, commit=False
        ),
    )


def _prepare_deprecate(session: Session, draft: Draft) -> Prepared:
    scheme_id, rel = _scheme_and_release(session, draft)
    code = _target(session, scheme_id, rel, draft)
    values = load_payload(_DEPRECATE, draft.payload)
    try:
        codes.check_deprecate_code(session, scheme_id, code, values.get("successor"), rel.release)
    except Invalid as exc:
        raise in_payload(exc) from None
    return Prepared(scheme_id, rel.release, code, values, fingerprint(session, rel.id, code))


def _apply_deprecate(session: Session, req: ChangeRequest, actor: str) -> None:
    rel = _lock_release(session, req)
    _check_base(session, req, rel)
    successor = req.payload.get("successor")
    _service(
        req,
        lambda: codes.deprecate_code(
            session,
            req.scheme,
            req.target,
            actor=actor,
            successor=successor,
            release=rel.release,
            commit=False,
        ),
    )


# --- what reviewers see -----------------------------------------------------------------------------

_SHOWN = ("code", "name", "name_en", "unit", "description", "attributes", "status", "successor")


def _doc(session: Session, req: ChangeRequest, code: str | None) -> dict | None:
    if not code:
        return None
    try:
        return codes.get_code(session, req.scheme, code, req.release, crosswalks=False)
    except NotFound:
        return None


def _family(session: Session, req: ChangeRequest, code: str, name: str | None) -> dict:
    """The parent of ``code`` (a code, a table, or none) and its children, marking a sibling of the same name."""
    scheme = get_scheme(req.scheme)
    parent = parse_code(scheme, code).parent
    parent_doc = _doc(session, req, parent)
    if parent and parent_doc is None and parent in (scheme.tables or {}):
        parent_doc = {"code": parent, "name": scheme.tables[parent], "status": "active", "table": True}
    siblings = codes.list_codes(
        session, req.scheme, parent=parent, roots=parent is None, release=req.release, per_page=MAX_SIBLINGS
    )
    return {
        "parent": parent_doc and {k: parent_doc.get(k) for k in ("code", "name", "status")},
        "siblings": [
            {"code": s["code"], "name": s["name"], "status": s["status"], "same_name": s["name"] == name}
            for s in siblings.items
            if s["code"] != code
        ],
        "siblings_total": siblings.total - (1 if any(s["code"] == code for s in siblings.items) else 0),
    }


def _changes(before: dict, after: dict) -> list[dict]:
    return [
        {
            "path": k,
            "change": "added" if before.get(k) is None else "changed",
            "before": before.get(k),
            "after": after.get(k),
        }
        for k in _SHOWN
        if after.get(k) != before.get(k)
    ]


def _same_names(session: Session, req: ChangeRequest, name: str | None, code: str | None) -> list[str]:
    if not name:
        return []
    rel = get_release(session, req.scheme, req.release)
    found = session.scalars(select(Code.code).where(Code.release_id == rel.id, Code.name == name).limit(20))
    return [f"a code named {name!r} already exists: {c}" for c in found if c != code]


def _view_one(session: Session, req: ChangeRequest, proposed: dict, check) -> dict:
    code = req.target
    current = _doc(session, req, code if req.kind != "code.add" else None)
    before = {k: current.get(k) for k in _SHOWN} if current else {}
    rel = get_release(session, req.scheme, req.release)
    is_stale = req.base is not None and fingerprint(session, rel.id, code) != req.base
    return {
        "scheme": req.scheme,
        "release": req.release,
        "current": current,
        "proposed": proposed,
        "changes": _changes(before, proposed),
        **_family(session, req, code, proposed.get("name")),
        "stale": is_stale,
        "problems": problems_now(check) if req.status in ("submitted", "reviewed", "returned") else [],
        "warnings": _same_names(session, req, proposed.get("name"), code) if req.kind == "code.add" else [],
    }


def _view_add(session: Session, req: ChangeRequest) -> dict:
    if "rows" in req.payload:
        return _view_rows(session, req)
    proposed = {**{k: None for k in _SHOWN}, **req.payload, "code": req.target, "status": "active"}
    return _view_one(
        session, req, proposed, lambda: codes.check_add_code(session, req.scheme, req.payload, req.release)
    )


def _view_update(session: Session, req: ChangeRequest) -> dict:
    current = _doc(session, req, req.target) or {}
    proposed = {**{k: current.get(k) for k in _SHOWN}, **req.payload}
    return _view_one(
        session,
        req,
        proposed,
        lambda: codes.check_update_code(session, req.scheme, req.target, req.payload, req.release),
    )


def _view_deprecate(session: Session, req: ChangeRequest) -> dict:
    current = _doc(session, req, req.target) or {}
    successor = req.payload.get("successor")
    proposed = {**{k: current.get(k) for k in _SHOWN}, "status": "deprecated", "successor": successor}
    view = _view_one(
        session,
        req,
        proposed,
        lambda: codes.check_deprecate_code(session, req.scheme, req.target, successor, req.release),
    )
    view["successor"] = _doc(session, req, successor)
    if current.get("children"):
        view["warnings"].append(
            f"{req.target} has {current['children']} child code(s), which stay as they are"
        )
    return view


def _view_rows(session: Session, req: ChangeRequest) -> dict:
    """Every proposed row with its problems now (bad rows block approval) and warnings (same names)."""
    table = rows_table(req.payload)
    problems: dict[int, list[str]] = {}
    if req.status in ("submitted", "reviewed", "returned"):
        try:
            _rel, _good, errors = code_batch.check_new_codes(session, req.scheme, [table], req.release)
        except YimaError as exc:
            errors, problems[0] = [], [exc.message]
        for e in errors:
            problems.setdefault(e.row, []).append(f"{e.column}: {e.reason}: {e.message}")
    rel = get_release(session, req.scheme, req.release)
    names = [r.values.get("name") for r in table.rows if r.values.get("name")]
    taken = (
        dict(
            session.execute(
                select(Code.name, Code.code).where(Code.release_id == rel.id, Code.name.in_(names))
            ).all()
        )
        if names
        else {}
    )
    rows = []
    for r in table.rows:
        name = r.values.get("name")
        warnings = (
            [f"a code named {name!r} already exists: {taken[name]}"]
            if name in taken and taken[name] != r.values.get("code")
            else []
        )
        rows.append({"row": r.row, **r.values, "problems": problems.get(r.row, []), "warnings": warnings})
    return {
        "scheme": req.scheme,
        "release": req.release,
        "file": table.file,
        "rows": rows,
        "total": len(rows),
        "bad": sum(1 for r in rows if r["problems"]),
        "problems": problems.get(0, []),
        "stale": False,
    }


KINDS = (
    Kind("code.add", "codes", _prepare_add, _apply_add, _view_add),
    Kind("code.update", "codes", _prepare_update, _apply_update, _view_update),
    Kind("code.deprecate", "codes", _prepare_deprecate, _apply_deprecate, _view_deprecate),
)
