"""QR labels: an item's Digital Link URI under a base (``YIMA_DIGITAL_LINK_BASE``, else this server) as a QR code.

segno (ISO/IEC 18004, pure Python) picks version and mask deterministically, so the same URI always gives
the same bytes: a label printed today and one printed next year are identical. Error correction is at least
M (15 % of the symbol may be damaged); segno raises it when that fits in the same size.
"""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import segno

from traceability import gs1

SCALE = 4


def check_base(base: str) -> str:
    """``base`` without a trailing slash, if it is an ``http(s)://host[/prefix]`` URL. Raises ValueError."""
    split = urlsplit(base or "")
    if split.scheme not in ("http", "https") or not split.hostname or split.query or split.fragment:
        raise ValueError(f"a Digital Link base is https://host[/prefix], not {base!r}")
    return base.rstrip("/")


def digital_link(key: str, base: str) -> str:
    """The Digital Link URI of an item key (or ``01/{gtin}`` of a product) under ``base``, in canonical form.

    Raises GS1Invalid (not a key), ValueError (not a base URL).
    """
    return gs1.parse_key(key).uri(check_base(base))


def _qr(uri: str) -> segno.QRCode:
    return segno.make(uri, error="m")


def svg(uri: str, *, scale: int = SCALE, omitsize: bool = False) -> bytes:
    """The QR code of ``uri`` as SVG (no XML declaration, ready to inline in HTML): same URI, same bytes.

    ``omitsize`` writes a ``viewBox`` instead of ``width``/``height``, so CSS sizes it (label sheets)."""
    out = io.BytesIO()
    _qr(uri).save(out, kind="svg", scale=scale, xmldecl=False, omitsize=omitsize)
    return out.getvalue()


def png(uri: str, *, scale: int = SCALE) -> bytes:
    """The QR code of ``uri`` as a PNG (for systems that cannot take SVG)."""
    out = io.BytesIO()
    _qr(uri).save(out, kind="png", scale=scale)
    return out.getvalue()


def item_svg(key: str, base: str, *, scale: int = SCALE) -> bytes:
    """The label QR of an item: ``svg(digital_link(key, base))``."""
    return svg(digital_link(key, base), scale=scale)
