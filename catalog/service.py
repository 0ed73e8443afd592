"""Catalog services: systems, data resources, fields, revisions, search (filled in by its issue)."""
