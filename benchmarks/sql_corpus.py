"""A deterministic corpus of view/ETL statements whose true column edges are known from construction.

Every output column is built from a template that records the source fields it reads and how
(IDENTITY, TRANSFORMATION, AGGREGATION, or per-column CONDITIONAL/WINDOW), so a parser's edges can
be scored without a human judging them. PostgreSQL syntax (the one dialect all three parsers read).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

SOURCES = 120
COLUMNS = ["id", "k1", "k2"] + [f"c{i:02d}" for i in range(1, 11)]
VALUE_COLUMNS = COLUMNS[3:]
#: output edges: (source "table.column", target "table.column", subtype)
Edge = tuple[str, str, str]
_RANK = {"IDENTITY": 0, "TRANSFORMATION": 1, "AGGREGATION": 2}


@dataclass
class Statement:
    sql: str
    kind: str
    inputs: set[str]
    output: str
    edges: set[Edge] = field(default_factory=set)


@dataclass
class Expr:
    """One projection: its SQL and the (field, subtype) it reads."""

    sql: str
    reads: list[tuple[str, str]]


def schema() -> dict[str, dict[str, str]]:
    """Every table's columns: the sources, and the targets the ETL statements write."""
    out = {
        f"ods.s{i:03d}": {c: ("integer" if c in ("id", "k1", "k2") else "numeric") for c in COLUMNS}
        for i in range(SOURCES)
    }
    for i in range(60):
        out[f"dw.f{i:03d}"] = {"id": "integer", **{f"t{j:02d}": "numeric" for j in range(1, 9)}}
    return out


