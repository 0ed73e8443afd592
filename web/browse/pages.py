"""The overview page (``/``); other areas add their own modules."""

from flask import Blueprint, render_template
from sqlalchemy import func, select

from catalog.models import Organization
from registry import audit
from web.context import session

bp = Blueprint("browse", __name__)


@bp.route("/")
def index():
    s = session()
    return render_template(
        "index.html",
        organizations=s.scalar(select(func.count()).select_from(Organization)),
        audit_head=audit.head(s),
        recent=audit.list_entries(s, per_page=10, newest_first=True)[0],
    )
