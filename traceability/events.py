"""The trail: an item's lifecycle events (delivered → inspected → installed → handed_over), each an audit entry.

Rules (the contract's, and where it leaves a choice, ours):
- every event is recorded for an organization; ``inspected`` only by a ``supervisor``, ``handed_over`` only by an
  ``owner`` or ``bureau`` (403 otherwise); ``delivered`` and ``installed`` by any registered organization;
- order (409 otherwise): ``delivered`` first and once; ``inspected`` after delivery, with a result pass|fail,
  and again only after a failed one (a re-inspection); ``installed`` only after a *passed* inspection (material
  that failed its delivery inspection must not be built in); ``handed_over`` after installation, and last;
- an event's time is not in the future (5 minutes of clock skew allowed; 422) and not before the previous
  event's (409). Times without an offset are read as UTC.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.models import ORGANIZATION_KINDS
from registry import audit
from traceability import items
from traceability.access import acting_organization, kind_names
from traceability.errors import EVENT_ZH, check_text, conflict, forbidden, invalid
from traceability.models import EVENT_TYPES, RESULTS, Delivery, Event, Item, Product

ENTITY = "trace_event"
#: which organization kinds may record an event type (absent: any registered organization)
KINDS = {"inspected": ("supervisor",), "handed_over": ("owner", "bureau")}
CLOCK_SKEW = dt.timedelta(minutes=5)


def parse_at(value) -> dt.datetime:
    """An event time (datetime or ISO 8601 text) as naive UTC. Raises Invalid."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise invalid("at", "trace.at_invalid", value=value) from None
    if not isinstance(value, dt.datetime):
        raise invalid("at", "trace.required", field="at")
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _check_values(kind, result, note, when: dt.datetime) -> str | None:
    if kind not in EVENT_TYPES:
        raise invalid("type", "trace.event_type", type=str(kind))
    if kind == "inspected" and result not in RESULTS:
        raise invalid("result", "trace.result_required")
    if kind != "inspected" and result is not None:
        raise invalid("result", "trace.result_unexpected")
    if when > dt.datetime.now(dt.UTC).replace(tzinfo=None) + CLOCK_SKEW:
        raise invalid("at", "trace.at_future", at=when.isoformat())
    return check_text({"note": note}, "note", 2000)


def _check_kind(kind: str, org) -> None:
    allowed = KINDS.get(kind)
    if allowed and org.kind not in allowed:
        zh, en = kind_names(allowed)
        raise forbidden(
            "organization",
            "trace.kind_forbidden",
            type=kind,
            type_zh=EVENT_ZH[kind],
            kinds=en,
            kinds_zh=zh,
            organization=org.code,
            kind=org.kind,
            kind_zh=ORGANIZATION_KINDS.get(org.kind, org.kind),
        )


def _order(kind: str, needs: str, last: Event | None):
    status = last.type if last else "registered"
    return conflict(
        "type",
        "trace.order",
        type=kind,
        type_zh=EVENT_ZH[kind],
        needs=needs,
        needs_zh=EVENT_ZH[needs],
        status=status,
        status_zh=EVENT_ZH[status],
    )


def check_order(kind: str, last: Event | None, when: dt.datetime) -> None:
    """Raise Conflict unless ``kind`` may follow the item's ``last`` event at time ``when``."""
    if last is not None and last.type == "handed_over":
        raise conflict("type", "trace.handed_over")
    if kind == "delivered" and last is not None:
        raise conflict("type", "trace.repeated", type=kind, type_zh=EVENT_ZH[kind])
    if kind == "inspected":
        if last is not None and last.type == "inspected" and last.result == "pass":
            raise conflict("type", "trace.inspection_passed")
        if last is None or last.type not in ("delivered", "inspected"):
            raise _order(kind, "delivered", last)
    if kind == "installed":
        if last is not None and last.type == "inspected" and last.result == "fail":
            raise conflict("type", "trace.inspection_failed")
        if last is not None and last.type == "installed":
            raise conflict("type", "trace.repeated", type=kind, type_zh=EVENT_ZH[kind])
        if last is None or last.type != "inspected":
            raise _order(kind, "inspected", last)
    if kind == "handed_over" and (last is None or last.type != "installed"):
        raise _order(kind, "installed", last)
    if last is not None and when < last.at:
        raise conflict(
            "at",
            "trace.at_before_previous",
            at=when.isoformat(),
            previous=last.type,
            previous_at=last.at.isoformat(),
        )


