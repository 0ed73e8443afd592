"""Importing code tables: ``reader`` (CSV/XLSX files, header detection), ``checks`` (every row against the
scheme and each other) and ``writer`` (the checked rows into a release, all or nothing, one audit entry)."""
