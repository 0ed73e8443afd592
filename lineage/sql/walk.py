"""Column lineage over a qualified query: which source fields feed each output column, and how.

A result entry is ``((table_name, column), (subtype, masking, description))``: ``subtype`` is a
DIRECT one (IDENTITY < TRANSFORMATION < AGGREGATION, the strongest on the path wins) or an
INDIRECT one (JOIN, FILTER, GROUP_BY, SORT, WINDOW, CONDITIONAL, the outermost wins).
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from lineage.sql.model import (
    CONDITIONAL,
    DESCRIPTION_MAX,
    DIRECT_RANK,
    FILTER,
    GROUP_BY,
    IDENTITY,
    JOIN,
    SORT,
    WINDOW,
    Naming,
)

_RANK = {s: i for i, s in enumerate(DIRECT_RANK)}
_IDENT = (IDENTITY, False, None)
#: functions whose result hides the value they read (hashing, masking, encryption)
MASKING = frozenset(
    "MD5 MD5DIGEST MD5NUMBERLOWER64 MD5NUMBERUPPER64 SHA SHA1 SHA2 SHA256 SHA512 SHA1DIGEST SHA2DIGEST "
    "STANDARDHASH STANDARD_HASH HASH HASHBYTES ORA_HASH CITYHASH64 FARMFINGERPRINT FARM_FINGERPRINT "
    "XXHASH64 XXHASH32 MURMUR3 MURMURHASH3_32 CRC32 SM3 SM4 SM4_ENCRYPT ENCRYPT ENCRYPTRAW AES_ENCRYPT "
    "ENCRYPTBYKEY ENCRYPTBYPASSPHRASE PGP_SYM_ENCRYPT DIGEST HMAC MASK MASK_HASH MASK_FIRST_N MASK_LAST_N "
    "MASK_SHOW_FIRST_N MASK_SHOW_LAST_N DBMS_CRYPTO.HASH DBMS_OBFUSCATION_TOOLKIT.MD5".split()
)
#: Oracle's pseudo-columns (LEVEL in CONNECT BY, ROWNUM…): not fields of any table
ORACLE_PSEUDO = frozenset(
    "LEVEL ROWNUM ROWID ORA_ROWSCN CONNECT_BY_ISLEAF CONNECT_BY_ISCYCLE SYSDATE SYSTIMESTAMP USER UID".split()
)
_CLAUSES = (("having", FILTER), ("qualify", FILTER), ("group", GROUP_BY), ("order", SORT))


def branches(scope: Scope) -> list[Scope]:
    """A set operation's two sides."""
    return scope.set_operation_scopes


def setop(scope: Scope) -> bool:
    """Whether the scope is a UNION/INTERSECT/EXCEPT (sqlglot's ``is_set_operation`` means "is a branch")."""
    return isinstance(scope.expression, exp.SetOperation)


def _function_name(node: exp.Expr) -> str:
    if isinstance(node, exp.Anonymous):
        return node.name.upper()
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Anonymous):
        return f"{node.this.name}.{node.expression.name}".upper()
    return type(node).__name__.upper()


def describe(node: exp.Expr, naming: Naming, one_source: bool) -> str:
    """The expression as SQL, in the case it is shown in, without what qualification added (the
    tables' stand-in parts, ``_col_0`` aliases, and column qualifiers when only one table is read)."""
    if one_source or node.find(exp.Query) is not None:
        node = node.transform(_unqualify, one_source)  # a copy
    # copy=False: generating an expression (not a statement) leaves it as it is, and copying
    # would cost more than the rest of the walk
    text = node.sql(dialect=naming.dialect, normalize=naming.upper, copy=False)
    return text if len(text) <= DESCRIPTION_MAX else text[: DESCRIPTION_MAX - 1] + "…"


