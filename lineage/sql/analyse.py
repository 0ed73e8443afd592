"""``analyse``: the datasets and column edges of every statement in a SQL script, without a database."""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import build_scope
from sqlglot.schema import MappingSchema

from lineage.sql.model import (
    CONDITIONAL,
    DIRECT,
    DIRECT_RANK,
    INDIRECT,
    ColumnLineage,
    IndirectLineage,
    Naming,
    StatementLineage,
    Transformation,
)
from lineage.sql.parse import Parsed, resolve_dialect, split
from lineage.sql.statements import Plan, expand_lateral_aliases, unwrap, using_to_on
from lineage.sql.walk import Walk, branches, setop
from registry.errors import Invalid


def analyse(
    sql: str,
    *,
    dialect: str,
    namespace: str,
    default_schema: str | None = None,
    schema: dict | None = None,
) -> list[StatementLineage]:
    """The lineage of every statement in ``sql``, in order (``StatementLineage.as_dict()`` per statement).

    ``schema`` maps a table name as written (``"src.t"``) to its ordered columns (``{"id": "integer"}``
    or a list of names): with it ``SELECT *`` expands and unqualified columns find their table.
    An unparseable statement gets ``error`` and the others still analyse; whatever is only partly
    known is said in that statement's ``warnings``. Raises ``Invalid`` for an unknown dialect, a
    missing namespace or input without any statement."""
    sqlglot_dialect = resolve_dialect(dialect)
    if not namespace or not isinstance(namespace, str):
        raise Invalid("a namespace is needed to name the datasets", {"namespace": ["missing"]})
    if schema is not None and not isinstance(schema, Mapping):
        raise Invalid(
            "schema must map table names to their columns", {"schema": ["not a table → columns map"]}
        )
    naming = Naming(namespace, sqlglot_dialect, default_schema)
    catalog = Catalog(schema or {}, naming)
    results = []
    for index, parsed in enumerate(split(sql, sqlglot_dialect, dialect)):
        results.append(_statement(index, parsed, naming, catalog))
    return results


class Catalog:
    """The caller's table → columns map, looked up by names folded as the dialect compares them."""

    def __init__(self, schema: dict, naming: Naming):
        self.naming = naming
        self._raw = schema
        self._index: dict[str, object] | None = None

    def index(self) -> dict[str, object]:
        """Folded dotted name → columns, for keys not written as the ids show them. Plain keys fold
        as one string (a 20,000-table catalog takes milliseconds); only quoted keys are taken apart."""
        if self._index is None:
            fold = self.naming.fold_plain
            self._index = {fold(str(k)): v for k, v in self._raw.items()}
            for key in [k for k in self._raw if '"' in k or "`" in k or "[" in k]:
                self._index[".".join(self.naming.key_parts(key))] = self._raw[key]
        return self._index

    def columns(self, parts: tuple[str, ...]) -> dict[str, str] | None:
        """The folded columns (in order) of a table, or None when the caller did not give them."""
        if not self._raw or not parts:
            return None
        name, db = parts[-1], parts[-2] if len(parts) > 1 else (self.naming.default_db or "")
        candidates = [".".join(parts)] if len(parts) > 2 else []
        candidates += [f"{db}.{name}" if db else name]
        if db and db == (self.naming.default_db or ""):
            candidates.append(name)
        show = self.naming.show
        # the caller's keys are usually the names the ids show: look those up before folding every key
        shown = [".".join(show(p) for p in c.split(".")) for c in candidates]
        cols = next((self._raw[c] for c in shown if c in self._raw), None)
        if cols is None:
            index = self.index()
            cols = next((index[c] for c in candidates if c in index), None)
        if cols is None:
            return None
        if isinstance(cols, Mapping):
            items = cols.items()
        elif isinstance(cols, list | tuple):
            items = ((c, "") for c in cols)
        else:
            raise Invalid(
                f"schema: the columns of {shown[0]} must be a map or a list", {"schema": ["bad columns"]}
            )
        return {self.naming.fold(str(col)): str(kind or "UNKNOWN") for col, kind in items}

    def _full(self, parts: tuple[str, ...]) -> tuple[str, str, str]:
        if len(parts) >= 3:
            return tuple(parts[-3:])
        if len(parts) == 2:
            return ("", *parts)
        return ("", self.naming.default_db or "", parts[0])

    def subset(self, tables: list[exp.Table]) -> tuple[dict, dict[str, set[str]]]:
        """The nested schema sqlglot wants for these tables, and table name → known columns."""
        nested: dict = {}
        known: dict[str, set[str]] = {}
        no_cat, no_db = self.naming.fold(Naming.NO_CATALOG), self.naming.fold(Naming.NO_DB)
        for table in tables:
            parts = self.naming.table_parts(table, folded=False)
            cols = self.columns(parts)
            if cols is None:
                continue
            cat, db, name = self._full(parts)
            nested.setdefault(cat or no_cat, {}).setdefault(db or no_db, {})[name] = cols
            known[".".join(self.naming.show(p) for p in parts)] = set(cols)
        return nested, known


