"""What SQL lineage returns: per-statement results, column edges, transformations, and node ids."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect, NormalizationStrategy

DIRECT, INDIRECT = "DIRECT", "INDIRECT"
IDENTITY, TRANSFORMATION, AGGREGATION = "IDENTITY", "TRANSFORMATION", "AGGREGATION"
#: DIRECT subtypes by strength: a path through an aggregate is an aggregation, whatever else it passed
DIRECT_RANK = (IDENTITY, TRANSFORMATION, AGGREGATION)
JOIN, FILTER, GROUP_BY, SORT, WINDOW, CONDITIONAL = (
    "JOIN",
    "FILTER",
    "GROUP_BY",
    "SORT",
    "WINDOW",
    "CONDITIONAL",
)
#: the order in which a column's edges are listed (DIRECT first, as OpenLineage's examples do)
_ORDER = {s: i for i, s in enumerate((*DIRECT_RANK, JOIN, FILTER, GROUP_BY, SORT, WINDOW, CONDITIONAL))}
DESCRIPTION_MAX = 200
COLUMN_LINEAGE_SCHEMA = (
    "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet"
)
#: folded and shown names per dialect, shared by every call (names repeat across scripts)
_FOLDED: dict[str, dict[tuple[str, bool], str]] = {}
_SHOWN: dict[str, dict[str, str]] = {}
_CACHE_MAX = 200_000


@dataclass(frozen=True, slots=True)
class Transformation:
    """OpenLineage 1-2-0 column-lineage transformation (``type``, ``subtype``, ``description``, ``masking``)."""

    type: str
    subtype: str
    description: str | None = None
    masking: bool = False

    def as_dict(self) -> dict:
        return {
            "type": self.type,
            "subtype": self.subtype,
            "description": self.description,
            "masking": self.masking,
        }

    def sort_key(self) -> tuple:
        return (_ORDER[self.subtype], self.description or "", self.masking)


@dataclass(frozen=True, slots=True)
class ColumnLineage:
    """One output field fed by ``sources`` through one transformation."""

    target: str
    sources: tuple[str, ...]
    transformation: Transformation

    def as_dict(self) -> dict:
        return {
            "target": self.target,
            "sources": list(self.sources),
            "transformation": self.transformation.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class IndirectLineage:
    """Fields that shape every output row (joins, filters, grouping, sorting), listed once per statement."""

    sources: tuple[str, ...]
    transformation: Transformation

    def as_dict(self) -> dict:
        return {"sources": list(self.sources), "transformation": self.transformation.as_dict()}


@dataclass(slots=True)
class StatementLineage:
    """The lineage of one statement; ``as_dict()`` is the contract's statement shape plus extra fields."""

    index: int
    type: str
    line: int
    sql: str
    namespace: str = ""
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    #: the output's fields the statement writes, in order (a constant column has no edge but is here)
    fields: list[str] = field(default_factory=list)
    columns: list[ColumnLineage] = field(default_factory=list)
    indirect: list[IndirectLineage] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "index": self.index,
            "type": self.type,
            "line": self.line,
            "sql": self.sql,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "fields": list(self.fields),
            "columns": [c.as_dict() for c in self.columns],
            "indirect": [c.as_dict() for c in self.indirect],
            "error": self.error,
            "warnings": list(self.warnings),
        }

    def column_lineage_facet(self, producer: str) -> dict | None:
        """The output's OpenLineage 1-2-0 ``columnLineage`` facet (statement-wide sources in
        ``dataset``, once), or None when the statement writes no dataset."""
        if not self.outputs:
            return None
        fields: dict[str, dict[str, dict]] = {}
        for col in self.columns:
            by_source = fields.setdefault(self._split(col.target)[1], {})
            for src in col.sources:
                self._input_field(by_source, src, col.transformation)
        dataset: dict[str, dict] = {}
        for entry in self.indirect:
            for src in entry.sources:
                self._input_field(dataset, src, entry.transformation)
        return {
            "_producer": producer,
            "_schemaURL": COLUMN_LINEAGE_SCHEMA,
            "fields": {name: {"inputFields": list(by_source.values())} for name, by_source in fields.items()},
            "dataset": list(dataset.values()),
        }

    def _split(self, field_id: str) -> tuple[str, str]:
        """(dataset name, field) of one of this statement's field ids (the namespace may hold colons)."""
        rest = field_id[len(f"datasetField:{self.namespace}:") :]
        name, _, column = rest.rpartition(":")
        return name, column

    def _input_field(self, into: dict[str, dict], field_id: str, trans: Transformation) -> None:
        """One input field per source, carrying every way it is read."""
        entry = into.get(field_id)
        if entry is None:
            name, column = self._split(field_id)
            entry = into[field_id] = {
                "namespace": self.namespace,
                "name": name,
                "field": column,
                "transformations": [],
            }
        entry["transformations"].append({k: v for k, v in trans.as_dict().items() if v is not None})


