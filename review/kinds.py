"""What every kind of change request provides: a check at submission (as the direct write checks), its apply
at approval (through the same service, stale targets refused) and the view a reviewer reads.

The kinds themselves live in ``review.code_changes`` and ``review.resource_changes``; ``review.workflow``
drives them. Errors keep the direct write's status (422 Invalid, 409 Conflict) and name the field: the
payload's own fields under ``payload``, the request's ``scheme``/``release``/``target`` at the top.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from marshmallow import Schema, ValidationError
from sqlalchemy.orm import Session

from registry.errors import Conflict, Invalid, NotFound, YimaError
from registry.jsonutil import jsonable
from review.models import ChangeRequest


@dataclass(frozen=True)
class Draft:
    """A proposal as submitted (or amended): the kind's inputs before any check."""

    kind: str
    scheme: str | None
    release: str | None
    target: str | None
    payload: dict


@dataclass(frozen=True)
class Prepared:
    """A proposal that passed the direct write's checks: what is stored with the request."""

    scheme: str | None
    release: str | None
    target: str | None
    payload: dict
    #: the target's fingerprint now (None when the target does not exist yet: an addition)
    base: str | None


@dataclass(frozen=True)
class Kind:
    """One request kind: ``prepare`` checks (raising as the direct write does), ``apply`` makes the change
    under a lock on the target (raising Conflict when it changed since ``base``), ``view`` is the diff."""

    name: str
    area: str
    prepare: Callable[[Session, Draft], Prepared]
    apply: Callable[[Session, ChangeRequest, str], None]
    view: Callable[[Session, ChangeRequest], dict]


def load_payload(schema: Schema, payload) -> dict:
    """The payload through the direct write's own schema (unknown fields rejected), as plain JSON values.

    Raises Invalid naming each bad field under ``payload``.
    """
    if not isinstance(payload, dict):
        raise Invalid("the payload must be an object", {"payload": ["an object"]})
    try:
        return jsonable(schema.load(payload))
    except ValidationError as exc:
        raise Invalid("the proposed change has invalid values", {"payload": exc.messages}) from None


def in_payload(exc: Invalid) -> Invalid:
    """A service's Invalid with its field errors moved under ``payload`` (the fields are the payload's)."""
    errors = exc.errors if isinstance(exc.errors, dict) else ({"_": exc.errors} if exc.errors else {})
    return Invalid(exc.message, {"payload": errors} if errors else {"payload": [exc.message]})


def required(value, field: str) -> str:
    """``value`` stripped; raises Invalid naming ``field`` when it is missing."""
    text = (value or "").strip() if isinstance(value, str) or value is None else str(value)
    if not text:
        raise Invalid(f"this kind of request needs a {field}", {field: ["required"]})
    return text


def field_not_found(field: str, call: Callable):
    """``call()``, with a NotFound turned into Invalid naming ``field`` (an unknown scheme, release, target)."""
    try:
        return call()
    except NotFound as exc:
        raise Invalid(exc.message, {field: [exc.message]}) from None


def not_applicable(request_id: int, exc: YimaError) -> Conflict:
    """Why an approval applies nothing: what was valid at submission no longer is, so the target changed."""
    return Conflict(
        f"change request {request_id} no longer applies (its target changed since it was submitted): "
        f"{exc.message}; nothing was applied",
        exc.errors,
    )


def stale(request_id: int, target: str | None) -> Conflict:
    return Conflict(
        f"{target or 'the target'} changed since change request {request_id} was submitted; nothing was "
        "applied (reject it: its submitter can propose the change again against the current state)"
    )


def problems_now(check: Callable[[], object]) -> list[str]:
    """The messages of what ``check()`` raises today (empty when the proposal still applies)."""
    try:
        check()
    except YimaError as exc:
        found = [exc.message]
        if isinstance(exc.errors, dict):
            found += [
                f"{k}: {'; '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in exc.errors.items()
            ]
        return found
    return []
