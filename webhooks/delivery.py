"""Delivering one webhook's queue: claim it (a lease), send its events in ``seq`` order, record, release.

Only the holder of a webhook's lease sends to it, so one webhook never has two messages in flight,
whatever the number of processes: the claim is a conditional UPDATE of the lease (on PostgreSQL
after ``SELECT … FOR UPDATE SKIP LOCKED``, so claimers never queue behind each other; on SQLite the
write lock makes it atomic across processes). Every write of the holder checks it still holds the
lease, and it renews the lease (in those writes) long before a send could outlast it. A process that
dies leaves its lease to expire (``YIMA_WEBHOOK_LEASE``); the next holder starts from the cursor, so
what was sent but not yet recorded is sent again (at least once, with the same ``webhook-id``).

A failed message stops its webhook's queue until the retry is due (order before throughput).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import and_, bindparam, case, delete, exists, func, insert, not_, or_, select, update
from sqlalchemy.orm import Session

from registry import audit
from registry.db import Database, utcnow
from webhooks import events, models, service, wakeup
from webhooks.crypto import SecretBox, SecretKeyError
from webhooks.models import Webhook, WebhookDelivery
from webhooks.patterns import Matcher
from webhooks.sender import Outcome, Sender
from webhooks.settings import WebhookSettings

log = logging.getLogger("yima.webhooks")

_W = Webhook.__table__
_D = WebhookDelivery.__table__
_HEAD = select(func.coalesce(func.max(audit.AuditEntry.__table__.c.seq), 0)).scalar_subquery()
#: how long a holder keeps one webhook before letting the others have a turn (seconds)
SLICE = 2.0
#: delivered rows written (with the cursor) at least this often: rows, seconds
FLUSH_ROWS, FLUSH_SECONDS = 200, 0.25
#: how often a holder that has caught up looks for news (seconds; a commit here or a NOTIFY wakes it sooner)
HOT_POLL = 0.05
#: delivery log rows kept per webhook (older delivered and failed ones are pruned)
KEEP_LOG = 10_000
ACTOR = "yima-webhooks"
#: the longest ``Retry-After`` honoured (seconds): a receiver cannot park a queue for longer in one go
RETRY_AFTER_CAP = 36_000.0


class LeaseLost(Exception):
    """The webhook was deleted, or another process took it over: stop without recording anything."""


@dataclass
class Context:
    """What every holder shares in one process."""

    db: Database
    settings: WebhookSettings
    sender: Sender
    box: SecretBox
    stopping: threading.Event = field(default_factory=threading.Event)


# --- claiming -------------------------------------------------------------------------------


def _due(now: dt.datetime):
    free = or_(_W.c.lease_owner.is_(None), _W.c.lease_until < now)
    waiting = and_(
        _W.c.enabled.is_(True),
        _W.c.cursor_seq < _HEAD,
        or_(_W.c.next_attempt_at.is_(None), _W.c.next_attempt_at <= now),
    )
    return and_(free, or_(_W.c.test_pending.is_(True), waiting))


#: the idle loop's look, built once: built per call (the time a bound value), SQLAlchemy spent three
#: times the query's own cost making the statement and its cache key, under intake's stream of commits
#: a tenth of a server's time at the GIL in a profile
_LOOK = select(_W.c.id).where(_due(bindparam("now"))).limit(1)


#: a database with no webhook at all is looked at again after this long (seconds), not at every commit:
#: under an intake stream the look was still a tenth of a server's time at the GIL. One made by this
#: process is seen at once (``models.created_here``), one made by another within this long
NO_WEBHOOK_RECHECK = 1.0
_LOOK_ANY = select(_W.c.id).limit(1)
#: database URL → (monotonic time until which it is known to have no webhook, ``models.created_here`` then)
_NONE_UNTIL: dict[str, tuple[float, int]] = {}


def claim(ctx: Context, owner: str) -> int | None:
    """Take the lease of one webhook with work due (the furthest behind first), or None. Writes nothing
    when nothing is due (an idle loop only reads)."""
    key = ctx.db.url
    known = _NONE_UNTIL.get(key)
    if known is not None and known[1] == models.created_here and time.monotonic() < known[0]:
        return None
    now = utcnow()
    with ctx.db.engine.connect() as conn:  # a Core connection: an idle loop's look is its cheapest query
        if conn.execute(_LOOK, {"now": now}).first() is None:
            created = models.created_here
            if conn.execute(_LOOK_ANY).first() is None:
                _NONE_UNTIL[key] = (time.monotonic() + NO_WEBHOOK_RECHECK, created)
            return None
    with ctx.db.writer() as s:
        query = select(_W.c.id).where(_due(now)).order_by(_W.c.cursor_seq, _W.c.id).limit(8)
        if s.get_bind().dialect.name == "postgresql":
            query = query.limit(1).with_for_update(skip_locked=True)
        for webhook_id in s.scalars(query).all():
            taken = s.execute(
                update(_W)
                .where(_W.c.id == webhook_id, or_(_W.c.lease_owner.is_(None), _W.c.lease_until < now))
                .values(lease_owner=owner, lease_until=now + dt.timedelta(seconds=ctx.settings.lease))
            )
            if taken.rowcount == 1:
                s.commit()
                return webhook_id
    return None


# --- one holder's turn ------------------------------------------------------------------------


class Turn:
    """One webhook held by ``owner``: its state as loaded, what was delivered and not yet written."""

    def __init__(self, ctx: Context, owner: str, webhook_id: int):
        self.ctx, self.owner, self.id = ctx, owner, webhook_id
        with ctx.db.session() as s:
            hook = s.get(Webhook, webhook_id)
            if hook is None or hook.lease_owner != owner:
                raise LeaseLost()
            self.url, self.enabled, self.cursor = hook.url, hook.enabled, hook.cursor_seq
            self.matcher = Matcher(hook.events)
            self.test_pending, self.pending_id = hook.test_pending, hook.pending_delivery_id
            self.retry_due = hook.next_attempt_at is None or hook.next_attempt_at <= utcnow()
            self.failing_since = hook.failing_since
            self.keys, self.key_error = _keys(ctx.box, hook)
        self.rows: list[dict] = []
        self.pending_done: dict | None = None
        self.lease_until = time.monotonic() + ctx.settings.lease
        self.flushed, self.flushed_cursor = time.monotonic(), self.cursor
        self.sent = 0

    def run(self, linger: float = 0.0) -> int:
        """Send what is due within one slice; returns how many messages were delivered."""
        try:
            if self.test_pending:
                self._send_tests()
            if self.enabled and self.retry_due:
                self._send_queue(time.monotonic() + SLICE, linger)
            self.flush(release=True)
        except LeaseLost:
            log.warning("webhook %s: lease lost (deleted, or taken over); stopped", self.id)
        except Exception:
            self._release_quietly()  # let another holder try at once rather than after the lease
            raise
        return self.sent

    def _release_quietly(self) -> None:
        try:
            with self.ctx.db.writer() as s:
                s.execute(
                    update(_W)
                    .where(_W.c.id == self.id, _W.c.lease_owner == self.owner)
                    .values(lease_owner=None, lease_until=None)
                )
                s.commit()
        except Exception:  # the database is what failed: the lease simply expires
            log.debug("webhook %s: could not release the lease", self.id, exc_info=True)

    def _send_queue(self, until: float, linger: float) -> None:
        """Send in order until caught up (and then ``linger`` seconds without news) or the slice ends."""
        idle_since = None
        while time.monotonic() < until and not self.ctx.stopping.is_set():
            seen = wakeup.SIGNAL.version
            with self.ctx.db.session() as s:
                batch = events.read(s, self.cursor, self.matcher, limit=FLUSH_ROWS)
            for i, event in enumerate(batch.events):
                self._keep_lease()
                outcome = self._send(event)
                if not outcome.ok:
                    self._failed(event, outcome)
                    return
                self._delivered(event, outcome)
                if i + 1 == len(batch.events) or batch.events[i + 1].seq != event.seq:
                    self.cursor = event.seq  # every event placed at this seq is out
                if self._flush_due():
                    self.flush()
            self.cursor = max(self.cursor, batch.scanned_to)
            if batch.scanned_to < batch.head:
                continue
            # caught up: keep the webhook a little while, so a steady stream costs no claim per change
            now = time.monotonic()
            idle_since = now if batch.events or idle_since is None else idle_since
            if now - idle_since >= linger:
                return
            if self._flush_due():
                self.flush()
            wakeup.SIGNAL.wait(seen, HOT_POLL)

    def _send(self, event: events.Event) -> Outcome:
        if self.key_error:
            return Outcome(False, None, self.key_error, 0.0)
        return self.ctx.sender.send(self.url, _message_id(self.id, event), event.encoded(), self.keys)

    def _delivered(self, event: events.Event, outcome: Outcome) -> None:
        now = utcnow()
        values = _row(self.id, event, outcome, "delivered", now)
        values["delivered_at"] = now
        if self.pending_id is not None:
            self.pending_done = {**values, "id": self.pending_id}
            self.pending_id = None
            log.info("webhook %s: recovered, %s delivered", self.id, values["message_id"])
        else:
            self.rows.append(values)
        self.sent += 1

    def _keep_lease(self) -> None:
        # a send may take the whole timeout: renew (with a flush) while there is ample time left
        if self.lease_until - time.monotonic() < self.ctx.settings.timeout + 5:
            self.flush()

    def _flush_due(self) -> bool:
        if not self.rows and self.pending_done is None and self.cursor == self.flushed_cursor:
            return time.monotonic() - self.flushed >= self.ctx.settings.lease / 3  # only the lease to renew
        return len(self.rows) >= FLUSH_ROWS or time.monotonic() - self.flushed >= FLUSH_SECONDS

    def flush(self, *, release: bool = False) -> None:
        """Write the cursor and delivered rows, renewing (or releasing) the lease. Raises LeaseLost."""
        lease = {"lease_owner": None, "lease_until": None} if release else {"lease_until": _until(self.ctx)}
        # never backwards: an admin's skip_backlog may have moved the cursor past ours meanwhile
        cursor = case((_W.c.cursor_seq > self.cursor, _W.c.cursor_seq), else_=self.cursor)
        changes = {"cursor_seq": cursor, **lease}
        if self.pending_done is not None:
            changes.update(pending_delivery_id=None, failing_since=None, next_attempt_at=None)
        with self.ctx.db.writer() as s:
            self._own(s, changes)
            if self.pending_done is not None:
                done = self.pending_done
                s.execute(update(_D).where(_D.c.id == done.pop("id")).values(**_attempted(done)))
            if self.rows:
                s.execute(insert(_D), self.rows)
            if release and self.sent:
                _prune(s, self.id)
            s.commit()
        self.rows, self.pending_done = [], None
        self.flushed, self.flushed_cursor = time.monotonic(), self.cursor
        self.lease_until = time.monotonic() + self.ctx.settings.lease

    def _own(self, s: Session, changes: dict) -> None:
        done = s.execute(
            update(_W).where(_W.c.id == self.id, _W.c.lease_owner == self.owner).values(**changes)
        )
        if done.rowcount != 1:
            raise LeaseLost()

    # --- a failed attempt ---------------------------------------------------------------------

    def _failed(self, event: events.Event, outcome: Outcome) -> None:
        """Record the attempt; schedule the retry, or disable the webhook (410, or retries exhausted)."""
        self.flush()  # what was delivered before it, first
        now = utcnow()
        schedule = self.ctx.settings.retry_schedule
        with self.ctx.db.writer() as s:
            self._own(s, {"lease_until": _until(self.ctx)})
            row = _pending_row(s, self.pending_id, event, self.id)
            attempts = (row.attempts if row else 0) + 1
            values = _row(self.id, event, outcome, "pending", now) | {"attempts": attempts}
            hook = s.get(Webhook, self.id)
            since = hook.failing_since or now
            if outcome.gone or attempts > len(schedule):
                values["status"], values["next_attempt_at"] = "dead", None
                why = (
                    "the receiver answered 410 Gone"
                    if outcome.gone
                    else f"{attempts} attempts failed since {since:%Y-%m-%d %H:%M} UTC; last: {outcome.error}"
                )
                _disable(s, hook, why[:500], now)
            else:
                values["next_attempt_at"] = now + dt.timedelta(seconds=_delay(schedule, attempts, outcome))
                hook.failing_since, hook.next_attempt_at = since, values["next_attempt_at"]
            row_id = _write_row(s, row, values)
            hook.pending_delivery_id = row_id if values["status"] == "pending" else None
            s.commit()
        _log_failure(self.id, values, outcome)

    # --- test events --------------------------------------------------------------------------

    def _send_tests(self) -> None:
        with self.ctx.db.session() as s:
            rows = list(
                s.scalars(
                    select(WebhookDelivery)
                    .where(WebhookDelivery.webhook_id == self.id, WebhookDelivery.seq.is_(None))
                    .where(WebhookDelivery.status == "pending")
                    .order_by(WebhookDelivery.id)
                )
            )
        for row in rows:
            self._keep_lease()
            event = events.Event(0, service.TEST_TYPE, audit.now(), service.test_body(row))
            if self.key_error:
                outcome = Outcome(False, None, self.key_error, 0.0)
            else:
                outcome = self.ctx.sender.send(self.url, row.message_id, event.encoded(), self.keys)
            now = utcnow()
            with self.ctx.db.writer() as s:
                self._own(s, {"lease_until": _until(self.ctx)})
                values = _attempted(
                    _row(self.id, event, outcome, "delivered" if outcome.ok else "failed", now)
                )
                values |= {
                    "attempts": 1,
                    "next_attempt_at": None,
                    "delivered_at": now if outcome.ok else None,
                }
                s.execute(update(_D).where(_D.c.id == row.id).values(**values))
                s.commit()
        with self.ctx.db.writer() as s:
            still = exists().where(_D.c.webhook_id == self.id, _D.c.seq.is_(None), _D.c.status == "pending")
            s.execute(update(_W).where(_W.c.id == self.id, not_(still)).values(test_pending=False))
            s.commit()


def deliver_one(ctx: Context, owner: str, linger: float = 0.0) -> int | None:
    """Claim one due webhook and give it a turn (kept ``linger`` seconds once caught up); the number
    delivered, or None when nothing was due."""
    webhook_id = claim(ctx, owner)
    if webhook_id is None:
        return None
    try:
        return Turn(ctx, owner, webhook_id).run(linger)
    except LeaseLost:
        return 0


# --- helpers --------------------------------------------------------------------------------


def _keys(box: SecretBox, hook: Webhook) -> tuple[list[bytes], str | None]:
    """The signing keys (current first, then the one before a rotation while it still signs), or an error."""
    try:
        keys = [box.open(hook.secret_enc, hook.id)]
        if hook.previous_secret_enc and hook.previous_until and hook.previous_until > utcnow():
            keys.append(box.open(hook.previous_secret_enc, hook.id))
        return keys, None
    except SecretKeyError as exc:
        return [], str(exc)


def _message_id(webhook_id: int, event: events.Event) -> str:
    return f"msg_{webhook_id}_{event.seq}" + (f"_{event.suffix}" if event.suffix else "")


def _row(webhook_id: int, event: events.Event, outcome: Outcome, status: str, now: dt.datetime) -> dict:
    return {
        "webhook_id": webhook_id,
        "seq": event.seq,
        "message_id": _message_id(webhook_id, event),
        "type": event.type,
        "attempts": 1,
        "status": status,
        "last_status_code": outcome.status,
        "last_error": outcome.error,
        "latency_ms": outcome.latency_ms,
        "created_at": now,
        "last_attempt_at": now,
        "next_attempt_at": None,
        "delivered_at": None,
    }


def _attempted(values: dict) -> dict:
    """The columns an attempt updates on an existing row (not its identity or creation time)."""
    keep = ("status", "last_status_code", "last_error", "latency_ms", "last_attempt_at", "delivered_at")
    out = {k: values[k] for k in keep if k in values}
    out["next_attempt_at"] = values.get("next_attempt_at")
    out["attempts"] = _D.c.attempts + 1
    return out


def _pending_row(s: Session, pending_id: int | None, event: events.Event, webhook_id: int):
    """The row of the message being retried, if it is this message (else it no longer is the head)."""
    if pending_id is None:
        return None
    row = s.get(WebhookDelivery, pending_id)
    if row is not None and row.message_id != _message_id(webhook_id, event):
        row.status, row.next_attempt_at = "failed", None
        row.last_error = ((row.last_error or "") + " (superseded: no longer in the queue)")[:1000]
        return None
    return row


def _write_row(s: Session, row: WebhookDelivery | None, values: dict) -> int:
    if row is None:
        return s.execute(insert(_D).values(**values).returning(_D.c.id)).scalar_one()
    for key in ("status", "attempts", "last_status_code", "last_error", "latency_ms"):
        setattr(row, key, values[key])
    row.last_attempt_at, row.next_attempt_at = values["last_attempt_at"], values["next_attempt_at"]
    s.flush()
    return row.id


def _delay(schedule: tuple[float, ...], attempts: int, outcome: Outcome) -> float:
    """Seconds to the next attempt: the receiver's ``Retry-After`` (0.5 s to ``RETRY_AFTER_CAP``), else the
    schedule's step for this attempt, jittered by ±20% so receivers are not hit in waves."""
    if outcome.retry_after is not None:
        return min(max(outcome.retry_after, 0.5), RETRY_AFTER_CAP)
    return schedule[attempts - 1] * random.uniform(0.8, 1.2)


