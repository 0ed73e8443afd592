"""Unwrap each kind of statement into the query to analyse, its target table and its target columns.

INSERT…SELECT and CREATE VIEW/TABLE…AS analyse their query; UPDATE and MERGE become one SELECT of
their SET/INSERT expressions over the target joined to its sources (WHERE/ON kept), so one walk
serves every kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from lineage.sql.model import Naming

#: alias prefix of the projections a synthetic SELECT is made of (mapped back by position)
_SLOT = "_yima_"


@dataclass(slots=True)
class Plan:
    """What to analyse in one statement."""

    type: str
    target: exp.Table | None = None
    query: exp.Query | None = None
    #: target column names by position of the query's outputs (a column list); None: see ``analyse``
    names: list[str] | None = None
    #: UPDATE/MERGE: (target column, value projection, condition projections)
    assignments: list[tuple[str, int, list[int]]] | None = None
    #: UPDATE/MERGE read the target only through what they assign
    writes_in_place: bool = False
    #: a statement with no query whose tables are still read (DELETE … WHERE x IN (SELECT …))
    scan: exp.Expr | None = None
    warnings: list[str] = field(default_factory=list)


def unwrap(tree: exp.Expr, naming: Naming, target_columns) -> Plan:
    """The plan for one parsed statement; ``target_columns(table)`` gives a target's known columns."""
    if isinstance(tree, exp.Create):
        return _create(tree, naming)
    if isinstance(tree, exp.Insert):
        return _insert(tree, naming)
    if isinstance(tree, exp.Merge):
        return _merge(tree, naming, target_columns)
    if isinstance(tree, exp.Update):
        return _update(tree, naming)
    if isinstance(tree, exp.Delete):
        return Plan("DELETE", target=_table(tree.this), scan=tree)
    if isinstance(tree, exp.Query):
        into = tree.args.get("into")
        if into is not None and isinstance(into.this, exp.Table):
            tree.set("into", None)
            return Plan("SELECT INTO", target=into.this, query=tree)
        return Plan("SELECT", query=tree)
    if isinstance(tree, exp.Command):
        return Plan(
            str(tree.this).upper(), warnings=["not analysed: sqlglot reads this statement only as text"]
        )
    return Plan(tree.key.upper())


def _slot(node: exp.Expr, i: int) -> exp.Alias:
    # exp.alias_ would put the alias on a subquery itself; an Alias keeps the value apart
    return exp.Alias(this=node, alias=exp.to_identifier(f"{_SLOT}{i}"))


def _table(node: exp.Expr | None) -> exp.Table | None:
    if isinstance(node, exp.Schema):
        node = node.this
    return node if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier) else None


def _column_list(node: exp.Expr | None, naming: Naming) -> list[str] | None:
    if not isinstance(node, exp.Schema) or not node.expressions:
        return None
    out = []
    for item in node.expressions:
        ident = item.this if isinstance(item, (exp.ColumnDef, exp.Column)) else item
        out.append(naming.fold_ident(ident))
    return out


def _create(tree: exp.Create, naming: Naming) -> Plan:
    kind = str(tree.args.get("kind") or "").upper()
    props = tree.args.get("properties")
    if props is not None and any(isinstance(p, exp.MaterializedProperty) for p in props.expressions):
        kind = "MATERIALIZED " + kind
    query = tree.expression if isinstance(tree.expression, exp.Query) else None
    if query is None:
        return Plan(f"CREATE {kind}".strip())
    return Plan(
        f"CREATE {kind}", target=_table(tree.this), query=query, names=_column_list(tree.this, naming)
    )


def _insert(tree: exp.Insert, naming: Naming) -> Plan:
    query = tree.expression if isinstance(tree.expression, exp.Query) else None
    with_ = tree.args.get("with_")
    if query is not None and with_ is not None and query.args.get("with_") is None:
        query.set("with_", with_)  # WITH … INSERT INTO t SELECT … FROM cte
    return Plan("INSERT", target=_table(tree.this), query=query, names=_column_list(tree.this, naming))


