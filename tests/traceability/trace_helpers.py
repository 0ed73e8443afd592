"""Shared values of the traceability tests: the demo product's GTIN and code, and reading refusals."""

from __future__ import annotations

#: a valid GTIN-14 (check digit 3) and an assignable szgws-me code (热轧带肋钢筋, level 3)
GTIN = "09521234543213"
CODE = "40-10.10.20"


def codes(caught) -> dict[str, list[str]]:
    """``{field: [code, …]}`` of a refusal caught by ``pytest.raises``."""
    return {field: [p["code"] for p in found] for field, found in caught.value.errors.items()}
