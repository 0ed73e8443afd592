"""Traceability tables: products (a GTIN carrying one bureau code), deliveries, items and their lifecycle events."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import Base, utcnow

#: the lifecycle of an item, in order (delivery inspection may be repeated after a failed one)
EVENT_TYPES = ("delivered", "inspected", "installed", "handed_over")
RESULTS = ("pass", "fail")
#: the bureau's material and equipment scheme: every product carries one of its codes
PRODUCT_SCHEME = "szgws-me"
#: longest item key: "01/" + 14 digits + three "/AI/" + 20 characters each percent-encoded (3 bytes each)
KEY_LENGTH = 3 + 14 + 3 * (4 + 60)


class Product(Base):
    """A trade item (GTIN, stored as GTIN-14) and the bureau code it carries."""

    __tablename__ = "trace_product"

    id: Mapped[int] = mapped_column(primary_key=True)
    gtin: Mapped[str] = mapped_column(String(14), unique=True)
    scheme: Mapped[str] = mapped_column(String(64), default=PRODUCT_SCHEME)
    code: Mapped[str] = mapped_column(String(64), index=True)
    #: the release the code was checked against when the product was registered
    release: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    manufacturer: Mapped[str | None] = mapped_column(String(200))
    #: the organization that registered it (code), when the caller acts for one
    organization: Mapped[str | None] = mapped_column(
        String(64), info={"references": "organization", "describe": "traceability records"}
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    def to_dict(self) -> dict:
        """The contract's representation, and the audit snapshot."""
        return {
            "gtin": self.gtin,
            "scheme": self.scheme,
            "code": self.code,
            "release": self.release,
            "name": self.name,
            "manufacturer": self.manufacturer,
            "organization": self.organization,
        }


class Delivery(Base):
    """A delivery note (送货单) whose items were registered together, with one audit entry (``seq``)."""

    __tablename__ = "trace_delivery"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(100), unique=True)
    project: Mapped[str | None] = mapped_column(String(100))
    organization: Mapped[str | None] = mapped_column(
        String(64), info={"references": "organization", "describe": "traceability records"}
    )
    items: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Item(Base):
    """One physical item (a unit or a lot of a product). ``key`` is its canonical Digital Link path.

    ``seq`` is the audit entry that recorded it: its own, or its delivery's when registered from a file.
    """

    __tablename__ = "trace_item"
    __table_args__ = (Index("ix_trace_item_product_id", "product_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(KEY_LENGTH), unique=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("trace_product.id"))
    gtin: Mapped[str] = mapped_column(String(14))
    cpv: Mapped[str | None] = mapped_column(String(20))
    lot: Mapped[str | None] = mapped_column(String(20))
    serial: Mapped[str | None] = mapped_column(String(20))
    #: data attributes read off the link (AI → value, e.g. {"17": "261200"})
    attributes: Mapped[dict | None] = mapped_column(JSON)
    project: Mapped[str | None] = mapped_column(String(100), index=True)
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("trace_delivery.id"), index=True)
    organization: Mapped[str | None] = mapped_column(
        String(64), info={"references": "organization", "describe": "traceability records"}
    )
    seq: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Event(Base):
    """One lifecycle event of an item, the ``n``-th of that item; ``seq`` is its own audit entry."""

    __tablename__ = "trace_event"
    __table_args__ = (UniqueConstraint("item_id", "n", name="uq_trace_event_item_id_n"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("trace_item.id"))
    n: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(20))
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    result: Mapped[str | None] = mapped_column(String(4))
    note: Mapped[str | None] = mapped_column(Text)
    organization: Mapped[str] = mapped_column(
        String(64), info={"references": "organization", "describe": "traceability records"}, index=True
    )
    actor: Mapped[str] = mapped_column(String(200))
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
