"""Catalog tables: organizations, systems, data resources, their fields, revisions and search index."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

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


# --- systems, data resources, fields, revisions, search index (the catalog issue) -------------

#: 信息资源格式 (《政务信息资源目录编制指南》)
FORMATS = ("电子文件", "电子表格", "数据库", "图形图像", "流媒体", "自描述格式", "服务接口")
#: 共享类型
SHARE_TYPES = {"unconditional": "无条件共享", "conditional": "有条件共享", "none": "不予共享"}
#: 共享方式
SHARE_METHODS = ("数据库", "接口", "文件")
#: 更新周期
UPDATE_CYCLES = {
    "realtime": "实时",
    "daily": "每日",
    "weekly": "每周",
    "monthly": "每月",
    "quarterly": "每季度",
    "yearly": "每年",
}
#: 数据分级 (GB/T 43697-2024)
SECURITY_GRADES = {"general": "一般数据", "important": "重要数据", "core": "核心数据"}
#: the life of a catalog entry
RESOURCE_STATUSES = {"draft": "草稿", "published": "已发布", "retired": "已停用"}
#: 信息项数据类型 (the Frictionless Table Schema types Yima supports)
FIELD_TYPES = ("string", "integer", "number", "boolean", "date", "datetime")
#: the constraint keys a field may carry
CONSTRAINT_KEYS = ("min_length", "max_length", "minimum", "maximum", "pattern", "enum")


class System(Base):
    """An information system of the bureau; ``namespaces`` are the OpenLineage namespaces it emits."""

    __tablename__ = "system"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(64), index=True)
    namespaces: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "name": self.name,
            "description": self.description,
            "owner": self.owner,
            "namespaces": list(self.namespaces or []),
        }


class DataResource(Base):
    """A catalog entry (政务信息资源): every metadata item of the catalog guide, its fields and lineage identity."""

    __tablename__ = "data_resource"
    __table_args__ = (UniqueConstraint("lineage_namespace", "lineage_name", name="uq_data_resource_lineage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32), index=True)
    provider: Mapped[str] = mapped_column(String(64), index=True)
    system: Mapped[str | None] = mapped_column(String(64), index=True)
    format: Mapped[str | None] = mapped_column(String(20))
    share_type: Mapped[str] = mapped_column(String(20), index=True)
    share_condition: Mapped[str | None] = mapped_column(Text)
    share_method: Mapped[str | None] = mapped_column(String(20))
    open_to_public: Mapped[bool] = mapped_column(Boolean, default=False)
    open_condition: Mapped[str | None] = mapped_column(Text)
    update_cycle: Mapped[str | None] = mapped_column(String(20))
    published_on: Mapped[dt.date | None] = mapped_column(Date)
    security_grade: Mapped[str] = mapped_column(String(20), index=True)
    related: Mapped[list] = mapped_column(JSON, default=list)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    steward: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), index=True)
    lineage_namespace: Mapped[str | None] = mapped_column(String(500))
    lineage_name: Mapped[str | None] = mapped_column(String(500))
    #: the number of the newest revision (1 after creation)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    fields: Mapped[list[ResourceField]] = relationship(
        back_populates="resource",
        order_by="ResourceField.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )

    @property
    def lineage(self) -> dict | None:
        if self.lineage_namespace is None and self.lineage_name is None:
            return None
        return {"namespace": self.lineage_namespace, "name": self.lineage_name}

    def to_dict(self) -> dict:
        """The contract's representation (also the audit snapshot and the revision snapshot)."""
        return {
            "code": self.code,
            "name": self.name,
            "summary": self.summary,
            "category": self.category,
            "provider": self.provider,
            "system": self.system,
            "format": self.format,
            "share_type": self.share_type,
            "share_condition": self.share_condition,
            "share_method": self.share_method,
            "open_to_public": bool(self.open_to_public),
            "open_condition": self.open_condition,
            "update_cycle": self.update_cycle,
            "published_on": self.published_on.isoformat() if self.published_on else None,
            "security_grade": self.security_grade,
            "related": list(self.related or []),
            "tags": list(self.tags or []),
            "steward": self.steward,
            "status": self.status,
            "lineage": self.lineage,
            "revision": self.revision,
            "fields": [f.to_dict() for f in self.fields],
        }


class ResourceField(Base):
    """One 信息项 of a resource, in ``position`` order: a Table Schema field plus an optional code scheme."""

    __tablename__ = "resource_field"
    __table_args__ = (UniqueConstraint("resource_id", "name", name="uq_resource_field_resource_id_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("data_resource.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20), default="string")
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    unique: Mapped[bool] = mapped_column(Boolean, default=False)
    code_scheme: Mapped[str | None] = mapped_column(String(64))
    constraints: Mapped[dict] = mapped_column(JSON, default=dict)
    description: Mapped[str | None] = mapped_column(Text)

    resource: Mapped[DataResource] = relationship(back_populates="fields")

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "type": self.type,
            "required": bool(self.required),
            "unique": bool(self.unique),
            "code_scheme": self.code_scheme,
            "constraints": dict(self.constraints or {}),
            "description": self.description,
        }


class ResourceRevision(Base):
    """Every saved version of a resource: number ``n`` (1, 2, …), when, who, and the full snapshot.

    Keyed by the resource's code, not its row, so the history outlives a delete and a re-created
    code continues the numbering.
    """

    __tablename__ = "resource_revision"
    __table_args__ = (UniqueConstraint("resource_code", "number", name="uq_resource_revision_code_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_code: Mapped[str] = mapped_column(String(64), index=True)
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(20))
    snapshot: Mapped[dict] = mapped_column(JSON)


class ResourceSearch(Base):
    """The text a resource is found by (names, summary, tags, field names and titles, pinyin initials).

    Lower-cased, one row per resource, rewritten on every save. The database indexes it: an FTS5
    trigram table ``resource_fts`` on SQLite (kept in step by triggers) and a pg_trgm GIN index on
    PostgreSQL, both created by migration 0003 (outside the models: see ``migrations.include_name``).
    ``tags`` is ``|tag1|tag2|`` for exact tag filters.
    """

    __tablename__ = "resource_search"

    resource_id: Mapped[int] = mapped_column(
        ForeignKey("data_resource.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    text: Mapped[str] = mapped_column(Text)
    tags: Mapped[str] = mapped_column(Text, default="")
    #: every distinct letter/character and pair of neighbouring ones, space-separated: 1–2 character
    #: queries (too short for trigrams) are exact token lookups in ``resource_fts_grams`` (SQLite FTS5,
    #: unicode61) or ``LIKE '% term %'`` on a pg_trgm GIN index of this column (PostgreSQL)
    grams: Mapped[str] = mapped_column(Text, default="")
    #: copies of what a text search filters, ranks, orders and counts facets by, so that a search reads
    #: this one table and never joins the wide resource rows
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32))
    share_type: Mapped[str] = mapped_column(String(20))
    security_grade: Mapped[str] = mapped_column(String(20))
    system: Mapped[str | None] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