def _unqualify(n: exp.Expr, one_source: bool = False) -> exp.Expr:
    if (
        one_source
        and isinstance(n, exp.Column)
        and n.args.get("table") is not None
        and not n.find_ancestor(exp.Query)
    ):
        n.set("table", None)
    elif isinstance(n, exp.Table):
        for key in ("catalog", "db"):
            part = n.args.get(key)
            if part is not None and part.name.lower() in (Naming.NO_CATALOG, Naming.NO_DB):
                n.set(key, None)
    elif isinstance(n, exp.Alias) and n.alias.lower().startswith("_col_"):
        return n.this
    return n


class Walk:
    """Resolves the output columns and clauses of one qualified query's scope tree."""

    def __init__(self, root: Scope, naming: Naming, known: dict[str, set[str]], oracle: bool):
        self.root = root
        self.naming = naming
        self.dialect = naming.dialect
        self.known = known
        self.pseudo = ORACLE_PSEUDO if oracle else frozenset()
        self.warnings: dict[str, None] = {}
        self._outputs: dict[tuple[int, int], list] = {}
        self._names: dict[int, str] = {}
        self._scope_of = {id(s.expression): s for s in root.traverse()}

    def warn(self, text: str) -> None:
        self.warnings[text] = None

    def table_name(self, table: exp.Table) -> str:
        name = self._names.get(id(table))
        if name is None:
            name = self._names[id(table)] = self.naming.table_name(table)
        return name

    # -- tables ---------------------------------------------------------------------------------
    def tables(self) -> list[str]:
        """Every physical table the query reads (CTE names are not tables)."""
        names = {}
        for scope in self._scope_of.values():
            for source in scope.sources.values():
                if isinstance(source, exp.Table) and isinstance(source.this, exp.Identifier):
                    name = self.table_name(source)
                    if name.lower() != "dual":  # Oracle's and MySQL's one-row stand-in
                        names[name] = None
        return list(names)

    def row_scopes(self, start: Scope) -> list[Scope]:
        """``start`` and the derived tables, CTEs and set-operation branches its rows come from."""
        seen, out, stack = set(), [], [start]
        while stack:
            scope = stack.pop()
            if id(scope) in seen:
                continue
            seen.add(id(scope))
            out.append(scope)
            stack.extend(branches(scope))
            if not setop(scope):
                stack.extend(s for _, s in scope.selected_sources.values() if isinstance(s, Scope))
        return out

    # -- outputs --------------------------------------------------------------------------------
    def output(self, scope: Scope, index: int) -> list:
        """The sources of output column ``index`` of ``scope``."""
        key = (id(scope), index)
        if key in self._outputs:
            return self._outputs[key]
        self._outputs[key] = []  # a recursive CTE reads itself: stop there
        if setop(scope):
            branches_ = branches(scope)
            result = [entry for branch in branches_ for entry in self.output(branch, index)]
        else:
            result = self._projection(scope, index)
        self._outputs[key] = result
        return result

    def _projection(self, scope: Scope, index: int) -> list:
        selects = scope.expression.selects
        if index >= len(selects):
            return []
        node = selects[index]
        node = node.this if isinstance(node, exp.Alias) else node
        if isinstance(node, exp.Star) or (isinstance(node, exp.Column) and isinstance(node.this, exp.Star)):
            return []
        result = self.expression(scope, node)
        if not isinstance(node, exp.Column) and result:
            text = describe(node, self.naming, len(scope.selected_sources) == 1)
            result = [(src, (t[0], t[1], text) if t[0] in _RANK else t) for src, t in result]
        return result

    def output_by_name(self, scope: Scope, name: str) -> list:
        names = scope.outer_columns or scope.expression.named_selects
        if name in names:
            return self.output(scope, names.index(name))
        if setop(scope):
            return []
        # an unexpanded star passes the column through from its one source
        for sel in scope.expression.selects:
            if isinstance(sel, exp.Star) and len(scope.selected_sources) == 1:
                return self.source_column(next(iter(scope.selected_sources.values()))[1], name)
            if isinstance(sel, exp.Column) and isinstance(sel.this, exp.Star) and sel.table in scope.sources:
                return self.source_column(scope.sources[sel.table], name)
        return []

    # -- columns --------------------------------------------------------------------------------
    def source_column(self, source, name: str) -> list:
        if isinstance(source, exp.Table):
            table = self.table_name(source)
            if table in self.known and name not in self.known[table]:
                self.warn(f"column {self.naming.show(name)} is not among the known columns of {table}")
            return [((table, name), _IDENT)]
        if isinstance(source, Scope):
            return self.output_by_name(source, name)
        return []

    def column(self, scope: Scope, col: exp.Column, clause: bool) -> list:
        name, table = col.name, col.table
        if isinstance(col.this, exp.Star):
            return []
        if table:
            lookup = scope
            while lookup is not None and table not in lookup.sources:
                lookup = lookup.parent
            if lookup is None:
                return []  # a struct field or an outer reference sqlglot could not place
            return self.source_column(lookup.sources[table], name)
        if name in self.pseudo:
            return []
        if clause and not setop(scope) and name in scope.expression.named_selects:
            return self.output(scope, scope.expression.named_selects.index(name))
        candidates = [src for _, src in scope.selected_sources.values()]
        if len(candidates) == 1:
            return self.source_column(candidates[0], name)
        if candidates:
            listed = ", ".join(sorted(self.naming.show(n) for n in scope.selected_sources))
            self.warn(
                f"column {self.naming.show(name)} could be in any of {listed}: give their schemas to place it"
            )
        return []

    # -- expressions ----------------------------------------------------------------------------
    def expression(self, scope: Scope, node: exp.Expr, indirect: str | None = None) -> list:
        """The sources of every column ``node`` reads, classified by where in ``node`` they sit."""
        out = []
        stack = [(node, indirect, 0, False)]
        while stack:
            n, ind, rank, mask = stack.pop()
            if isinstance(n, exp.Column):
                for src, t in self.column(scope, n, ind is not None):
                    out.append((src, _compose(ind, rank, mask, t)))
                continue
            inner = n.this if isinstance(n, exp.Subquery) else n
            sub = self._scope_of.get(id(inner)) if isinstance(inner, exp.Query) else None
            if sub is not None and sub is not scope:
                out.extend((src, _compose(ind, rank, mask, t)) for src, t in self._subquery(sub))
                continue
            if isinstance(n, exp.Window):
                stack.append((n.this, ind, rank, mask))
                for part in (*(n.args.get("partition_by") or ()), n.args.get("order")):
                    if part is not None:
                        stack.append((part, ind or WINDOW, rank, mask))
                continue
            if isinstance(n, (exp.Case, exp.If)):
                stack.extend(self._conditional(n, ind, max(rank, 1), mask))
                continue
            if isinstance(n, exp.Filter):  # SUM(x) FILTER (WHERE y)
                stack.append((n.this, ind, rank, mask))
                stack.append((n.expression, ind or FILTER, rank, mask))
                continue
            if not isinstance(n, (exp.Alias, exp.Paren)):
                rank = 2 if isinstance(n, exp.AggFunc) else max(rank, 1)
                mask = mask or (isinstance(n, (exp.Func, exp.Dot)) and _function_name(n) in MASKING)
            stack.extend((child, ind, rank, mask) for child in n.iter_expressions())
        return out

    def _ordinals(self, scope: Scope, clause: exp.Expr, subtype: str) -> list:
        """``GROUP BY 1`` / ``ORDER BY 2``: the projection at that position (when sqlglot left it)."""
        out = []
        for item in clause.expressions if _listed(clause) else ():
            n = _ordinal(item)
            if n is not None and 0 < n <= len(scope.expression.selects):
                out += [(src, (subtype, False, None)) for src, _ in self.output(scope, n - 1)]
        return out

    @staticmethod
    def _conditional(n: exp.Expr, ind, rank, mask) -> list:
        cond = ind or CONDITIONAL
        parts = []
        if isinstance(n, exp.If):
            parts.append((n.this, cond, rank, mask))
            for key in ("true", "false"):
                if n.args.get(key) is not None:
                    parts.append((n.args[key], ind, rank, mask))
            return parts
        if n.this is not None:  # CASE x WHEN …: x decides
            parts.append((n.this, cond, rank, mask))
        for when in n.args.get("ifs") or ():
            parts.append((when.this, cond, rank, mask))
            parts.append((when.args["true"], ind, rank, mask))
        if n.args.get("default") is not None:
            parts.append((n.args["default"], ind, rank, mask))
        return parts

    def _subquery(self, sub: Scope) -> list:
        """A scalar, IN or EXISTS subquery: its outputs, and (as INDIRECT) what shapes its rows."""
        outputs = [e for i in range(len(sub.expression.selects)) for e in self.output(sub, i)]
        return outputs + self.indirect(sub)

    # -- clauses --------------------------------------------------------------------------------
    def indirect(self, start: Scope) -> list:
        """Fields that decide which rows come out of ``start`` and its row sources (not which values)."""
        return [entry for scope in self.row_scopes(start) for entry in self._clauses(scope)]

    def _clauses(self, scope: Scope) -> list:
        query = scope.expression
        out = []
        if setop(scope):
            order = query.args.get("order")
            names = query.named_selects
            for col in order.find_all(exp.Column) if order else ():
                if col.name in names:
                    out += [
                        (src, (SORT, False, None)) for src, _ in self.output(scope, names.index(col.name))
                    ]
            return out
        for join in query.args.get("joins") or ():
            if join.args.get("on") is not None:
                out += self.expression(scope, join.args["on"], JOIN)
            for ident in join.args.get("using") or ():
                for _, source in scope.selected_sources.values():
                    out += [(src, (JOIN, False, None)) for src, _ in self.source_column(source, ident.name)]
        where = query.args.get("where")
        if where is not None:
            for part in where.this.flatten() if isinstance(where.this, exp.And) else [where.this]:
                out += self.expression(scope, part, JOIN if _joins_tables(part) else FILTER)
        for key, subtype in _CLAUSES:
            if query.args.get(key) is not None:
                out += self.expression(scope, query.args[key], subtype)
                out += self._ordinals(scope, query.args[key], subtype)
        connect = query.args.get("connect")
        if connect is not None:  # Oracle's hierarchy: START WITH picks rows, CONNECT BY joins them
            if connect.args.get("start") is not None:
                out += self.expression(scope, connect.args["start"], FILTER)
            out += self.expression(scope, connect.args["connect"], JOIN)
        return out


def _joins_tables(condition: exp.Expr) -> bool:
    """``a.id = b.a_id`` (Oracle: ``a.id = b.a_id(+)``) in a WHERE is an old-style join, not a filter."""
    if not isinstance(condition, exp.EQ):
        return False
    left, right = condition.this, condition.expression
    return (
        isinstance(left, exp.Column)
        and isinstance(right, exp.Column)
        and bool(left.table)
        and bool(right.table)
        and left.table != right.table
    )


def _listed(clause: exp.Expr) -> bool:
    return isinstance(clause, (exp.Group, exp.Order))


def _ordinal(node: exp.Expr) -> int | None:
    node = node.this if isinstance(node, exp.Ordered) else node
    if isinstance(node, exp.Literal) and node.is_int:
        return int(node.name)
    return None


def _compose(ind: str | None, rank: int, mask: bool, inner: tuple) -> tuple:
    """What an outer context makes of an inner path: an outer INDIRECT wins, else the stronger DIRECT."""
    if ind is not None:
        return (ind, False, None)
    sub = inner[0]
    if sub not in _RANK:
        return inner
    return (DIRECT_RANK[max(rank, _RANK[sub])], mask or inner[1], inner[2])
