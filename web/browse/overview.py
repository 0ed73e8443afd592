"""The overview page (``/``): what the registry holds, what changed lately, whether the audit chain is intact."""

from __future__ import annotations

import threading
import time

from flask import render_template

from catalog import organizations
from registry import audit
from web.browse import catalog_pages, codes, lineage_pages
from web.browse.pages import bp
from web.context import session

#: the overview re-checks the chain at most this often per head (the audit page's button always does)
CHAIN_CHECK_SECONDS = 30
_checked: dict[tuple[str, str | None], tuple[float, audit.VerifyResult]] = {}
_lock = threading.Lock()


def chain_state(s) -> audit.VerifyResult:
    """The chain's hashes re-computed (not the entities' state: that is the audit page's full check)."""
    key = (str(s.get_bind().url), audit.head(s))
    now = time.monotonic()
    with _lock:
        cached = _checked.get(key)
    if cached and now - cached[0] < CHAIN_CHECK_SECONDS:
        return cached[1]
    result = audit.verify(s, check_state=False)
    with _lock:
        if len(_checked) > 16:
            _checked.clear()
        _checked[key] = (now, result)
    return result


@bp.route("/")
def index():
    s = session()
    return render_template(
        "index.html",
        organizations=organizations.list_(s, per_page=1).total,
        catalog=catalog_pages.overview_counts(s),
        schemes=codes.overview_schemes(s),
        uncatalogued=lineage_pages.uncatalogued(s),
        chain=chain_state(s),
        recent=audit.list_entries(s, per_page=10, newest_first=True)[0],
        json_twin="/api/v1/health",
    )
