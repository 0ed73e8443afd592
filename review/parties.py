"""Who may do what with a change request: the organization an actor acts for, and the kind it must be.

The contract's rule (三方监管): the submitting organization (any kind) proposes, a ``supervisor``
organization other than the submitter's reviews, a steward of an ``owner`` or ``bureau`` organization
other than the submitter's decides. An actor without an organization takes no part (not even an admin):
a request is always made and judged for an organization. The role needed (contributor to submit and
review, steward to decide) is checked by the caller that knows the role (the API, the pages, the CLI).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from catalog import organizations
from catalog.models import ORGANIZATION_KINDS, Organization
from registry import tokens
from registry.actors import organization_of
from registry.errors import Forbidden, Invalid, NotFound
from review.models import ChangeRequest

REVIEWER_KINDS = ("supervisor",)
DECIDER_KINDS = ("owner", "bureau")
#: the role each action needs (each role includes the ones before it)
ROLE_OF = {"submit": "contributor", "review": "contributor", "decide": "steward", "resubmit": "contributor"}


def acting_organization(session: Session, actor: str) -> Organization:
    """The organization ``actor`` acts for. Raises Forbidden when it has none (or it no longer exists)."""
    code = organization_of(actor)
    if not code:
        raise Forbidden(
            f"{actor!s} acts for no organization: change requests are made and judged by organizations "
            "(create its token with: yima token create NAME --role ROLE --org CODE)"
        )
    try:
        return organizations.get(session, code)
    except NotFound:
        raise Forbidden(f"{actor!s} acts for organization {code!r}, which does not exist") from None


def _kinds(kinds: tuple[str, ...]) -> str:
    return " or ".join(f"{k} ({ORGANIZATION_KINDS[k]})" for k in kinds)


def check_reviewer(req: ChangeRequest, actor: str, org: Organization) -> None:
    """Raise Forbidden unless ``actor`` (of ``org``) may review ``req``."""
    _not_own(req, actor, org, "review")
    if org.kind not in REVIEWER_KINDS:
        raise Forbidden(
            f"only a {_kinds(REVIEWER_KINDS)} organization reviews change requests; "
            f"{org.code} is {org.kind} ({ORGANIZATION_KINDS.get(org.kind, org.kind)})"
        )


def check_decider(req: ChangeRequest, actor: str, org: Organization) -> None:
    """Raise Forbidden unless ``actor`` (of ``org``) may decide ``req``."""
    _not_own(req, actor, org, "decide")
    if org.kind not in DECIDER_KINDS:
        raise Forbidden(
            f"only a steward of an {_kinds(DECIDER_KINDS)} organization decides change requests; "
            f"{org.code} is {org.kind} ({ORGANIZATION_KINDS.get(org.kind, org.kind)})"
        )


def check_submitter(req: ChangeRequest, actor: str) -> None:
    """Raise Forbidden unless ``actor`` submitted ``req`` (only the submitter amends and resubmits it)."""
    if str(actor) != req.submitted_by:
        raise Forbidden(f"only its submitter ({req.submitted_by}) can amend and resubmit request {req.id}")


def _not_own(req: ChangeRequest, actor: str, org: Organization, what: str) -> None:
    if str(actor) == req.submitted_by:
        raise Forbidden(f"nobody may {what} their own change request ({req.id})")
    if org.code == req.organization:
        raise Forbidden(f"an organization may not {what} its own change request ({req.id}, by {org.code})")


def create_token(
    session: Session, name: str, role: str, *, actor: str, organization: str | None = None
) -> tuple[tokens.Token, str]:
    """``registry.tokens.create_token`` for a token acting for ``organization``, which must be one of the
    catalog's organizations. Raises Invalid (unknown organization, as create_token does), Conflict."""
    if organization is not None:
        try:
            organizations.get(session, organization)
        except NotFound:
            raise Invalid(
                f"unknown organization {organization!r}: use the code of one of /api/v1/organizations"
            ) from None
    return tokens.create_token(session, name, role, actor=actor, organization=organization)
