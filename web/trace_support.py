"""What the traceability API, the resolver and the pages share: the raw request path (item keys keep ``%2F``),
the Digital Link base, an item with its proofs, and a Digital Link given where a code is expected.

Why the raw path: WSGI decodes ``%2F`` in ``PATH_INFO``, so a lot ``2025/07`` (keyed ``10/2025%2F07``) would
split into two path segments. gunicorn passes the request line's target as ``RAW_URI``, werkzeug (its dev
server and test client) as ``REQUEST_URI`` and ``RAW_URI``; when neither is there the decoded path is used.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import request

from registry import checkpoints
from registry.errors import NotFound
from registry.signed_note import signer_for
from traceability import evidence, gs1, products
from traceability.gs1_problems import GS1Invalid
from traceability.models import PRODUCT_SCHEME
from web.context import config, db


def raw_path() -> str:
    """The request's path as the client sent it (percent-encoding kept), without the query string."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw:
        return request.path
    if "://" in raw.split("?", 1)[0]:  # an absolute-form request target
        raw = urlsplit(raw).path or "/"
    path = raw.split("?", 1)[0].split("#", 1)[0]
    root = request.script_root
    return path[len(root) :] if root and path.startswith(root) else path


def key_between(prefix: str, suffix: str = "") -> str:
    """The item key in the raw path between ``prefix`` (e.g. ``/api/v1/trace/items/``) and ``suffix``."""
    path = raw_path()
    if path.startswith(prefix):
        path = path[len(prefix) :]
    if suffix and path.endswith(suffix):
        path = path[: -len(suffix)]
    return path


def link_base() -> str:
    """YIMA_DIGITAL_LINK_BASE, else this server's own URL (what the labels' QR codes point at)."""
    return config().digital_link_base or request.host_url.rstrip("/")


def digital_link(key: str) -> str:
    return gs1.parse_key(key).uri(link_base())


def item_evidence(session, key: str) -> dict:
    """The item with its events, their proofs and the checkpoint; a checkpoint of a new size is kept."""
    found, issued = evidence.item_evidence(session, key, signer_for(config()))
    checkpoints.keep(db(), issued)
    found["link"] = digital_link(found["key"])
    return found


def looks_like_link(value) -> bool:
    """A value given where a code is expected that is a Digital Link (``http(s)://…/01/…``)."""
    return (
        isinstance(value, str)
        and value.strip().lower().startswith(("http://", "https://"))
        and "/01/" in value
    )


def resolve_link(session, value: str) -> tuple[str | None, dict]:
    """(the bureau code of the product a Digital Link names, what to add to its validation RESULT).

    The code is None when the link is not valid or its GTIN is not a registered product; the addition then
    carries the reason (``link_error``, in Chinese and English).
    """
    try:
        parsed = gs1.parse_link(value)
    except GS1Invalid as exc:
        problem = exc.problems[0][1]
        return None, {"link_error": problem.to_dict()}
    try:
        product = products.get(session, parsed.gtin)
    except NotFound as exc:  # not a registered product
        errors = exc.errors or {}
        found = next(iter(errors.values()), [{}])[0]
        return None, {"link_error": found, "gtin": parsed.gtin}
    return product.code, {
        "product": {"gtin": product.gtin, "name": product.name, "manufacturer": product.manufacturer},
        "item": parsed.key if parsed.is_item else None,
    }


def link_results(session, scheme: str, codes: list) -> tuple[list, dict[int, dict]]:
    """The batch with every Digital Link replaced by its product's code, and index → what to add to its RESULT.

    Only szgws-me (the scheme products carry) resolves links; in other schemes a link stays as given.
    """
    if scheme != PRODUCT_SCHEME:
        return codes, {}
    out, extra = list(codes), {}
    for i, value in enumerate(codes):
        if looks_like_link(value):
            code, added = resolve_link(session, value)
            extra[i] = {"link": value, **added}
            out[i] = code if code is not None else value
    return out, extra


def merge_link_result(result: dict, added: dict) -> dict:
    """A RESULT for a code resolved from a Digital Link: the link as ``input``, the product beside it; a link that
    named no registered product is invalid with the reason."""
    result = {**result, "input": added["link"], **{k: v for k, v in added.items() if k != "link"}}
    error = added.get("link_error")
    if error is not None:
        kind = "unknown" if str(error.get("code", "")).startswith("trace.") else "malformed"
        result.update(
            code=None,
            valid=False,
            status=kind,
            name=None,
            successor=None,
            errors=[
                {"type": kind, "message": error.get("message_en", ""), "message_zh": error.get("message_zh")}
            ],
        )
    return result
