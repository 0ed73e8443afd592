"""Webhook subscriptions: create (the secret shown once), read, change, delete, queue a test event, read the delivery log.

Creating, changing and deleting a webhook are audited (entity type ``webhook``), so they are change
events too. A new webhook's cursor starts at its own creation entry: it receives what changes from
then on. The audit entries carry the URL and patterns, never the secret.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import audit
from registry.db import utcnow
from registry.errors import Invalid, NotFound
from registry.paging import DEFAULT_PER_PAGE, Page, paginate
from webhooks import crypto, models, patterns, wakeup
from webhooks.guard import Guard
from webhooks.models import STATUSES, Webhook, WebhookDelivery

ENTITY = "webhook"
#: how long the secret before a rotation keeps signing beside the new one (receivers switch meanwhile)
ROTATION_OVERLAP = dt.timedelta(hours=24)
TEST_TYPE = "webhook.test"


def create(
    session: Session,
    values: dict,
    *,
    actor: str,
    guard: Guard,
    box: crypto.SecretBox,
) -> tuple[Webhook, str]:
    """Subscribe ``values["url"]`` to ``values["events"]``; returns the webhook and its secret (shown once).

    Raises Invalid (naming ``url`` or ``events``) for a URL the SSRF guard refuses or a bad pattern.
    """
    url = guard.validate(values.get("url"))
    events = patterns.validate(values.get("events"))
    secret, raw = crypto.new_secret()
    hook = Webhook(
        url=url,
        events=events,
        description=_description(values.get("description")),
        secret_enc="",
        enabled=True,
        secret_version=1,
        cursor_seq=0,
        test_pending=False,
        created_at=utcnow(),
        created_by=actor,
    )
    session.add(hook)
    models.created_here += 1
    session.flush()
    hook.secret_enc = box.seal(raw, hook.id)
    entry = audit.record(
        session,
        actor=actor,
        action="create",
        entity_type=ENTITY,
        entity_key=str(hook.id),
        before=None,
        after=hook.snapshot(),
    )
    hook.cursor_seq = entry.seq
    session.commit()
    return hook, secret


def get(session: Session, webhook_id: int) -> Webhook:
    """The webhook. Raises NotFound."""
    hook = session.get(Webhook, webhook_id)
    if hook is None:
        raise NotFound(f"no webhook {webhook_id}")
    return hook


def list_(session: Session, *, enabled: bool | None = None, page=1, per_page=DEFAULT_PER_PAGE) -> Page:
    """Webhooks by id, optionally only the enabled (or disabled) ones."""
    query = select(Webhook).order_by(Webhook.id)
    if enabled is not None:
        query = query.where(Webhook.enabled.is_(enabled))
    return paginate(session, query, page, per_page)


def update(
    session: Session,
    webhook_id: int,
    values: dict,
    *,
    actor: str,
    guard: Guard,
    box: crypto.SecretBox,
) -> tuple[Webhook, str | None]:
    """Change url, events, description or ``enabled``; ``rotate_secret`` makes a new secret (returned, shown
    once) while the old one keeps signing for ``ROTATION_OVERLAP``. Re-enabling a disabled webhook
    resumes its queue where it stopped (``skip_backlog`` moves its cursor to now instead).

    Raises NotFound, or Invalid for a refused URL or bad patterns.
    """
    hook = get(session, webhook_id)
    before = hook.snapshot()
    if "url" in values:
        hook.url = guard.validate(values["url"])
    if "events" in values:
        hook.events = patterns.validate(values["events"])
    if "description" in values:
        hook.description = _description(values["description"])
    if values.get("enabled") is True and not hook.enabled:
        _enable(hook)
    elif values.get("enabled") is False and hook.enabled:
        hook.enabled, hook.disabled_reason, hook.disabled_at = False, f"disabled by {actor}"[:500], utcnow()
    if values.get("skip_backlog"):
        hook.cursor_seq, hook.pending_delivery_id = _head(session), None
    secret = _rotate(hook, box) if values.get("rotate_secret") else None
    audit.record_change(
        session,
        actor=actor,
        entity_type=ENTITY,
        entity_key=str(hook.id),
        before=before,
        after=hook.snapshot(),
    )
    wakeup.mark(session)
    session.commit()
    return hook, secret


def _enable(hook: Webhook) -> None:
    hook.enabled, hook.disabled_reason, hook.disabled_at = True, None, None
    hook.failing_since = hook.next_attempt_at = None
    hook.pending_delivery_id = None  # the dead message is tried afresh, with a new row in the log


def _rotate(hook: Webhook, box: crypto.SecretBox) -> str:
    secret, raw = crypto.new_secret()
    hook.previous_secret_enc, hook.previous_until = hook.secret_enc, utcnow() + ROTATION_OVERLAP
    hook.secret_enc = box.seal(raw, hook.id)
    hook.secret_version += 1
    return secret


def delete(session: Session, webhook_id: int, *, actor: str) -> None:
    """Remove the webhook and its delivery log; a delivery in flight is not recorded. Raises NotFound."""
    hook = get(session, webhook_id)
    before = hook.snapshot()
    session.delete(hook)
    session.flush()
    audit.record_change(
        session, actor=actor, entity_type=ENTITY, entity_key=str(webhook_id), before=before, after=None
    )
    session.commit()


def queue_test(session: Session, webhook_id: int) -> WebhookDelivery:
    """Queue one ``webhook.test`` event (not an audit entry, not retried), sent even to a disabled webhook
    by the next delivery loop that takes the webhook. Raises NotFound."""
    hook = get(session, webhook_id)
    row = WebhookDelivery(
        webhook_id=hook.id,
        seq=None,
        message_id="",
        type=TEST_TYPE,
        attempts=0,
        status="pending",
        created_at=utcnow(),
        next_attempt_at=utcnow(),
    )
    session.add(row)
    session.flush()
    row.message_id = f"msg_{hook.id}_test_{row.id}"
    hook.test_pending = True
    wakeup.mark(session)
    session.commit()
    return row


def test_body(row: WebhookDelivery) -> dict:
    """The data of a test event."""
    return {
        "webhook_id": row.webhook_id,
        "delivery_id": row.id,
        "message": "测试事件 / test event from Yima",
        "requested_at": row.to_dict()["created_at"],
    }


def deliveries(
    session: Session, webhook_id: int, *, status: str | None = None, page=1, per_page=DEFAULT_PER_PAGE
) -> Page:
    """The webhook's delivery log, newest first, optionally one status. Raises NotFound, Invalid."""
    get(session, webhook_id)
    query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    if status:
        if status not in STATUSES:
            raise Invalid(f"status must be one of {', '.join(STATUSES)}", {"status": [f"one of {STATUSES}"]})
        query = query.where(WebhookDelivery.status == status)
    return paginate(session, query.order_by(WebhookDelivery.id.desc()), page, per_page)


def _description(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if len(text) > 500:
        raise Invalid("description: at most 500 characters", {"description": ["at most 500 characters"]})
    return text or None


def _head(session: Session) -> int:
    return session.scalar(select(audit.AuditEntry.seq).order_by(audit.AuditEntry.seq.desc()).limit(1)) or 0


def _snapshot(session: Session, key: str) -> dict | None:
    hook = session.get(Webhook, int(key)) if key.isdigit() else None
    return None if hook is None else hook.snapshot()


audit.register_entity(
    ENTITY,
    _snapshot,
    lambda s: [str(i) for i in s.scalars(select(Webhook.id))],
    lambda s: {str(h.id): h.snapshot() for h in s.scalars(select(Webhook))},
    tables=("webhook",),
)
