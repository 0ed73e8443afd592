"""Deliveries: the items of one delivery note registered together from a file, all or none, in one audit entry.

Why one audit entry per delivery and not one per item: a delivery file is one act of one person, and 10,000
entries cost 10,000 turns of the chain's lock (about 9 s on PostgreSQL here through ``audit.record``), where
the contract's budget is well under 5 s. The delivery's entry lists every item key, so each item's
registration is still provable from it; each lifecycle event of an item stays an audit entry of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from registry import audit
from registry.db import utcnow
from registry.errors import Invalid
from registry.paging import Page, paginate
from traceability import gs1
from traceability.access import acting_organization
from traceability.errors import EVENT_ZH, check_text, conflict, invalid, issue, not_found
from traceability.files import DELIVERY_COLUMNS, Row, read_rows
from traceability.items import link_of, state
from traceability.models import Delivery, Event, Item, Product
from traceability.sql import in_, rows_in

ENTITY = "trace_delivery"
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


@dataclass
class DeliveryReport:
    """What registering a delivery did (or, with ``dry_run``, would do), and every bad row."""

    reference: str
    file: str | None
    rows: int = 0
    added: int = 0
    errors: list[dict] = field(default_factory=list)
    dry_run: bool = False
    seq: int | None = None

    def to_dict(self) -> dict:
        return {
            "reference": self.reference,
            "file": self.file,
            "rows": self.rows,
            "added": self.added,
            "errors": list(self.errors),
            "dry_run": self.dry_run,
            "seq": self.seq,
        }


def _expiry(value) -> dict | None:
    """The expiry column as AI 17 (YYMMDD; a spreadsheet date 2026-12-31 becomes 261231)."""
    if value is None:
        return None
    text = str(value).strip()
    m = _ISO_DATE.match(text)
    return {"17": f"{m[1][2:]}{m[2]}{m[3]}" if m else text}


def _parse(rows: list[Row], report: DeliveryReport) -> list[tuple[int, gs1.DigitalLink]]:
    """Each row's identity, validated; every bad row (and every key twice in the file) goes to the report."""
    parsed, seen = [], {}
    for r in rows:
        v = r.values
        try:
            if v.get("link"):
                parts = (v.get("gtin"), v.get("lot"), v.get("serial"), v.get("cpv"))
                link, _ = link_of(v["link"], *parts, cross_check=False)
                if v.get("expiry"):
                    link = gs1.from_parts(
                        link.gtin, link.lot, link.serial, link.cpv, attributes=_expiry(v["expiry"])
                    )
            else:
                link = gs1.from_parts(
                    v.get("gtin"),
                    v.get("lot"),
                    v.get("serial"),
                    v.get("cpv"),
                    attributes=_expiry(v.get("expiry")),
                )
        except gs1.GS1Invalid as exc:
            report.errors.extend({"row": r.row, "column": f, **p.to_dict()} for f, p in exc.problems)
            continue
        except Invalid as exc:
            for column, found in exc.errors.items():
                report.errors.extend({"row": r.row, "column": column, **x} for x in found)
            continue
        if link.key in seen:
            found = issue("trace.item_duplicate_row", key=link.key, other=seen[link.key])
            report.errors.append({"row": r.row, "column": "link" if v.get("link") else "serial", **found})
            continue
        seen[link.key] = r.row
        parsed.append((r.row, link))
    return parsed


def _against_database(session: Session, parsed, report: DeliveryReport) -> dict[str, int]:
    """Product ids by GTIN (one query); rows of unregistered products or registered items go to the report."""
    gtins = {link.gtin for _, link in parsed}
    products = dict(
        rows_in(
            lambda chunk: session.execute(select(Product.gtin, Product.id).where(in_(Product.gtin, chunk))),
            gtins,
        )
    )
    existing = set(
        rows_in(
            lambda chunk: session.scalars(select(Item.key).where(in_(Item.key, chunk))),
            [k.key for _, k in parsed],
        )
    )
    for row, link in parsed:
        if link.gtin not in products:
            report.errors.append(
                {"row": row, "column": "gtin", **issue("trace.product_unknown", gtin=link.gtin)}
            )
        elif link.key in existing:
            report.errors.append(
                {"row": row, "column": "serial", **issue("trace.item_registered", key=link.key)}
            )
    return products


def snapshot_state(reference: str, project, organization, links) -> dict:
    """A delivery's audited state: its reference, project, organization, every item key (sorted) and the
    attributes of the items that have any."""
    keyed = sorted(links, key=lambda pair: pair[0])
    return {
        "reference": reference,
        "project": project,
        "organization": organization,
        "items": [key for key, _ in keyed],
        "attributes": {key: attrs for key, attrs in keyed if attrs},
    }


def register_rows(
    session: Session,
    reference: str,
    rows: list[Row],
    *,
    file: str | None = None,
    project: str | None = None,
    actor: str,
    organization: str | None = None,
    dry_run: bool = False,
) -> DeliveryReport:
    """Register every item of a delivery (rows of ``link`` or ``gtin`` + ``lot``/``serial``, ``expiry``?): all or
    none, with one audit entry for the delivery.

    With ``dry_run`` nothing is written and the report lists every bad row; otherwise any bad row raises
    Invalid (422, ``errors["rows"]``). Raises Conflict (the delivery reference is taken), Forbidden (unknown
    organization), Invalid (no reference, no rows).
    """
    reference = check_text({"reference": reference}, "reference", 100, required=True)
    project = check_text({"project": project}, "project", 100)
    org = acting_organization(session, organization)
    if session.scalar(select(Delivery.id).where(Delivery.reference == reference)) is not None:
        raise conflict("reference", "trace.delivery_registered", reference=reference)
    report = DeliveryReport(reference, file, rows=len(rows), dry_run=dry_run)
    parsed = _parse(rows, report)
    products = _against_database(session, parsed, report)
    report.errors.sort(key=lambda e: e["row"])
    bad = {e["row"] for e in report.errors}
    if dry_run:
        report.added = sum(1 for row, _ in parsed if row not in bad)
        session.rollback()
        return report
    if bad:
        raise Invalid(
            f"{len(bad)} row(s) of delivery {reference} are not valid; nothing was registered",
            {"rows": report.errors},
        )
    report.seq = _write(session, reference, project, org.code if org else None, parsed, products, actor)
    session.commit()
    report.added = len(parsed)
    return report


