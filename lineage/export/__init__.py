"""Lineage exports for audits: the file formats and the bundle (file, sha256, audit head, manifest)."""
