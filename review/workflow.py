"""The life of a change request: submit → review (endorse | return → resubmit) → decide (approve | reject).

Every transition is one audit entry of the entity ``change_request`` (registered here; its state is the
request with its history) and is made under a row lock on the request, so nobody acts twice on it. An
approval applies the change through the kind's service in the same transaction, the change's own audit
entry naming the request; a target that changed since submission is 409 and nothing is applied.
"""

from __future__ import annotations

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from catalog import organizations
from registry import audit
from registry.actors import Actor, organization_of
from registry.errors import Conflict, Forbidden, Invalid, NotFound
from registry.paging import Page, paginate
from registry.tokens import has_role
from review import code_changes, parties, resource_changes
from review.kinds import Draft, Kind
from review.models import ChangeRequest, RequestEvent

ENTITY = "change_request"
KINDS: dict[str, Kind] = {k.name: k for k in (*code_changes.KINDS, *resource_changes.KINDS)}
#: action → (the status it needs, the status it leaves)
TRANSITIONS = {
    "endorse": ("submitted", "reviewed"),
    "return": ("submitted", "returned"),
    "resubmit": ("returned", "submitted"),
    "approve": ("reviewed", "approved"),
    "reject": ("reviewed", "rejected"),
}
_DONE = {
    "endorse": "endorsed",
    "return": "returned",
    "resubmit": "resubmitted",
    "approve": "approved",
    "reject": "rejected",
}
#: actions whose comment is required (the submitter must learn why)
NEEDS_COMMENT = ("return", "reject")
OPEN = ("submitted", "reviewed", "returned")


def request_dict(req: ChangeRequest) -> dict:
    """A request as the API shows it, and as its audit entries record it."""
    return {
        "id": req.id,
        "kind": req.kind,
        "status": req.status,
        "scheme": req.scheme,
        "release": req.release,
        "target": req.target,
        "payload": req.payload,
        "reason": req.reason,
        "submitted_by": req.submitted_by,
        "organization": req.organization,
        "base": req.base,
        "submitted_at": req.submitted_at,
        "updated_at": req.updated_at,
        "history": [
            {
                "at": e.at,
                "actor": e.actor,
                "organization": e.organization,
                "action": e.action,
                "comment": e.comment,
            }
            for e in req.history
        ],
    }


