"""The overview page (``/``): what the registry holds, what changed lately, whether the audit chain is intact,
and the latest signed checkpoint with the key that signs it."""

from __future__ import annotations

from flask import render_template

from catalog import organizations
from registry import audit, checkpoints
from registry.cache import VersionedCache
from registry.signed_note import SigningKeyError, signer_for
from web.browse import catalog_pages, codes, lineage_pages
from web.browse.pages import bp
from web.context import config, db, session

#: the overview re-checks the chain at most this often per head (the audit page's button always does)
CHAIN_CHECK_SECONDS = 30
#: one entry per database, valid for one audit head and at most CHAIN_CHECK_SECONDS
_chain_checks: VersionedCache[audit.VerifyResult] = VersionedCache(size=16, ttl=CHAIN_CHECK_SECONDS)


def chain_state(s) -> audit.VerifyResult:
    """The chain's hashes re-computed (not the entities' state: that is the audit page's full check)."""
    return _chain_checks.get(str(s.get_bind().url), audit.head(s), lambda: audit.verify(s, check_state=False))


def latest_checkpoint() -> dict:
    """The checkpoint of the log as it stands (issued into the history if its size is new, like
    ``GET /api/v1/audit/checkpoint``), the signer, or why there is none (a bad key configuration)."""
    try:
        signer = signer_for(config())
    except SigningKeyError as exc:  # the rest of the overview still works; the message names no secret
        return {"error": exc.message}
    return {"issued": checkpoints.issue(db(), signer), "signer": signer}


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
        checkpoint=latest_checkpoint(),
        recent=audit.list_entries(s, per_page=10, newest_first=True).items,
        json_twin="/api/v1/health",
    )