def _write(session: Session, reference, project, org_code, parsed, products: dict, actor: str) -> int:
    """The delivery's audit entry, its row and its items (one multi-row INSERT); returns the entry's seq."""
    after = snapshot_state(reference, project, org_code, [(link.key, link.attributes) for _, link in parsed])
    entry = audit.record(
        session,
        actor=actor,
        action="create",
        entity_type=ENTITY,
        entity_key=reference,
        before=None,
        after=after,
    )
    delivery = Delivery(
        reference=reference, project=project, organization=org_code, items=len(parsed), seq=entry.seq
    )
    session.add(delivery)
    session.flush()
    now = utcnow()
    values = [
        {
            **state(link.key, link, project, org_code),
            "product_id": products[link.gtin],
            "delivery_id": delivery.id,
            "seq": entry.seq,
            "created_at": now,
        }
        for _, link in parsed
    ]
    session.execute(insert(Item), values)  # no unit of work per item: one multi-row statement per batch
    return entry.seq


def register_list(session: Session, reference: str, entries: list, **kwargs) -> DeliveryReport:
    """``register_rows`` from a JSON list (an API body): ``[{"link"} | {"gtin", "lot"?, "serial"?, "cpv"?,
    "expiry"?}, …]``; row numbers in errors count from 1. Raises Invalid for an entry that is not such an object."""
    allowed = set(DELIVERY_COLUMNS)
    rows = []
    for number, entry in enumerate(entries if isinstance(entries, list) else [None], start=1):
        if not isinstance(entry, dict) or set(entry) - allowed:
            raise invalid("items", "trace.entry_shape", row=number, fields=", ".join(sorted(allowed)))
        rows.append(Row(number, {k: v for k, v in entry.items() if v not in (None, "")}))
    if not rows:
        raise invalid("items", "trace.empty_file")
    return register_rows(session, reference, rows, **kwargs)


def register_file(session: Session, reference: str, name: str, data: bytes, **kwargs) -> DeliveryReport:
    """``register_rows`` from a delivery file (CSV/XLSX with a link column, or GTIN + lot/serial columns)."""
    rows = read_rows(name, data, DELIVERY_COLUMNS, ("link", "gtin"))
    return register_rows(session, reference, rows, file=name, **kwargs)


def get(session: Session, reference: str) -> dict:
    """A delivery with its item count per status (``registered`` for items with no event yet). Raises NotFound."""
    delivery = session.scalar(select(Delivery).where(Delivery.reference == reference))
    if delivery is None:
        raise not_found("reference", "trace.delivery_unknown", reference=reference)
    last = (
        select(Event.item_id, func.max(Event.n).label("n"))
        .join(Item, Item.id == Event.item_id)
        .where(Item.delivery_id == delivery.id)
        .group_by(Event.item_id)
        .subquery()
    )
    query = (
        select(Event.type, Event.result, func.count())
        .join(last, (last.c.item_id == Event.item_id) & (last.c.n == Event.n))
        .group_by(Event.type, Event.result)
    )
    counts = {kind: 0 for kind in EVENT_ZH}
    failed = 0
    for kind, result, n in session.execute(query):
        counts[kind] += n
        failed += n if result == "fail" else 0
    counts["registered"] = delivery.items - sum(counts.values())
    return {
        "reference": delivery.reference,
        "project": delivery.project,
        "organization": delivery.organization,
        "item_count": delivery.items,
        "seq": delivery.seq,
        "created_at": delivery.created_at,
        "status": counts,
        "failed_inspection": failed,
    }


def list_(session: Session, *, project: str | None = None, page: int = 1, per_page: int = 50) -> Page:
    """Deliveries, newest first, optionally of one project (without their status counts: see ``get``)."""
    query = select(Delivery).order_by(Delivery.id.desc())
    if project:
        query = query.where(Delivery.project == project)
    result = paginate(session, query, page, per_page)
    result.items = [
        {
            "reference": d.reference,
            "project": d.project,
            "organization": d.organization,
            "item_count": d.items,
            "seq": d.seq,
            "created_at": d.created_at,
        }
        for d in result.items
    ]
    return result


# --- current state, for audit verification ------------------------------------------------------


def _states(session: Session, where=None) -> dict[str, dict]:
    query = select(
        Delivery.reference, Delivery.project, Delivery.organization, Item.key, Item.attributes
    ).join(Item, Item.delivery_id == Delivery.id, isouter=True)
    if where is not None:
        query = query.where(where)
    grouped: dict[str, tuple] = {}
    for reference, project, organization, key, attributes in session.execute(query):
        entry = grouped.setdefault(reference, (project, organization, []))
        if key is not None:
            entry[2].append((key, attributes))
    return {ref: snapshot_state(ref, p, o, links) for ref, (p, o, links) in grouped.items()}


def _snapshot(session: Session, key: str) -> dict | None:
    return _states(session, Delivery.reference == key).get(key)


audit.register_entity(
    ENTITY, _snapshot, lambda s: s.scalars(select(Delivery.reference)), _states, tables=("trace_delivery",)
)