def _move_joins(table: exp.Expr, joins: list) -> exp.Expr:
    """UPDATE keeps its joins on the table (``UPDATE t JOIN s``, ``FROM t JOIN s``); a SELECT keeps them apart."""
    joins.extend(table.args.get("joins") or ())
    table.set("joins", None)
    return table


def _assignments(items: list[exp.Expr]) -> list[tuple[exp.Column, exp.Expr]]:
    """``SET a = x`` pairs, ``SET (a, b) = (x, y)`` and ``SET (a, b) = (SELECT x, y …)`` taken apart."""
    pairs = []
    for eq in items:
        if not isinstance(eq, exp.EQ):
            continue
        if isinstance(eq.this, exp.Column):
            pairs.append((eq.this, eq.expression))
        elif isinstance(eq.this, exp.Tuple | exp.Paren):
            columns = eq.this.expressions if isinstance(eq.this, exp.Tuple) else [eq.this.this]
            value = eq.expression
            query = value.this if isinstance(value, exp.Subquery) else None
            for i, column in enumerate(columns):
                if isinstance(value, exp.Tuple) and i < len(value.expressions):
                    pairs.append((column, value.expressions[i]))
                elif isinstance(query, exp.Select) and i < len(query.expressions):
                    one = value.copy()  # the subquery keeping only the i-th value
                    one.this.set("expressions", [query.expressions[i].copy()])
                    pairs.append((column, one))
    return [(c, v) for c, v in pairs if isinstance(c, exp.Column)]


def _update(tree: exp.Update, naming: Naming) -> Plan:
    joins: list[exp.Join] = []
    target = _move_joins(tree.this, joins)
    projections, assignments = [], []
    for column, value in _assignments(tree.expressions):
        projections.append(_slot(value, len(projections)))
        assignments.append((naming.fold_ident(column.this), len(projections) - 1, []))
    select = exp.Select(expressions=projections)
    from_ = tree.args.get("from_")
    real = _table(target)
    if from_ is not None:
        sources = [_move_joins(from_.this, joins), *(j.this for j in joins)]
        # T-SQL's UPDATE x … FROM t AS x JOIN …: the target is named in FROM, maybe by its alias
        named = {
            naming.fold_ident(s.args.get("alias").this if s.args.get("alias") else s.this): s for s in sources
        }
        inner = (
            named.get(naming.fold_ident(real.this)) if real is not None and not real.args.get("db") else None
        )
        if inner is not None and isinstance(inner, exp.Table):
            real = inner
            select.set("from_", exp.From(this=from_.this))
        else:
            select.set("from_", exp.From(this=target))
            joins.insert(0, exp.Join(this=from_.this))
    else:
        select.set("from_", exp.From(this=target))
    select.set("joins", joins or None)
    if tree.args.get("where") is not None:
        select.set("where", tree.args["where"])
    if tree.args.get("with_") is not None:
        select.set("with_", tree.args["with_"])
    plan = Plan("UPDATE", target=_table(real), query=select, assignments=assignments, writes_in_place=True)
    return plan


def _merge(tree: exp.Merge, naming: Naming, target_columns) -> Plan:
    target = tree.this
    using = tree.args.get("using")
    select = exp.Select(expressions=[])
    select.set("from_", exp.From(this=target))
    select.set("joins", [exp.Join(this=using, on=tree.args.get("on"))])
    if tree.args.get("with_") is not None:
        select.set("with_", tree.args["with_"])
    plan = Plan("MERGE", target=_table(target), query=select, assignments=[], writes_in_place=True)
    whens = tree.args.get("whens")
    for when in whens.expressions if whens is not None else ():
        _merge_when(when, plan, select, naming, target_columns)
    return plan


