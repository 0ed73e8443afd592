"""Catalog pages: search with facets (``/catalog``), a resource with fields, revisions and lineage."""

from __future__ import annotations


def overview_counts(s) -> dict | None:
    """Systems and resources, for the overview (None until the catalog service exists)."""
    return None
