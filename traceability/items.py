"""Items: one physical unit or lot of a registered product, keyed by its Digital Link path, and their reads.

An item is recorded by an audit entry of its own (``register``) or by its delivery's (``deliveries``);
``Item.seq`` names that entry either way.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import audit
from registry.paging import Page, paginate
from traceability import gs1
from traceability.access import acting_organization
from traceability.errors import check_text, conflict, invalid, not_found
from traceability.models import Delivery, Event, Item, Product
from traceability.products import get as get_product
from traceability.sql import chunks, in_

ENTITY = "trace_item"


def link_of(
    link=None, gtin=None, lot=None, serial=None, cpv=None, *, cross_check: bool = True
) -> tuple[gs1.DigitalLink, str]:
    """(the validated identity, the field it came from) from a link or from GTIN + lot/serial, not both.

    ``cross_check=False`` skips biip's whole-link parse (each part is still judged by biip): bulk paths use it,
    it is 60 % of a link's parsing time. Raises Invalid / GS1Invalid (422) naming the field.
    """
    parts = (gtin, lot, serial, cpv)
    if link not in (None, ""):
        if any(v not in (None, "") for v in parts):
            raise invalid("link", "trace.link_or_parts")
        return gs1.parse_link(link, require_item=True, cross_check=cross_check), "link"
    if gtin in (None, ""):
        raise invalid("link", "trace.link_or_parts")
    return gs1.from_parts(gtin, lot, serial, cpv), "gtin"


def state(key: str, parsed: gs1.DigitalLink, project: str | None, organization: str | None) -> dict:
    """An item's audited state (what its own audit entry's ``after`` holds)."""
    return {
        "key": key,
        "gtin": parsed.gtin,
        "cpv": parsed.cpv,
        "lot": parsed.lot,
        "serial": parsed.serial,
        "attributes": dict(parsed.attributes) or None,
        "project": project,
        "organization": organization,
    }


def register(
    session: Session,
    *,
    link: str | None = None,
    gtin=None,
    lot=None,
    serial=None,
    cpv=None,
    project: str | None = None,
    actor: str,
    organization: str | None = None,
    commit: bool = True,
) -> Item:
    """Register one item from a scanned Digital Link (``link``) or from ``gtin`` + ``lot``/``serial``.

    GS1 rules apply (see ``traceability.gs1``); the GTIN must be a registered product. One audit entry.
    Raises GS1Invalid/Invalid (422: bad identity, unregistered product), Conflict (the item exists),
    Forbidden (unknown organization).
    """
    parsed, source = link_of(link, gtin, lot, serial, cpv)
    project = check_text({"project": project}, "project", 100)
    org = acting_organization(session, organization)
    product = session.scalar(select(Product).where(Product.gtin == parsed.gtin))
    if product is None:
        raise invalid(source, "trace.product_unknown", gtin=parsed.gtin)
    if session.scalar(select(Item.id).where(Item.key == parsed.key)) is not None:
        raise conflict(source, "trace.item_registered", key=parsed.key)
    after = state(parsed.key, parsed, project, org.code if org else None)
    entry = audit.record(
        session,
        actor=actor,
        action="create",
        entity_type=ENTITY,
        entity_key=parsed.key,
        before=None,
        after=after,
    )
    item = Item(product_id=product.id, seq=entry.seq, **{k: v for k, v in after.items()})
    session.add(item)
    if commit:
        session.commit()
    return item


def get(session: Session, key: str, *, for_update: bool = False) -> Item:
    """The item with this key (any spelling ``parse_key`` accepts). Raises GS1Invalid (not a key), NotFound.

    ``for_update`` locks its row (PostgreSQL) so that concurrent events on one item are serialized.
    """
    canonical = gs1.parse_key(key).key
    query = select(Item).where(Item.key == canonical)
    item = session.scalar(query.with_for_update() if for_update else query)
    if item is None:
        raise not_found("key", "trace.item_unknown", key=canonical)
    return item


def resolve(session: Session, path: str) -> tuple[str, Product | Item]:
    """What a resolver path names: ``("item", Item)`` or, for a bare ``01/{gtin}``, ``("product", Product)``.

    Raises GS1Invalid (not a Digital Link path), NotFound (no such product or item).
    """
    parsed = gs1.parse_key(path, field_name="path")
    if not parsed.is_item:
        return "product", get_product(session, parsed.gtin)
    return "item", get(session, parsed.key)


def statuses(session: Session, item_ids: list[int]) -> dict[int, tuple[str, str | None]]:
    """Each item's last event as (type, result); items without events are absent. One query per 900 items."""
    out: dict[int, tuple[str, str | None]] = {}
    for ids in chunks(item_ids):
        last = (
            select(Event.item_id, func.max(Event.n).label("n"))
            .where(in_(Event.item_id, ids))
            .group_by(Event.item_id)
            .subquery()
        )
        query = select(Event.item_id, Event.type, Event.result).join(
            last, (last.c.item_id == Event.item_id) & (last.c.n == Event.n)
        )
        out.update({item_id: (kind, result) for item_id, kind, result in session.execute(query)})
    return out