def _merge_when(when: exp.When, plan: Plan, select: exp.Select, naming: Naming, target_columns) -> None:
    then = when.args.get("then")
    conditions = [when.args.get("condition")]
    pairs: list[tuple[str, exp.Expr]] = []
    if isinstance(then, exp.Update):
        conditions.append(then.args.get("where").this if then.args.get("where") is not None else None)
        pairs = [
            (naming.fold_ident(eq.this.this), eq.expression)
            for eq in then.expressions
            if isinstance(eq, exp.EQ) and isinstance(eq.this, exp.Column)
        ]
    elif isinstance(then, exp.Insert) and isinstance(then.expression, exp.Tuple):
        values = then.expression.expressions
        if isinstance(then.this, exp.Tuple):
            names = [
                naming.fold_ident(c.this if isinstance(c, exp.Column) else c) for c in then.this.expressions
            ]
        else:
            names = target_columns(plan.target) or []
            if not names:
                plan.warnings.append(
                    "MERGE … INSERT without a column list: give the target's schema to map its VALUES"
                )
        pairs = list(zip(names, values, strict=False))
    slots = select.expressions

    def slot(node: exp.Expr) -> int:
        slots.append(_slot(node, len(slots)))
        return len(slots) - 1

    cond_slots = [slot(c) for c in conditions if c is not None]
    for name, value in pairs:
        plan.assignments.append((name, slot(value), cond_slots))
    select.set("expressions", slots)


def expand_lateral_aliases(query: exp.Query, naming: Naming, known: dict[str, set[str]]) -> None:
    """``SELECT a * 2 AS b, b + 1 AS c``: a column naming an alias made earlier in the same SELECT,
    and no column of its tables, reads that alias's expression (done before qualification, which
    would otherwise take ``b`` for a column of the one table)."""
    for select in list(query.find_all(exp.Select)):
        projections = select.expressions
        if len(projections) < 2:
            continue
        aliases: dict[str, exp.Expr] = {}
        for proj in projections:
            if aliases:
                for col in list(proj.find_all(exp.Column)):
                    if col.args.get("table") is not None or not isinstance(col.this, exp.Identifier):
                        continue
                    name = naming.fold_ident(col.this)
                    if (
                        name in aliases
                        and col.find_ancestor(exp.Select) is select
                        and not _source_has(select, name, naming, known)
                    ):
                        col.replace(exp.paren(aliases[name].copy()))
            if isinstance(proj, exp.Alias):
                aliases[naming.fold_ident(proj.args["alias"])] = proj.this


def _source_has(select: exp.Select, name: str, naming: Naming, known: dict[str, set[str]]) -> bool:
    """Whether one of the SELECT's sources is known to have a column ``name``."""
    from_ = select.args.get("from_")
    sources = ([from_.this] if from_ is not None else []) + [j.this for j in select.args.get("joins") or ()]
    for source in sources:
        if isinstance(source, exp.Table) and name in known.get(naming.table_name(source, folded=False), ()):
            return True
        if isinstance(source, exp.Subquery) and isinstance(source.this, exp.Query):
            if name in {naming.fold(n) for n in source.this.named_selects}:
                return True
    return False


def using_to_on(query: exp.Query) -> None:
    """``JOIN z USING (id)`` as ``JOIN z ON f.id = z.id`` with ``f`` the FROM table: a guess, made only
    when sqlglot cannot tell without schemas which earlier table holds ``id``."""
    for select in list(query.find_all(exp.Select)):
        from_ = select.args.get("from_")
        if from_ is None or not from_.this.alias_or_name:
            continue
        left = from_.this.alias_or_name
        for join in select.args.get("joins") or ():
            using = join.args.get("using")
            if not using or not join.this.alias_or_name:
                continue
            right = join.this.alias_or_name
            pairs = [exp.column(i.name, left).eq(exp.column(i.name, right)) for i in using]
            join.set("using", None)
            join.set("on", exp.and_(*pairs))
