"""The lineage page: the graph drawn as SVG (layered left to right), controls, exports."""

from __future__ import annotations


def uncatalogued(s) -> list | None:
    return None
