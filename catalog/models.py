"""Catalog tables: organizations (and, later, systems, data resources and their fields)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import Base, utcnow

#: the kinds of organisation taking part in the bureau's works (三方监管: owner, contractor, supervisor)
ORGANIZATION_KINDS = {
    "bureau": "建设主管单位",
    "owner": "建设单位",
    "contractor": "施工单位",
    "supervisor": "监理单位",
    "designer": "设计单位",
    "assessor": "第三方评估机构",
    "supplier": "材料设备供应商",
    "other": "其他",
}


class Organization(Base):
    """The bureau and its participating units; ``code`` is what other objects refer to."""

    __tablename__ = "organization"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="other")
    credit_code: Mapped[str | None] = mapped_column(String(18))
    parent: Mapped[str | None] = mapped_column(String(64))
    contact: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "name": self.name,
            "name_en": self.name_en,
            "kind": self.kind,
            "credit_code": self.credit_code,
            "parent": self.parent,
            "contact": self.contact,
            "description": self.description,
        }