def _statement(index: int, parsed: Parsed, naming: Naming, catalog: Catalog) -> StatementLineage:
    result = StatementLineage(
        index=index, type="UNKNOWN", line=parsed.line, sql=parsed.sql, namespace=naming.namespace
    )
    if parsed.error:
        result.error = parsed.error
        return result
    tree = parsed.tree
    if (
        isinstance(tree, exp.Use)
        and isinstance(tree.this, exp.Table)
        and type(naming.dialect).__name__ != "TSQL"
    ):
        # MySQL's USE names the schema of later statements' unqualified tables (T-SQL's, a database)
        naming.default_db = naming.fold_ident(tree.this.this)
    try:
        plan = unwrap(
            tree, naming, lambda t: list(catalog.columns(naming.table_parts(t, folded=False)) or ())
        )
    except Exception as err:  # a shape sqlglot parsed but this code does not know: say so, go on
        result.warnings.append(f"not analysed: {_reason(err)}")
        return result
    result.type = plan.type
    result.warnings.extend(plan.warnings)
    target = naming.table_name(plan.target, folded=False) if plan.target is not None else None
    if target:
        result.outputs = [naming.dataset(target)]
    if plan.query is None:
        if plan.scan is not None:
            result.inputs = _scan_inputs(plan.scan, naming, exclude={target})
        return result
    try:
        _lineage(plan, target, parsed, naming, catalog, result)
    except Exception as err:  # sqlglot's optimizer or a shape not foreseen: keep the tables
        result.warnings.append(f"columns not worked out, only tables listed: {_reason(err)}")
        result.columns, result.indirect, result.fields = [], [], []
        result.inputs = _scan_inputs(parsed.tree, naming, {target})
    return result


def _reason(err: Exception) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return text if isinstance(err, SqlglotError) else f"{type(err).__name__}: {text}".rstrip(": ")


def _scan_inputs(tree: exp.Expr, naming: Naming, exclude: set) -> list[str]:
    """Every table named in ``tree`` but its CTEs: what is read when the columns cannot be worked out."""
    ctes = {naming.fold_ident(c.args["alias"].this) for c in tree.find_all(exp.CTE) if c.args.get("alias")}
    names = set()
    for table in tree.find_all(exp.Table):
        if isinstance(table.this, exp.Identifier) and not (
            not table.args.get("db") and naming.fold_ident(table.this) in ctes
        ):
            names.add(naming.table_name(table, folded=False))
    return [naming.dataset(n) for n in sorted(names - exclude)]


def _qualified(plan: Plan, naming: Naming, catalog: Catalog, parsed: Parsed, result: StatementLineage):
    """The plan (again, if it had to be re-read), its query qualified (columns to their tables, stars
    expanded where the schema allows), its scope tree and the known columns; None if sqlglot cannot."""
    nested, known = catalog.subset(list(plan.query.find_all(exp.Table)))
    # normalize=False: the names are folded already (and sqlglot's normalising copies every table it looks up)
    schema = MappingSchema(nested, dialect=naming.dialect, normalize=False)
    expand_lateral_aliases(plan.query, naming, known)
    options = dict(
        dialect=naming.dialect,
        schema=schema,
        db=naming.default_db or naming.fold(Naming.NO_DB),
        catalog=naming.fold(Naming.NO_CATALOG),
        validate_qualify_columns=False,
        quote_identifiers=False,
        identify=False,
    )
    try:
        query = qualify(plan.query, **options)
    except SqlglotError:
        query = None
    # sqlglot refuses what it cannot place without schemas (alias references, USING joins, an
    # unqualified column of a correlated subquery); each retry reads the statement afresh, since
    # qualify changed the tree in place, and asks less: the walk then places a column by the
    # innermost SELECT's one table, as SQL does
    for retry in ({"expand_alias_refs": False}, {"expand_alias_refs": False, "qualify_columns": False}):
        if query is not None:
            break
        plan = unwrap(
            naming.dialect.parse(parsed.sql)[0],
            naming,
            lambda t: list(known.get(naming.table_name(t, False), ())),
        )
        expand_lateral_aliases(plan.query, naming, known)
        using_to_on(plan.query)
        try:
            query = qualify(plan.query, **retry, **options)
        except SqlglotError as err:
            if "qualify_columns" in retry:
                result.warnings.append(f"columns not worked out, only tables listed: {err}")
                return plan, None, None, known
    return plan, query, build_scope(query), known


