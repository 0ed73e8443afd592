"""Who acts: the organization a caller acts for (its ``kind`` decides lifecycle rights), and who refers to it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from catalog import organizations
from catalog.models import ORGANIZATION_KINDS, Organization
from registry.errors import NotFound
from traceability.errors import forbidden


def acting_organization(session: Session, code: str | None, *, required: bool = False) -> Organization | None:
    """The organization ``code`` names (None when no code and not ``required``).

    The caller's organization comes from its token (another issue links tokens to organizations); until then
    services take it as a parameter. Raises Forbidden when it is required and missing, or not registered.
    """
    if not code:
        if required:
            raise forbidden("organization", "trace.organization_required")
        return None
    try:
        return organizations.get(session, code)
    except NotFound:
        raise forbidden("organization", "trace.organization_unknown", organization=code) from None


def kind_names(kinds: tuple[str, ...]) -> tuple[str, str]:
    """Kinds as Chinese and English text: ("建设单位或建设主管单位", "owner or bureau")."""
    return "或".join(ORGANIZATION_KINDS[k] for k in kinds), " or ".join(kinds)
