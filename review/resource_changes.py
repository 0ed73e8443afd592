"""Change requests on catalog resources: ``resource.create`` and ``resource.update`` (a PATCH of the
resource), checked and applied through ``catalog.resources``.

A resource's fingerprint is its ETag (the hash of its representation), taken at submission and compared
at approval under the resource's row lock. Reviewers see the field-by-field diff of ``catalog.revisions``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import resources, revisions
from catalog.models import DataResource
from catalog.schemas import ResourceSchema, ResourceUpdateSchema
from registry.errors import Conflict, Invalid, NotFound
from registry.jsonutil import etag_of
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

_CREATE = ResourceSchema()
_UPDATE = ResourceUpdateSchema()


def fingerprint(resource: DataResource | None) -> str | None:
    """The resource's ETag without quotes (None when there is no resource)."""
    return None if resource is None else etag_of(resource.to_dict()).strip('"')


def _current(session: Session, code: str | None) -> DataResource | None:
    if not code:
        return None
    return session.scalar(
        select(DataResource).where(DataResource.code == code).execution_options(populate_existing=True)
    )


def _no_scheme(draft: Draft) -> None:
    extra = {k: ["not used by resource requests"] for k in ("scheme", "release") if getattr(draft, k)}
    if extra:
        raise Invalid("a resource request has no scheme or release", extra)


def _typed(values: dict, schema) -> dict:
    """The stored (JSON) payload loaded again by the schema: the values the service takes."""
    return schema.load(values)


# --- resource.create ----------------------------------------------------------------------------


def _prepare_create(session: Session, draft: Draft) -> Prepared:
    _no_scheme(draft)
    values = load_payload(_CREATE, draft.payload)
    if draft.target and draft.target != values["code"]:
        raise Invalid("the target of a resource.create is the proposed code", {"target": [values["code"]]})
    try:
        resources.check_create(session, _typed(values, _CREATE))
    except Invalid as exc:
        raise in_payload(exc) from None
    return Prepared(None, None, values["code"], values, None)


def _apply_create(session: Session, req: ChangeRequest, actor: str) -> None:
    values = _typed(req.payload, _CREATE)
    try:
        resources.create_resource(session, values, actor=actor, commit=False)
    except (Invalid, Conflict) as exc:
        raise not_applicable(req.id, exc) from None


# --- resource.update ----------------------------------------------------------------------------


def _prepare_update(session: Session, draft: Draft) -> Prepared:
    _no_scheme(draft)
    code = required(draft.target, "target")
    resource = field_not_found("target", lambda: resources.get_resource(session, code))
    values = load_payload(_UPDATE, draft.payload)
    try:
        before, _values, candidate = resources.check_update(session, resource, _typed(values, _UPDATE))
    except Invalid as exc:
        raise in_payload(exc) from None
    if candidate == before:
        raise Invalid("the proposal changes nothing", {"payload": ["the resource already has these values"]})
    return Prepared(None, None, code, values, fingerprint(resource))


def _apply_update(session: Session, req: ChangeRequest, actor: str) -> None:
    try:
        resource = resources.get_resource(session, req.target, lock=True)
    except NotFound as exc:
        raise not_applicable(req.id, exc) from None
    session.refresh(resource)  # the row as it is now that it is locked
    if fingerprint(resource) != req.base:
        raise stale(req.id, req.target)
    values = _typed(req.payload, _UPDATE)
    try:
        resources.update_resource(session, req.target, values, actor=actor, commit=False)
    except Invalid as exc:
        raise not_applicable(req.id, exc) from None


# --- what reviewers see -------------------------------------------------------------------------


def _view(session: Session, req: ChangeRequest) -> dict:
    resource = _current(session, req.target)
    current = resource.to_dict() if resource is not None else None
    if req.kind == "resource.create":
        proposed = {**resources.DEFAULTS, **req.payload}
        check = lambda: resources.check_create(session, _typed(req.payload, _CREATE))  # noqa: E731
        is_stale = resource is not None
    elif resource is None:
        proposed, is_stale = dict(req.payload), True
        check = lambda: resources.get_resource(session, req.target)  # noqa: E731
    else:
        check = lambda: resources.check_update(session, resource, _typed(req.payload, _UPDATE))  # noqa: E731
        try:
            proposed = check()[2]  # as the service would save it (fields with their defaults)
        except Invalid:
            proposed = {**current, **req.payload}
        is_stale = fingerprint(resource) != req.base
    open_ = req.status in ("submitted", "reviewed", "returned")
    return {
        "current": current,
        "proposed": proposed,
        "changes": revisions.diff(current or {}, proposed),
        "stale": bool(open_ and is_stale),
        "problems": problems_now(check) if open_ else [],
        "warnings": [],
    }


KINDS = (
    Kind("resource.create", "resources", _prepare_create, _apply_create, _view),
    Kind("resource.update", "resources", _prepare_update, _apply_update, _view),
)