class Naming:
    """Turns the qualified AST's identifiers into node ids for one namespace and dialect.

    Identifiers are compared as the dialect folds them, then shown in lower case where the dialect
    folds to upper case (Oracle, Snowflake): ``SRC.T`` and ``src.t`` are one table, written
    ``src.t``; a quoted mixed-case name keeps its case."""

    #: stand-ins for a missing schema/catalog so every table has three parts during qualification
    NO_DB, NO_CATALOG = "_yima_nodb_", "_yima_nocat_"

    def __init__(self, namespace: str, dialect: Dialect, default_schema: str | None):
        self.namespace = namespace
        self.dialect = dialect
        self.upper = dialect.normalization_strategy in (
            NormalizationStrategy.UPPERCASE,
            NormalizationStrategy.CASE_INSENSITIVE_UPPERCASE,
        )
        kind = type(dialect).__name__
        self._folded = _FOLDED.setdefault(kind, {})
        self._shown = _SHOWN.setdefault(kind, {})
        if len(self._folded) > _CACHE_MAX or len(self._shown) > _CACHE_MAX:
            self._folded.clear()
            self._shown.clear()
        # how this dialect folds a plain (unquoted) name, applied to a whole dotted key at once
        probe = self.fold("aB")
        self.fold_plain = str.lower if probe == "ab" else str.upper if probe == "AB" else str
        self.default_db = self.fold(default_schema) if default_schema else None

    def fold(self, name: str, quoted: bool = False) -> str:
        """The name as the dialect compares it (what qualification leaves in the AST)."""
        key = (name, quoted)
        folded = self._folded.get(key)
        if folded is None:
            folded = self.dialect.normalize_identifier(exp.Identifier(this=name, quoted=quoted)).name
            self._folded[key] = folded
        return folded

    def fold_ident(self, ident: exp.Expr | None) -> str:
        if not isinstance(ident, exp.Identifier):
            return ident.name if ident is not None else ""
        return self.fold(ident.name, ident.quoted)

    def key_parts(self, key: str) -> tuple[str, ...]:
        """Folded parts of a table name as a person wrote it (``src.t``, ``"Src"."T"``)."""
        if not any(q in key for q in '"`['):
            return tuple(self.fold(p.strip()) for p in key.split("."))
        table = exp.to_table(key, dialect=self.dialect)
        args = table.args
        return tuple(
            self.fold_ident(args.get(k)) for k in ("catalog", "db", "this") if args.get(k) is not None
        )

    def show(self, name: str) -> str:
        shown = self._shown.get(name)
        if shown is None:
            shown = name.lower() if self.upper and name == name.upper() else name
            self._shown[name] = shown
        return shown

    def table_parts(self, table: exp.Table, folded: bool = True) -> tuple[str, ...]:
        """(catalog, db, name) of a table as the dialect folds them, stand-ins removed, the default
        schema applied; ``folded=False`` for a table outside the qualified query (a target)."""
        args = table.args
        if folded:
            parts = [table.text("catalog"), table.text("db"), table.name]
        else:
            parts = [
                self.fold_ident(args.get("catalog")),
                self.fold_ident(args.get("db")),
                self.fold_ident(args.get("this")),
            ]
        parts = [p for p in parts if p and p.lower() not in (self.NO_DB, self.NO_CATALOG)]
        if len(parts) == 1 and self.default_db:
            parts.insert(0, self.default_db)
        return tuple(parts)

    def table_name(self, table: exp.Table, folded: bool = True) -> str:
        return ".".join(self.show(p) for p in self.table_parts(table, folded))

    def dataset(self, name: str) -> str:
        return f"dataset:{self.namespace}:{name}"

    def field(self, table_name: str, column: str) -> str:
        return f"datasetField:{self.namespace}:{table_name}:{self.show(column)}"
