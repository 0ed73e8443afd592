"""One page of a query and its total, the shape every list endpoint returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

MAX_PER_PAGE = 1000


@dataclass
class Page:
    items: list[Any]
    total: int
    page: int
    per_page: int

    def envelope(self, dump) -> dict:
        return {
            "items": [dump(i) for i in self.items],
            "total": self.total,
            "page": self.page,
            "per_page": self.per_page,
        }


def paginate(session: Session, query: Select, page: int = 1, per_page: int = 50) -> Page:
    """Run ``query`` for one page (1-based) and count all its rows."""
    page = max(1, int(page))
    per_page = max(1, min(MAX_PER_PAGE, int(per_page)))
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    items = list(session.scalars(query.offset((page - 1) * per_page).limit(per_page)))
    return Page(items, total, page, per_page)
