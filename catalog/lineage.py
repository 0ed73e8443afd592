"""Lineage services: intake, graph, queries, exports (filled in by its issue)."""