def _disable(s: Session, hook: Webhook, why: str, now: dt.datetime) -> None:
    before = hook.snapshot()
    hook.enabled, hook.disabled_reason, hook.disabled_at = False, why, now
    hook.failing_since = hook.next_attempt_at = None
    audit.record(
        s,
        actor=ACTOR,
        action="disable",
        entity_type=service.ENTITY,
        entity_key=str(hook.id),
        before=before,
        after=hook.snapshot(),
    )


def _log_failure(webhook_id: int, values: dict, outcome: Outcome) -> None:
    if values["status"] == "dead":
        log.warning("webhook %s: disabled after %s: %s", webhook_id, values["message_id"], outcome.error)
    elif values["attempts"] == 1:
        log.warning(
            "webhook %s: failing at %s (%s); retry at %s",
            webhook_id,
            values["message_id"],
            outcome.error,
            f"{values['next_attempt_at']:%H:%M:%S} UTC",
        )


def _prune(s: Session, webhook_id: int) -> None:
    """Drop delivered and failed rows beyond the newest ``KEEP_LOG`` of this webhook."""
    cut = s.scalar(
        select(_D.c.id)
        .where(_D.c.webhook_id == webhook_id)
        .order_by(_D.c.id.desc())
        .offset(KEEP_LOG)
        .limit(1)
    )
    if cut is not None:
        s.execute(
            delete(_D).where(
                _D.c.webhook_id == webhook_id, _D.c.id <= cut, _D.c.status.in_(("delivered", "failed"))
            )
        )


def _until(ctx: Context) -> dt.datetime:
    return utcnow() + dt.timedelta(seconds=ctx.settings.lease)
