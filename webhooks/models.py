"""Webhook tables: the subscriptions (with each one's cursor into the audit log) and their delivery log."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import Base, utcnow

#: the statuses of a delivery: waiting for its (next) attempt, delivered, given up (a test event is
#: tried once), or dead (retries exhausted or 410 Gone: the webhook was disabled on it)
STATUSES = ("pending", "delivered", "failed", "dead")
URL_LENGTH = 2000


#: webhooks this process has created (``service.create``): its delivery loop, which remembers for a moment
#: that a database has no webhook at all (``delivery.claim``), looks again at once after one is made
created_here = 0


class Webhook(Base):
    """A subscription: where to POST, which event types, the signing secret (encrypted), and how far it got.

    ``cursor_seq`` is the last audit ``seq`` handled (delivered, or not matching ``events``): the
    webhook's queue is simply every entry after it. ``lease_owner``/``lease_until`` say which delivery
    loop holds the webhook; ``next_attempt_at`` pauses its queue until a retry is due.
    """

    __tablename__ = "webhook"
    __table_args__ = (Index("ix_webhook_due", "enabled", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    events: Mapped[list] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(String(500))
    #: AES-GCM ciphertext of the secret's bytes (``webhooks.crypto``); never shown after creation
    secret_enc: Mapped[str] = mapped_column(String(200))
    #: the secret before the last rotation, still signing (beside the new one) until ``previous_until``
    previous_secret_enc: Mapped[str | None] = mapped_column(String(200))
    previous_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    secret_version: Mapped[int] = mapped_column(Integer, default=1)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    cursor_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    #: a test event is waiting in the delivery log (sent even while the webhook is disabled)
    test_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    #: the delivery log row of the message at the head of the queue while it is being retried
    pending_delivery_id: Mapped[int | None] = mapped_column(BigInteger)
    failing_since: Mapped[dt.datetime | None] = mapped_column(DateTime)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))

    def snapshot(self) -> dict:
        """The audited state (never the secret, nor the cursor and lease, which change with every delivery)."""
        return {
            "url": self.url,
            "events": list(self.events),
            "description": self.description,
            "enabled": self.enabled,
            "disabled_reason": self.disabled_reason,
            "secret_version": self.secret_version,
        }

    def to_dict(self) -> dict:
        """The API's representation: everything but the secret."""
        return {
            "id": self.id,
            **self.snapshot(),
            "disabled_at": _iso(self.disabled_at),
            "cursor_seq": self.cursor_seq,
            "failing_since": _iso(self.failing_since),
            "next_attempt_at": _iso(self.next_attempt_at),
            "created_at": _iso(self.created_at),
            "created_by": self.created_by,
        }


class WebhookDelivery(Base):
    """One message to one webhook and what became of it: one row per message, updated on each attempt.

    ``seq`` is the audit entry delivered (None for a test event). ``last_error`` never holds the
    secret or a signature: it is made from the status line, the error class and the address only.
    """

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_webhook", "webhook_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhook.id", ondelete="CASCADE"))
    seq: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(120))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(12))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "webhook_id": self.webhook_id,
            "seq": self.seq,
            "message_id": self.message_id,
            "type": self.type,
            "status": self.status,
            "attempts": self.attempts,
            "last_status_code": self.last_status_code,
            "last_error": self.last_error,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 2),
            "created_at": _iso(self.created_at),
            "last_attempt_at": _iso(self.last_attempt_at),
            "next_attempt_at": _iso(self.next_attempt_at),
            "delivered_at": _iso(self.delivered_at),
        }


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