def kind_of(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise Invalid(f"unknown kind {name!r}; one of {', '.join(KINDS)}", {"kind": ["unknown"]}) from None


def _text(value: str | None, field: str, *, needed: bool, limit: int = 4000) -> str | None:
    text = (value or "").strip()
    if needed and not text:
        raise Invalid(f"a {field} is required here", {field: ["required"]})
    if len(text) > limit:
        raise Invalid(
            f"the {field} is longer than {limit} characters", {field: [f"at most {limit} characters"]}
        )
    return text or None


# --- transitions -------------------------------------------------------------------------------------


def submit(
    session: Session,
    *,
    kind: str,
    payload: dict,
    reason: str,
    actor: str,
    scheme: str | None = None,
    release: str | None = None,
    target: str | None = None,
) -> ChangeRequest:
    """Submit a change request for the actor's organization, checked as the direct write checks it.

    Raises Forbidden (no organization), Invalid (422, naming the fields: the payload's under ``payload``),
    Conflict (what the direct write refuses as a conflict, e.g. the code already exists), TooLarge.
    """
    org = parties.acting_organization(session, actor)
    spec = kind_of(kind)
    reason = _text(reason, "reason", needed=True)
    prepared = spec.prepare(session, Draft(kind, scheme, release, target, payload))
    at = audit.now()
    req = ChangeRequest(
        kind=kind,
        status="submitted",
        scheme=prepared.scheme,
        release=prepared.release,
        target=prepared.target,
        payload=prepared.payload,
        reason=reason,
        submitted_by=str(actor),
        organization=org.code,
        base=prepared.base,
        submitted_at=at,
        updated_at=at,
        history=[],
    )
    session.add(req)
    session.flush()
    _record(session, req, "submit", actor, reason, before=None, at=at)
    session.commit()
    return req


def review(
    session: Session, request_id: int, *, decision: str, actor: str, comment: str | None = None
) -> ChangeRequest:
    """Endorse (→ reviewed) or return (→ returned, comment required) a submitted request, as a supervisor
    organization other than the submitter's. Raises NotFound, Forbidden (403), Conflict (409: wrong state,
    or already acted), Invalid."""
    action = _decision(decision, ("endorse", "return"))
    req = _locked(session, request_id)
    org = parties.acting_organization(session, actor)
    parties.check_reviewer(req, actor, org)
    return _move(session, req, action, comment, actor)


def decide(
    session: Session, request_id: int, *, decision: str, actor: str, comment: str | None = None
) -> ChangeRequest:
    """Approve (→ approved, the change applied in this transaction) or reject (→ rejected, comment required)
    a reviewed request, as a steward of an owner or bureau organization other than the submitter's.

    Raises NotFound, Forbidden, Conflict (wrong state, already acted, or the target changed since
    submission: nothing is applied), Invalid.
    """
    action = _decision(decision, ("approve", "reject"))
    req = _locked(session, request_id)
    org = parties.acting_organization(session, actor)
    parties.check_decider(req, actor, org)
    _check_state(req, action, actor)
    if action == "approve":
        KINDS[req.kind].apply(session, req, Actor(str(actor), organization_of(actor), req.id))
    return _move(session, req, action, comment, actor)


def resubmit(
    session: Session,
    request_id: int,
    *,
    actor: str,
    payload: dict | None = None,
    reason: str | None = None,
    comment: str | None = None,
) -> ChangeRequest:
    """Amend (``payload``, ``reason``) and resubmit a returned request, by its submitter; checked again as at
    submission, its target's fingerprint taken anew, its history kept. Raises NotFound, Forbidden, Conflict,
    Invalid."""
    req = _locked(session, request_id)
    parties.check_submitter(req, actor)
    _check_state(req, "resubmit", actor)
    spec = KINDS[req.kind]
    draft = Draft(req.kind, req.scheme, req.release, req.target, req.payload if payload is None else payload)
    prepared = spec.prepare(session, draft)
    before = request_dict(req)
    req.payload, req.target, req.base = prepared.payload, prepared.target, prepared.base
    if reason is not None:
        req.reason = _text(reason, "reason", needed=True)
    return _move(session, req, "resubmit", comment, actor, before=before)


def _decision(decision: str, allowed: tuple[str, ...]) -> str:
    if decision not in allowed:
        raise Invalid(
            f"decision must be {' or '.join(allowed)}", {"decision": [f"one of {', '.join(allowed)}"]}
        )
    return decision


def _locked(session: Session, request_id: int) -> ChangeRequest:
    """The request, its row locked until commit (PostgreSQL; SQLite writers hold the database lock)."""
    req = session.scalar(
        select(ChangeRequest)
        .where(ChangeRequest.id == request_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if req is None:
        raise NotFound(f"no change request {request_id}")
    return req


def _check_state(req: ChangeRequest, action: str, actor: str) -> None:
    needed, _ = TRANSITIONS[action]
    if req.status != needed:
        raise Conflict(
            f"change request {req.id} is {req.status}: only a {needed} request can be {_DONE[action]}"
        )
    for event in reversed(req.history):
        if event.action in ("submit", "resubmit"):
            break
        if event.actor == str(actor):
            raise Conflict(f"{actor!s} has already acted on change request {req.id} ({event.action})")


def _move(
    session: Session,
    req: ChangeRequest,
    action: str,
    comment: str | None,
    actor: str,
    *,
    before: dict | None = None,
) -> ChangeRequest:
    """Check the state (again: cheap), apply the transition, record it and commit."""
    _check_state(req, action, actor)
    comment = _text(comment, "comment", needed=action in NEEDS_COMMENT)
    before = before or request_dict(req)
    req.status = TRANSITIONS[action][1]
    _record(session, req, action, actor, comment, before=before)
    session.commit()
    return req


def _record(
    session: Session, req: ChangeRequest, action: str, actor: str, comment, *, before, at=None
) -> None:
    at = at or audit.now()
    req.updated_at = at
    if action == "resubmit":
        req.submitted_at = at
    req.history.append(
        RequestEvent(
            n=len(req.history) + 1,
            at=at,
            actor=str(actor),
            organization=organization_of(actor),
            action=action,
            comment=comment,
        )
    )
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type=ENTITY,
        entity_key=str(req.id),
        before=before,
        after=request_dict(req),
    )


# --- reading ----------------------------------------------------------------------------------------


def get(session: Session, request_id: int) -> ChangeRequest:
    """The change request ``request_id``. Raises NotFound."""
    req = session.get(ChangeRequest, request_id)
    if req is None:
        raise NotFound(f"no change request {request_id}")
    return req


def view(session: Session, req: ChangeRequest) -> dict:
    """What a reviewer sees: the request and the diff against the current state (the kind's view)."""
    return {"request": request_dict(req), "diff": KINDS[req.kind].view(session, req)}


def list_requests(
    session: Session,
    *,
    status: str | None = None,
    kind: str | None = None,
    organization: str | None = None,
    target: str | None = None,
    scheme: str | None = None,
    submitted_by: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page:
    """Requests, newest first, filtered by status, kind, submitting organization, target, scheme or submitter."""
    query = select(ChangeRequest)
    for column, value in (
        (ChangeRequest.status, status),
        (ChangeRequest.kind, kind),
        (ChangeRequest.organization, organization),
        (ChangeRequest.target, target),
        (ChangeRequest.scheme, scheme),
        (ChangeRequest.submitted_by, submitted_by),
    ):
        if value:
            query = query.where(column == value)
    return paginate(session, query.order_by(ChangeRequest.id.desc()), page, per_page)


def todo(
    session: Session, *, name: str, role: str, organization: str | None, page: int = 1, per_page: int = 50
) -> Page:
    """What this caller may act on now: submitted requests to review (a supervisor organization), reviewed ones
    to decide (a steward of an owner or bureau organization), its own returned ones to amend. Oldest first."""
    mine = and_(ChangeRequest.status == "returned", ChangeRequest.submitted_by == name)
    conditions = [mine]
    org = organizations.get(session, organization) if organization else None
    others = and_(ChangeRequest.organization != (org.code if org else ""), ChangeRequest.submitted_by != name)
    if org is not None and org.kind in parties.REVIEWER_KINDS and has_role(role, "contributor"):
        conditions.append(and_(ChangeRequest.status == "submitted", others))
    if org is not None and org.kind in parties.DECIDER_KINDS and has_role(role, "steward"):
        conditions.append(and_(ChangeRequest.status == "reviewed", others))
    query = select(ChangeRequest).where(or_(*conditions)).order_by(ChangeRequest.updated_at, ChangeRequest.id)
    return paginate(session, query, page, per_page)


def allowed_actions(
    session: Session, req: ChangeRequest, *, name: str, role: str, organization: str | None
) -> list[str]:
    """The actions this caller may take on ``req`` now (what the request page offers, and nothing else)."""
    actor = Actor(name, organization)
    found = []
    for action, (needed, _) in TRANSITIONS.items():
        step = (
            "review"
            if action in ("endorse", "return")
            else "decide"
            if action in ("approve", "reject")
            else action
        )
        if req.status != needed or not has_role(role, parties.ROLE_OF[step]):
            continue
        try:
            if step == "resubmit":
                parties.check_submitter(req, actor)
            else:
                org = parties.acting_organization(session, actor)
                (parties.check_reviewer if step == "review" else parties.check_decider)(req, actor, org)
            _check_state(req, action, actor)
        except (Conflict, Forbidden):
            continue
        found.append(action)
    return found


def counts(session: Session) -> dict[str, int]:
    """How many requests are in each status (every status present, zero included)."""
    found = dict(
        session.execute(select(ChangeRequest.status, func.count()).group_by(ChangeRequest.status)).all()
    )
    return {
        status: found.get(status, 0)
        for status in ("submitted", "reviewed", "returned", "approved", "rejected")
    }


# --- audit state -------------------------------------------------------------------------------------


def _snapshot(session: Session, key: str) -> dict | None:
    if not key.isdigit():
        return None
    req = session.scalar(
        select(ChangeRequest).where(ChangeRequest.id == int(key)).execution_options(populate_existing=True)
    )
    return None if req is None else request_dict(req)


def _snapshot_all(session: Session) -> dict[str, dict]:
    found = session.scalars(select(ChangeRequest).execution_options(populate_existing=True))
    return {str(req.id): request_dict(req) for req in found}


audit.register_entity(
    ENTITY,
    _snapshot,
    lambda s: [str(i) for i in s.scalars(select(ChangeRequest.id))],
    _snapshot_all,
    tables=("change_request", "change_request_event"),
)
