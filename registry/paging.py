"""Paging, in one place: the page arguments, the one clamp, and the ``Page`` every list returns.

Every list (API, browse page, CLI) is a ``Page``: ``{"items", "total", "page", "per_page"}`` once
dumped (``Page.envelope``). The arguments are read with ``PageArgsSchema`` (API) or ``clamp`` (plain
values), so the bounds live here only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

MAX_PER_PAGE = 1000
DEFAULT_PER_PAGE = 50
#: the highest page number anyone may ask for: its offset still fits the databases' 64-bit integers
MAX_PAGE = (2**63 - 1) // MAX_PER_PAGE


class PageArgsSchema(Schema):
    """``?page=&per_page=``: 1-based page, at most ``MAX_PER_PAGE`` items; every list's query schema extends it."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=DEFAULT_PER_PAGE, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class PageEnvelopeSchema(Schema):
    """The list envelope's counts (OpenAPI); a list's schema extends it with ``items`` and any extra."""

    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


def clamp(page: Any = 1, per_page: Any = DEFAULT_PER_PAGE) -> tuple[int, int]:
    """``(page, per_page)`` within bounds, from whatever a caller passed (None, strings, huge numbers)."""
    try:
        page = int(page or 1)
    except (TypeError, ValueError):
        page = 1
    try:
        per_page = int(per_page or DEFAULT_PER_PAGE)
    except (TypeError, ValueError):
        per_page = DEFAULT_PER_PAGE
    return max(1, min(MAX_PAGE, page)), max(1, min(MAX_PER_PAGE, per_page))


@dataclass
class Page:
    """One page of a list and the total count; ``extra`` holds list-specific additions (facets…)."""

    items: list[Any]
    total: int
    page: int
    per_page: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def envelope(self, dump: Callable[[Any], Any] | None = None) -> dict:
        """The contract's list shape (plus ``extra``), each item passed through ``dump`` if given."""
        return {
            "items": [dump(i) for i in self.items] if dump else list(self.items),
            "total": self.total,
            "page": self.page,
            "per_page": self.per_page,
            **self.extra,
        }


def paginate(
    session: Session, query: Select, page: Any = 1, per_page: Any = DEFAULT_PER_PAGE, *, scalars: bool = True
) -> Page:
    """Run ``query`` for one page (1-based) and count all its rows. ``scalars=False`` keeps whole rows."""
    page, per_page = clamp(page, per_page)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    bounded = query.offset((page - 1) * per_page).limit(per_page)
    items = list(session.scalars(bounded) if scalars else session.execute(bounded))
    return Page(items, total, page, per_page)


def page_of(items: list[Any], page: Any = 1, per_page: Any = DEFAULT_PER_PAGE) -> Page:
    """A ``Page`` cut from a list already in memory (graph queries, checks)."""
    page, per_page = clamp(page, per_page)
    start = (page - 1) * per_page
    return Page(items[start : start + per_page], len(items), page, per_page)
