"""Tables of the code registry: schemes (mirrors of their definition files), releases, codes and crosswalks."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import Base, utcnow

RELEASE_STATUSES = ("draft", "published")
CODE_STATUSES = ("active", "deprecated")
CROSSWALK_RELATIONS = ("exact", "broader", "narrower", "related", "successor")
#: the columns that are a code's value, in this order: what a release's digest covers and an import compares
CODE_COLUMNS = (
    "code",
    "parent",
    "level",
    "name",
    "name_en",
    "unit",
    "status",
    "successor",
    "attributes",
    "description",
)


class CodeScheme(Base):
    """The database row of a declared scheme, created when its first release is; the definition stays in its file."""

    __tablename__ = "code_scheme"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Release(Base):
    """A version of a scheme's code list: draft, then published. ``version`` grows on every change (cache key)."""

    __tablename__ = "code_release"
    __table_args__ = (UniqueConstraint("scheme_id", "release", name="uq_code_release_scheme_id_release"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("code_scheme.id", ondelete="CASCADE"), index=True)
    release: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    note: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    #: what the newest audited change to this release was (shown in its audit entry's ``after``)
    last_change: Mapped[dict | None] = mapped_column(JSON)


class Code(Base):
    """One code of a release. Written in bulk with Core (imports), read in bulk into the validation cache."""

    __tablename__ = "code"
    __table_args__ = (
        UniqueConstraint("release_id", "code", name="uq_code_release_id_code"),
        Index("ix_code_release_id_parent", "release_id", "parent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("code_release.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    parent: Mapped[str | None] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(500))
    name_en: Mapped[str | None] = mapped_column(String(500))
    unit: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="active")
    successor: Mapped[str | None] = mapped_column(String(64))
    #: pinyin initials of a Chinese name (钢筋 → gj), computed on import, for search
    pinyin: Mapped[str | None] = mapped_column(String(200))
    #: this code's own attribute template (a list of {name, type, ...}); children inherit it
    attributes: Mapped[list | None] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(Text)


class Crosswalk(Base):
    """A mapping from a code of one release to a code of another (or the same scheme's next release)."""

    __tablename__ = "code_crosswalk"
    __table_args__ = (
        UniqueConstraint(
            "from_release_id", "from_code", "to_release_id", "to_code", name="uq_code_crosswalk_pair"
        ),
        Index("ix_code_crosswalk_from", "from_release_id", "from_code"),
        Index("ix_code_crosswalk_to", "to_release_id", "to_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    from_release_id: Mapped[int] = mapped_column(ForeignKey("code_release.id", ondelete="CASCADE"))
    from_code: Mapped[str] = mapped_column(String(64))
    to_release_id: Mapped[int] = mapped_column(ForeignKey("code_release.id", ondelete="CASCADE"))
    to_code: Mapped[str] = mapped_column(String(64))
    relation: Mapped[str] = mapped_column(String(16), default="exact")
