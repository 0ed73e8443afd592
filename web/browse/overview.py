"""The overview page (``/``): what the registry holds, what changed lately, whether the audit chain is intact."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import func, select

from catalog.models import Organization
from registry import audit
from web.browse import catalog_pages, codes, lineage_pages
from web.browse.pages import bp
from web.context import session


@bp.route("/")
def index():
    s = session()
    chain = audit.verify(s, check_state=False)
    return render_template(
        "index.html",
        organizations=s.scalar(select(func.count()).select_from(Organization)),
        catalog=catalog_pages.overview_counts(s),
        schemes=codes.overview_schemes(s),
        uncatalogued=lineage_pages.uncatalogued(s),
        chain=chain,
        recent=audit.list_entries(s, per_page=10, newest_first=True)[0],
        json_twin="/api/v1/health",
    )
