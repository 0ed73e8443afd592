"""Tables of the change requests: a request (what is proposed, by whom, in which state) and its history."""

from __future__ import annotations

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.db import Base

#: the contract's kinds and the area (``YIMA_REQUIRE_REVIEW``) each belongs to
KINDS = {
    "code.add": "codes",
    "code.update": "codes",
    "code.deprecate": "codes",
    "resource.create": "resources",
    "resource.update": "resources",
}
STATUSES = ("submitted", "reviewed", "returned", "approved", "rejected")
#: every action a history row records
ACTIONS = ("submit", "endorse", "return", "resubmit", "approve", "reject")
#: an organization code column that ``catalog.organizations.delete`` must see
_ORG = {"references": "organization", "describe": "change requests (organization)"}


class ChangeRequest(Base):
    """A proposed change: ``payload`` is checked as the direct write checks it; ``base`` is the target's
    fingerprint when it was (re)submitted, compared again under a row lock when it is approved."""

    __tablename__ = "change_request"
    __table_args__ = (Index("ix_change_request_status_kind", "status", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    scheme: Mapped[str | None] = mapped_column(String(64))
    release: Mapped[str | None] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(500), index=True)
    payload: Mapped[dict] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    submitted_by: Mapped[str] = mapped_column(String(200))
    organization: Mapped[str] = mapped_column(String(64), index=True, info=_ORG)
    base: Mapped[str | None] = mapped_column(String(64))
    #: UTC ISO 8601 with "Z", as the audit chain writes times (stable across databases)
    submitted_at: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[str] = mapped_column(String(32))

    history: Mapped[list[RequestEvent]] = relationship(
        order_by="RequestEvent.n", cascade="all, delete-orphan", lazy="selectin"
    )


class RequestEvent(Base):
    """One step of a request's history: who (and for which organization) did what, when, and why."""

    __tablename__ = "change_request_event"
    __table_args__ = (UniqueConstraint("request_id", "n", name="uq_change_request_event_request_id_n"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("change_request.id", ondelete="CASCADE"))
    n: Mapped[int] = mapped_column(Integer)
    at: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    organization: Mapped[str | None] = mapped_column(
        String(64), info={**_ORG, "describe": "change request history (organization)"}
    )
    action: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