def _lineage(
    plan: Plan, target: str | None, parsed: Parsed, naming: Naming, catalog: Catalog, result
) -> None:
    plan, query, root, known = _qualified(plan, naming, catalog, parsed, result)
    exclude = {target} if plan.writes_in_place else set()
    if root is None:
        result.inputs = _scan_inputs(plan.query, naming, exclude)
        return
    walk = Walk(root, naming, known, oracle=type(naming.dialect).__name__ == "Oracle")
    tables = set(walk.tables())
    per_target: dict[str, list] = {}
    if target is not None:
        for name, slot, conditions in _targets(plan, query, target, catalog, naming, result):
            entries = per_target.setdefault(name, [])
            entries += walk.output(root, slot)
            for cond in conditions:
                entries += [(src, (CONDITIONAL, False, None)) for src, _ in walk.output(root, cond)]
        indirect = walk.indirect(root)
        if plan.writes_in_place and not any(
            src[0] == target and t[0] in DIRECT_RANK for entries in per_target.values() for src, t in entries
        ):
            # UPDATE/MERGE read their target only if an assigned value comes from it
            tables -= exclude
            per_target = {k: [e for e in v if e[0][0] != target] for k, v in per_target.items()}
            indirect = [e for e in indirect if e[0][0] != target]
        result.fields = [naming.field(target, name) for name in per_target]
        result.columns = _columns(per_target, target, naming)
        result.indirect = _indirect(indirect, naming)
        result.warnings.extend(_star_warnings(walk, naming, known))
        result.warnings.extend(walk.warnings)
    result.inputs = [naming.dataset(t) for t in sorted(tables)]


def _targets(plan: Plan, query: exp.Query, target: str, catalog: Catalog, naming: Naming, result) -> list:
    """(target column, value slot, condition slots) for every column the statement writes."""
    if plan.assignments is not None:
        return plan.assignments
    outputs = query.named_selects
    stop = next((i for i, s in enumerate(query.selects) if _is_star(s)), len(outputs))
    names = plan.names
    if names is None and plan.type == "INSERT":
        names = list(catalog.columns(naming.key_parts(target)) or ()) or None
        if names is None:
            result.warnings.append(
                f"INSERT into {target} without a column list: its columns are taken to be the SELECT's "
                "names (give its schema to map them by position)"
            )
    if names is not None and len(names) != len(outputs) and stop == len(outputs):
        result.warnings.append(f"{len(names)} target columns for {len(outputs)} selected: mapped by position")
    names = names if names is not None else outputs
    return [(names[i], i, []) for i in range(min(stop, len(names), len(outputs))) if names[i]]


def _is_star(node: exp.Expr) -> bool:
    return isinstance(node, exp.Star) or (isinstance(node, exp.Column) and isinstance(node.this, exp.Star))


def _star_warnings(walk: Walk, naming: Naming, known: dict) -> list[str]:
    out = []
    top, stack = set(), [walk.root]
    while stack:  # the scopes whose columns are the statement's outputs
        scope = stack.pop()
        top.add(id(scope))
        stack.extend(branches(scope) if setop(scope) else ())
    for scope in walk.row_scopes(walk.root):
        if setop(scope) or not any(_is_star(s) for s in scope.expression.selects):
            continue
        if id(scope) not in top and len(scope.selected_sources) == 1:
            continue  # a star over one source passes each column it is asked for straight through
        unknown = sorted(
            naming.table_name(src) if isinstance(src, exp.Table) else name
            for name, (_, src) in scope.selected_sources.items()
            if not isinstance(src, exp.Table) or naming.table_name(src) not in known
        )
        out.append(
            f"SELECT * over {', '.join(unknown) or 'its sources'}: their columns are unknown without their "
            "schema, so the column lineage is partial"
        )
    return out


def _columns(per_target: dict[str, list], target: str, naming: Naming) -> list[ColumnLineage]:
    out = []
    for name, entries in per_target.items():
        direct: dict[tuple, tuple] = {}
        groups: dict[Transformation, set[str]] = {}
        for src, (subtype, masking, description) in entries:
            if subtype not in DIRECT_RANK:
                groups.setdefault(Transformation(INDIRECT, subtype), set()).add(naming.field(*src))
                continue
            # several paths from one source: the strongest subtype (and its description), masking if any masks
            best = direct.get(src)
            if best is None or DIRECT_RANK.index(subtype) > DIRECT_RANK.index(best[0]):
                direct[src] = (subtype, masking or bool(best and best[1]), description)
            elif masking and not best[1]:
                direct[src] = (best[0], True, best[2])
        for src, (subtype, masking, description) in direct.items():
            groups.setdefault(Transformation(DIRECT, subtype, description, masking), set()).add(
                naming.field(*src)
            )
        field = naming.field(target, name)
        for trans in sorted(groups, key=Transformation.sort_key):
            out.append(ColumnLineage(field, tuple(sorted(groups[trans])), trans))
    return out


def _indirect(entries: list, naming: Naming) -> list[IndirectLineage]:
    groups: dict[str, set[str]] = {}
    for src, (subtype, _, _) in entries:
        groups.setdefault(subtype, set()).add(naming.field(*src))
    return [
        IndirectLineage(tuple(sorted(fields)), Transformation(INDIRECT, subtype))
        for subtype, fields in sorted(
            groups.items(), key=lambda kv: Transformation(INDIRECT, kv[0]).sort_key()
        )
    ]
