"""Lineage from SQL: ``analyse(sql, dialect=…, namespace=…)`` → per-statement datasets and column edges."""

from lineage.sql.analyse import analyse
from lineage.sql.model import ColumnLineage, IndirectLineage, StatementLineage, Transformation
from lineage.sql.parse import DIALECT_ALIASES, dialect_choices, resolve_dialect

__all__ = [
    "DIALECT_ALIASES",
    "ColumnLineage",
    "IndirectLineage",
    "StatementLineage",
    "Transformation",
    "analyse",
    "dialect_choices",
    "resolve_dialect",
]