def state(item_key: str, event: Event) -> dict:
    """An event's audited state (its audit entry's ``after``)."""
    return {
        "item": item_key,
        "n": event.n,
        "type": event.type,
        "at": event.at,
        "result": event.result,
        "note": event.note,
        "organization": event.organization,
        "actor": event.actor,
    }


def record(
    session: Session,
    key: str,
    kind: str,
    at,
    *,
    result: str | None = None,
    note: str | None = None,
    actor: str,
    organization: str | None,
    commit: bool = True,
) -> Event:
    """Record one lifecycle event of the item ``key``, as ``organization`` (the caller's), in one audit entry
    (``action`` = the event type, ``entity_key`` = ``{key}#{n}``) whose ``seq`` the event keeps.

    Raises Invalid (422: type, result, note, time), Forbidden (403: no or unknown organization, or one of the
    wrong kind), NotFound (no such item), Conflict (409: out of lifecycle order, or before the previous event).
    """
    when = parse_at(at)
    note = _check_values(kind, result, note, when)
    org = acting_organization(session, organization, required=True)
    _check_kind(kind, org)
    item = items.get(session, key, for_update=True)
    last = session.scalar(select(Event).where(Event.item_id == item.id).order_by(Event.n.desc()).limit(1))
    check_order(kind, last, when)
    event = Event(
        item_id=item.id,
        n=(last.n if last else 0) + 1,
        type=kind,
        at=when,
        result=result,
        note=note,
        organization=org.code,
        actor=actor,
    )
    entry = audit.record(
        session,
        actor=actor,
        action=kind,
        entity_type=ENTITY,
        entity_key=f"{item.key}#{event.n}",
        before=None,
        after=state(item.key, event),
    )
    event.seq = entry.seq
    session.add(event)
    if commit:
        session.commit()
    return event


def of_item(session: Session, item: Item) -> list[Event]:
    """The item's events, oldest first."""
    return list(session.scalars(select(Event).where(Event.item_id == item.id).order_by(Event.n)))


def to_dict(event: Event) -> dict:
    """An event as the API shows it (the proof is added by the caller that holds the checkpoint)."""
    return {
        "n": event.n,
        "type": event.type,
        "at": event.at,
        "organization": event.organization,
        "actor": event.actor,
        "result": event.result,
        "note": event.note,
        "seq": event.seq,
    }


def detail(session: Session, item: Item) -> dict:
    """The item with its product's code and name, its status and every event, oldest first."""
    product = session.get(Product, item.product_id)
    delivery = session.scalar(select(Delivery.reference).where(Delivery.id == item.delivery_id))
    trail = of_item(session, item)
    status = (trail[-1].type, trail[-1].result) if trail else None
    return {**items.summary(item, product, status, delivery), "events": [to_dict(e) for e in trail]}


# --- current state, for audit verification ------------------------------------------------------

_COLUMNS = (
    Item.key,
    Event.n,
    Event.type,
    Event.at,
    Event.result,
    Event.note,
    Event.organization,
    Event.actor,
)
_FIELDS = ("item", "n", "type", "at", "result", "note", "organization", "actor")


def _select():
    return select(*_COLUMNS).join(Item, Item.id == Event.item_id)


def _snapshot(session: Session, key: str) -> dict | None:
    item_key, _, n = key.rpartition("#")
    if not n.isdigit():
        return None
    row = session.execute(_select().where(Item.key == item_key, Event.n == int(n))).first()
    return None if row is None else dict(zip(_FIELDS, row, strict=True))


def _snapshot_all(session: Session) -> dict[str, dict]:
    return {f"{row[0]}#{row[1]}": dict(zip(_FIELDS, row, strict=True)) for row in session.execute(_select())}


audit.register_entity(
    ENTITY, _snapshot, lambda s: _snapshot_all(s).keys(), _snapshot_all, tables=("trace_event",)
)