class Corpus:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.views = 0

    # -- projections ----------------------------------------------------------------------------
    def value(self, alias: str, table: str, agg: bool) -> Expr:
        """A value expression over one or two columns of ``alias`` (= ``table``)."""
        rng = self.rng
        a, b = rng.sample(VALUE_COLUMNS, 2)
        fa, fb = f"{table}.{a}", f"{table}.{b}"
        pick = rng.randrange(9 if not agg else 6)
        if agg:
            return [
                Expr(f"SUM({alias}.{a})", [(fa, "AGGREGATION")]),
                Expr(f"COUNT(DISTINCT {alias}.{a})", [(fa, "AGGREGATION")]),
                Expr(f"MAX({alias}.{a} * 2)", [(fa, "AGGREGATION")]),
                Expr(f"AVG({alias}.{a} + {alias}.{b})", [(fa, "AGGREGATION"), (fb, "AGGREGATION")]),
                Expr(
                    f"SUM(CASE WHEN {alias}.{b} > 0 THEN {alias}.{a} ELSE 0 END)",
                    [(fa, "AGGREGATION"), (fb, "CONDITIONAL")],
                ),
                Expr(f"MIN({alias}.{a})", [(fa, "AGGREGATION")]),
            ][pick]
        return [
            Expr(f"{alias}.{a}", [(fa, "IDENTITY")]),
            Expr(f"{alias}.{a}", [(fa, "IDENTITY")]),
            Expr(f"{alias}.{a} + {alias}.{b}", [(fa, "TRANSFORMATION"), (fb, "TRANSFORMATION")]),
            Expr(f"ROUND({alias}.{a} * 1.1, 2)", [(fa, "TRANSFORMATION")]),
            Expr(f"COALESCE({alias}.{a}, {alias}.{b}, 0)", [(fa, "TRANSFORMATION"), (fb, "TRANSFORMATION")]),
            Expr(
                f"CASE WHEN {alias}.{b} > 10 THEN {alias}.{a} ELSE 0 END",
                [(fa, "TRANSFORMATION"), (fb, "CONDITIONAL")],
            ),
            Expr(f"CAST({alias}.{a} AS VARCHAR(20))", [(fa, "TRANSFORMATION")]),
            Expr(
                f"ROW_NUMBER() OVER (PARTITION BY {alias}.{a} ORDER BY {alias}.{b})",
                [(fa, "WINDOW"), (fb, "WINDOW")],
            ),
            Expr(f"UPPER(CAST({alias}.{a} AS TEXT))", [(fa, "TRANSFORMATION")]),
        ][pick]

    def joined(self, n: int) -> tuple[list[tuple[str, str]], str]:
        """``n`` distinct source tables with aliases, and the FROM … JOIN … clause."""
        tables = [f"ods.s{i:03d}" for i in self.rng.sample(range(SOURCES), n)]
        aliases = [f"t{i}" for i in range(n)]
        sql = f"FROM {tables[0]} {aliases[0]}"
        for i in range(1, n):
            key = self.rng.choice(["k1", "k2"])
            kind = self.rng.choice(["JOIN", "LEFT JOIN"])
            sql += f" {kind} {tables[i]} {aliases[i]} ON {aliases[i]}.id = {aliases[i - 1]}.{key}"
        return list(zip(aliases, tables, strict=True)), sql

    def projections(self, sources, count: int, agg: bool) -> list[Expr]:
        return [self.value(*self.rng.choice(sources), agg=agg) for _ in range(count)]

    # -- statements -----------------------------------------------------------------------------
    def view_group_by(self) -> Statement:
        sources, from_sql = self.joined(self.rng.choice([2, 2, 3]))
        keys = [self.value(*self.rng.choice(sources), agg=False) for _ in range(self.rng.choice([1, 2]))]
        keys = [Expr(k.sql, k.reads) for k in keys if " OVER " not in k.sql]
        if not keys:
            alias, table = sources[0]
            keys = [Expr(f"{alias}.k1", [(f"{table}.k1", "IDENTITY")])]
        measures = self.projections(sources, self.rng.randint(2, 5), agg=True)
        alias, table = sources[0]
        where = f" WHERE {alias}.c01 > {self.rng.randint(0, 99)}"
        group = ", ".join(k.sql for k in keys)
        return self._view(keys + measures, from_sql + where + f" GROUP BY {group}", sources, "view_group_by")

    def view_plain(self) -> Statement:
        sources, from_sql = self.joined(self.rng.choice([1, 2, 3]))
        if self.rng.random() < 0.2:  # SELECT t0.* — only a schema-aware parser can list its columns
            alias, table = sources[0]
            stars = [Expr(f"{alias}.{c}", [(f"{table}.{c}", "IDENTITY")]) for c in COLUMNS]
            extra = self.projections(sources, 2, agg=False)
            names = COLUMNS + [f"x{i}" for i in range(len(extra))]
            sql_select = f"{alias}.*, " + ", ".join(f"{e.sql} AS x{i}" for i, e in enumerate(extra))
            return self._finish_view(sql_select, stars + extra, names, from_sql, sources, "view_star")
        return self._view(
            self.projections(sources, self.rng.randint(3, 8), agg=False), from_sql, sources, "view_plain"
        )

    def view_cte(self) -> Statement:
        (alias, table), (alias2, table2) = [
            (f"t{i}", f"ods.s{n:03d}") for i, n in enumerate(self.rng.sample(range(SOURCES), 2))
        ]
        inner = self.projections([(alias, table)], self.rng.randint(2, 4), agg=False)
        inner = [e for e in inner if " OVER " not in e.sql] or [
            Expr(f"{alias}.c02", [(f"{table}.c02", "IDENTITY")])
        ]
        cte = ", ".join(f"{e.sql} AS m{i}" for i, e in enumerate(inner))
        outer, names = [], []
        for i, e in enumerate(inner):
            if self.rng.random() < 0.5:
                outer.append((f"x.m{i}", e.reads))
            else:
                outer.append((f"x.m{i} * 2", [(f, _stronger(s, "TRANSFORMATION")) for f, s in e.reads]))
            names.append(f"m{i}")
        other = self.value(alias2, table2, agg=False)
        self.views += 1
        target = f"rpt.v{self.views:04d}"
        select = (
            ", ".join(f"{s} AS {n}" for (s, _), n in zip(outer, names, strict=True)) + f", {other.sql} AS o"
        )
        sql = (
            f"CREATE VIEW {target} AS WITH x AS (SELECT {alias}.id, {cte} FROM {table} {alias} "
            f"WHERE {alias}.k1 > 0) SELECT {select} FROM x JOIN {table2} {alias2} ON {alias2}.id = x.id"
        )
        reads = [r for _, r in outer] + [other.reads]
        return self._statement(sql, "view_cte", {table, table2}, target, names + ["o"], reads)

    def view_union(self) -> Statement:
        (a, ta), (b, tb) = [
            (f"t{i}", f"ods.s{n:03d}") for i, n in enumerate(self.rng.sample(range(SOURCES), 2))
        ]
        n = self.rng.randint(2, 4)
        left = [self.value(a, ta, agg=False) for _ in range(n)]
        right = [self.value(b, tb, agg=False) for _ in range(n)]
        left = [e if " OVER " not in e.sql else Expr(f"{a}.c03", [(f"{ta}.c03", "IDENTITY")]) for e in left]
        right = [e if " OVER " not in e.sql else Expr(f"{b}.c04", [(f"{tb}.c04", "IDENTITY")]) for e in right]
        names = [f"u{i}" for i in range(n)]
        self.views += 1
        target = f"rpt.v{self.views:04d}"
        sql = (
            f"CREATE VIEW {target} AS SELECT {', '.join(f'{e.sql} AS {m}' for e, m in zip(left, names, strict=True))} "
            f"FROM {ta} {a} UNION ALL SELECT {', '.join(e.sql for e in right)} FROM {tb} {b}"
        )
        reads = [lr.reads + rr.reads for lr, rr in zip(left, right, strict=True)]
        return self._statement(sql, "view_union", {ta, tb}, target, names, reads)

    def insert_select(self) -> Statement:
        sources, from_sql = self.joined(self.rng.choice([1, 2, 3]))
        target = f"dw.f{self.rng.randrange(60):03d}"
        count = self.rng.randint(2, 8)
        exprs = self.projections(sources, count, agg=False)
        columns = self.rng.sample([f"t{j:02d}" for j in range(1, 9)], count)
        style = self.rng.random()
        alias, _ = sources[0]
        where = f" WHERE {alias}.k2 IS NOT NULL"
        if style < 0.4:  # a column list, the SELECT naming its values as the target does
            select = ", ".join(f"{e.sql} AS {c}" for e, c in zip(exprs, columns, strict=True))
            sql = f"INSERT INTO {target} ({', '.join(columns)}) SELECT {select} {from_sql}{where}"
        elif style < 0.8:  # a column list, the SELECT's own names differing
            select = ", ".join(f"{e.sql} AS v{i}" for i, e in enumerate(exprs))
            sql = f"INSERT INTO {target} ({', '.join(columns)}) SELECT {select} {from_sql}{where}"
        else:  # no column list: by position into every target column
            columns = ["id"] + [f"t{j:02d}" for j in range(1, 9)]
            exprs = [self.value(*sources[0], agg=False)] + self.projections(sources, 8, agg=False)
            select = ", ".join(f"{e.sql} AS v{i}" for i, e in enumerate(exprs))
            sql = f"INSERT INTO {target} SELECT {select} {from_sql}{where}"
        tables = {t for _, t in sources}
        return self._statement(sql, "insert_select", tables, target, columns, [e.reads for e in exprs])

    def merge(self) -> Statement:
        sources, from_sql = self.joined(self.rng.choice([1, 2]))
        target = f"dw.f{self.rng.randrange(60):03d}"
        count = self.rng.randint(2, 6)
        exprs = [e for e in self.projections(sources, count, agg=False) if " OVER " not in e.sql]
        exprs = exprs or [Expr(f"{sources[0][0]}.c05", [(f"{sources[0][1]}.c05", "IDENTITY")])]
        columns = self.rng.sample([f"t{j:02d}" for j in range(1, 9)], len(exprs))
        alias, table = sources[0]
        inner = f"SELECT {alias}.id AS id, " + ", ".join(f"{e.sql} AS s{i}" for i, e in enumerate(exprs))
        sets = ", ".join(f"{c} = s.s{i}" for i, c in enumerate(columns))
        values = ", ".join(f"s.s{i}" for i in range(len(columns)))
        sql = (
            f"MERGE INTO {target} AS d USING ({inner} {from_sql}) AS s ON (d.id = s.id) "
            f"WHEN MATCHED THEN UPDATE SET {sets} "
            f"WHEN NOT MATCHED THEN INSERT (id, {', '.join(columns)}) VALUES (s.id, {values})"
        )
        names = ["id", *columns]
        reads = [[(f"{table}.id", "IDENTITY")]] + [e.reads for e in exprs]
        return self._statement(sql, "merge", {t for _, t in sources}, target, names, reads)

    # -- assembly -------------------------------------------------------------------------------
    def _view(self, exprs: list[Expr], from_sql: str, sources, kind: str) -> Statement:
        names = [f"col{i}" for i in range(len(exprs))]
        select = ", ".join(f"{e.sql} AS {n}" for e, n in zip(exprs, names, strict=True))
        return self._finish_view(select, exprs, names, from_sql, sources, kind)

    def _finish_view(self, select: str, exprs, names, from_sql: str, sources, kind: str) -> Statement:
        self.views += 1
        target = f"rpt.v{self.views:04d}"
        sql = f"CREATE VIEW {target} AS SELECT {select} {from_sql}"
        return self._statement(sql, kind, {t for _, t in sources}, target, names, [e.reads for e in exprs])

    @staticmethod
    def _statement(sql, kind, inputs, target, names, reads) -> Statement:
        edges = {
            (src, f"{target}.{name}", sub) for name, rs in zip(names, reads, strict=True) for src, sub in rs
        }
        return Statement(sql, kind, set(inputs), target, edges)

    def generate(self, n: int) -> list[Statement]:
        makers = [self.view_group_by] * 7 + [self.view_plain] * 3 + [self.view_cte, self.view_union]
        makers += [self.insert_select] * 5 + [self.merge] * 4
        return [self.rng.choice(makers)() for _ in range(n)]


def _stronger(a: str, b: str) -> str:
    if a not in _RANK:
        return a
    return a if _RANK[a] >= _RANK[b] else b