def summary(
    item: Item, product: Product, status: tuple[str, str | None] | None, delivery: str | None
) -> dict:
    """An item without its events, as lists show it (``status`` is its last event's type, or "registered")."""
    return {
        "key": item.key,
        "gtin": item.gtin,
        "cpv": item.cpv,
        "lot": item.lot,
        "serial": item.serial,
        "attributes": item.attributes or {},
        "code": product.code,
        "name": product.name,
        "manufacturer": product.manufacturer,
        "project": item.project,
        "delivery": delivery,
        "organization": item.organization,
        "seq": item.seq,
        "status": status[0] if status else "registered",
        "result": status[1] if status else None,
    }


def list_(
    session: Session,
    *,
    gtin=None,
    project: str | None = None,
    delivery: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page:
    """Items in key order, optionally of one product, project or delivery, each with its status.

    Raises GS1Invalid for a ``gtin`` that is not one.
    """
    query = (
        select(Item, Product, Delivery.reference)
        .join(Product, Product.id == Item.product_id)
        .outerjoin(Delivery, Delivery.id == Item.delivery_id)
        .order_by(Item.key)
    )
    if gtin is not None:
        query = query.where(Item.gtin == gs1.normalise_gtin(gtin))
    if project:
        query = query.where(Item.project == project)
    if delivery:
        query = query.where(Delivery.reference == delivery)
    result = paginate(session, query, page, per_page, scalars=False)
    status = statuses(session, [row[0].id for row in result.items])
    result.items = [summary(item, product, status.get(item.id), ref) for item, product, ref in result.items]
    return result


# --- current state, for audit verification (items registered one by one; see deliveries) -------

_STATE = (
    Item.key,
    Item.gtin,
    Item.cpv,
    Item.lot,
    Item.serial,
    Item.attributes,
    Item.project,
    Item.organization,
)


def _state_of(row) -> dict:
    return dict(
        zip(
            ("key", "gtin", "cpv", "lot", "serial", "attributes", "project", "organization"), row, strict=True
        )
    )


def _snapshot(session: Session, key: str) -> dict | None:
    row = session.execute(select(*_STATE).where(Item.key == key, Item.delivery_id.is_(None))).first()
    return None if row is None else _state_of(row)


def _snapshot_all(session: Session) -> dict[str, dict]:
    return {
        row[0]: _state_of(row) for row in session.execute(select(*_STATE).where(Item.delivery_id.is_(None)))
    }


audit.register_entity(
    ENTITY,
    _snapshot,
    lambda s: s.scalars(select(Item.key).where(Item.delivery_id.is_(None))),
    _snapshot_all,
    tables=("trace_item",),
)
