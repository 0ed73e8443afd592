"""SQL lineage (``lineage.sql.analyse``): every statement kind in Oracle, MySQL, PostgreSQL and T-SQL
and the aliases for 达梦, 人大金仓, GBase and OceanBase, with exact node ids and column edges."""

from __future__ import annotations

import json

import pytest

from lineage.sql import DIALECT_ALIASES, analyse, dialect_choices
from registry.errors import Invalid
from tests.conftest import SHARED

NS = "ns"
FOUR = ["oracle", "mysql", "postgres", "tsql"]
ALIASES = ["dm", "dameng", "kingbase", "gbase", "oceanbase"]
EVERY = FOUR + ALIASES


def ds(name: str) -> str:
    return f"dataset:{NS}:{name}"


def fld(name: str) -> str:
    table, column = name.rsplit(".", 1)
    return f"datasetField:{NS}:{table}:{column}"


def one(sql: str, dialect: str = "postgres", **kw) -> dict:
    results = analyse(sql, dialect=dialect, namespace=NS, **kw)
    assert len(results) == 1, [r.as_dict() for r in results]
    return results[0].as_dict()


def edges(statement: dict) -> set[tuple[str, str, str]]:
    """(source, target, subtype) of every column edge, names shortened to ``table.column``."""
    short = lambda fid: ".".join(fid.split(":", 2)[2].rsplit(":", 1))  # noqa: E731
    return {
        (short(s), short(c["target"]), c["transformation"]["subtype"])
        for c in statement["columns"]
        for s in c["sources"]
    }


def direct(statement: dict) -> set[tuple[str, str]]:
    return {(s, t) for s, t, sub in edges(statement) if sub in ("IDENTITY", "TRANSFORMATION", "AGGREGATION")}


def indirect(statement: dict) -> dict[str, set[str]]:
    short = lambda fid: ".".join(fid.split(":", 2)[2].rsplit(":", 1))  # noqa: E731
    return {i["transformation"]["subtype"]: {short(s) for s in i["sources"]} for i in statement["indirect"]}


# -- the contract's example and the result's shape ------------------------------------------------


def test_conformance_example_exact_ids_and_shape():
    st = one("CREATE VIEW rpt.v AS SELECT id, amount * 2 AS twice FROM src.t", "postgres")
    assert st["index"] == 0 and st["type"] == "CREATE VIEW" and st["error"] is None
    assert st["inputs"] == ["dataset:ns:src.t"]
    assert st["outputs"] == ["dataset:ns:rpt.v"]
    assert st["columns"] == [
        {
            "target": "datasetField:ns:rpt.v:id",
            "sources": ["datasetField:ns:src.t:id"],
            "transformation": {
                "type": "DIRECT",
                "subtype": "IDENTITY",
                "description": None,
                "masking": False,
            },
        },
        {
            "target": "datasetField:ns:rpt.v:twice",
            "sources": ["datasetField:ns:src.t:amount"],
            "transformation": {
                "type": "DIRECT",
                "subtype": "TRANSFORMATION",
                "description": "amount * 2",
                "masking": False,
            },
        },
    ]
    assert st["indirect"] == [] and st["warnings"] == []
    assert {"index", "type", "inputs", "outputs", "columns", "error"} <= set(st)


# -- dialects ---------------------------------------------------------------------------------------


def test_dialect_aliases_read_as_their_base():
    assert DIALECT_ALIASES == {
        "dm": "oracle",
        "dameng": "oracle",
        "kingbase": "postgres",
        "gbase": "mysql",
        "oceanbase": "mysql",
    }
    assert {"oracle", "mysql", "postgres", "tsql", *ALIASES} <= set(dialect_choices())
    # Oracle folds unquoted names to upper case, as 达梦 does: both read the same way
    assert one("SELECT NAME FROM hr.EMP", "dm")["inputs"] == [ds("hr.emp")]


def test_unknown_dialect_is_a_clear_error_naming_the_choices():
    with pytest.raises(Invalid) as err:
        analyse("SELECT 1", dialect="db2z", namespace=NS)
    assert "db2z" in err.value.message and "oracle" in err.value.message and "kingbase" in err.value.message


@pytest.mark.parametrize("sql", ["", "   \n", "-- only a comment\n", ";;"])
def test_empty_input_is_a_clear_error(sql):
    with pytest.raises(Invalid) as err:
        analyse(sql, dialect="postgres", namespace=NS)
    assert "no SQL" in err.value.message


def test_missing_namespace_is_refused():
    with pytest.raises(Invalid):
        analyse("SELECT 1", dialect="postgres", namespace="")


# -- each statement kind in every dialect -----------------------------------------------------------

VIEW = """CREATE VIEW rpt.sales AS
SELECT o.region, c.name AS customer, SUM(o.amount) AS total, COUNT(*) AS n
FROM ods.orders o JOIN ods.customers c ON o.customer_id = c.id
WHERE o.status = 'PAID'
GROUP BY o.region, c.name"""


@pytest.mark.parametrize("dialect", EVERY)
def test_view_with_join_and_group_by(dialect):
    st = one(VIEW, dialect)
    assert st["type"] == "CREATE VIEW"
    assert st["inputs"] == [ds("ods.customers"), ds("ods.orders")]
    assert st["outputs"] == [ds("rpt.sales")]
    assert edges(st) == {
        ("ods.orders.region", "rpt.sales.region", "IDENTITY"),
        ("ods.customers.name", "rpt.sales.customer", "IDENTITY"),
        ("ods.orders.amount", "rpt.sales.total", "AGGREGATION"),
    }
    assert indirect(st) == {
        "JOIN": {"ods.orders.customer_id", "ods.customers.id"},
        "FILTER": {"ods.orders.status"},
        "GROUP_BY": {"ods.orders.region", "ods.customers.name"},
    }


@pytest.mark.parametrize("dialect", EVERY)
def test_insert_select_with_column_list(dialect):
    st = one(
        "INSERT INTO dw.fact (k, amt) SELECT s.id, s.qty * s.price FROM ods.sale s WHERE s.qty > 0", dialect
    )
    assert (st["type"], st["inputs"], st["outputs"]) == ("INSERT", [ds("ods.sale")], [ds("dw.fact")])
    assert edges(st) == {
        ("ods.sale.id", "dw.fact.k", "IDENTITY"),
        ("ods.sale.qty", "dw.fact.amt", "TRANSFORMATION"),
        ("ods.sale.price", "dw.fact.amt", "TRANSFORMATION"),
    }
    assert indirect(st) == {"FILTER": {"ods.sale.qty"}}
    assert st["warnings"] == []


@pytest.mark.parametrize("dialect", EVERY)
def test_create_table_as_select(dialect):
    sql = (
        "SELECT id, UPPER(name) AS name INTO dw.copy FROM ods.src"
        if dialect == "tsql"
        else "CREATE TABLE dw.copy AS SELECT id, UPPER(name) AS name FROM ods.src"
    )
    st = one(sql, dialect)
    assert st["type"] == ("SELECT INTO" if dialect == "tsql" else "CREATE TABLE")
    assert (st["inputs"], st["outputs"]) == ([ds("ods.src")], [ds("dw.copy")])
    assert edges(st) == {
        ("ods.src.id", "dw.copy.id", "IDENTITY"),
        ("ods.src.name", "dw.copy.name", "TRANSFORMATION"),
    }


@pytest.mark.parametrize("dialect", EVERY)
def test_create_view_with_column_list_maps_by_position(dialect):
    st = one("CREATE VIEW rpt.v (c1, c2) AS SELECT a, b + 1 FROM ods.t", dialect)
    assert st["outputs"] == [ds("rpt.v")]
    assert edges(st) == {("ods.t.a", "rpt.v.c1", "IDENTITY"), ("ods.t.b", "rpt.v.c2", "TRANSFORMATION")}


MERGE = """MERGE INTO dw.dim d
USING (SELECT id, name, flag FROM ods.stage) s ON (d.id = s.id)
WHEN MATCHED THEN UPDATE SET d.name = s.name, d.hits = d.hits + 1
WHEN NOT MATCHED THEN INSERT (id, name, hits) VALUES (s.id, s.name, 0)"""


@pytest.mark.parametrize("dialect", EVERY)
def test_merge_reads_using_and_the_target_it_updates_from(dialect):
    st = one(MERGE, dialect)
    assert st["type"] == "MERGE"
    assert st["outputs"] == [ds("dw.dim")]
    # d.hits = d.hits + 1 reads the target, so it is an input too
    assert st["inputs"] == [ds("dw.dim"), ds("ods.stage")]
    assert edges(st) == {
        ("ods.stage.name", "dw.dim.name", "IDENTITY"),
        ("dw.dim.hits", "dw.dim.hits", "TRANSFORMATION"),
        ("ods.stage.id", "dw.dim.id", "IDENTITY"),
    }
    assert indirect(st) == {"JOIN": {"dw.dim.id", "ods.stage.id"}}


@pytest.mark.parametrize("dialect", ["oracle", "tsql", "postgres", "dm"])
def test_merge_when_conditions_are_conditional_sources(dialect):
    cond = "WHERE s.flag = 1" if dialect in ("oracle", "dm") else ""
    guard = "" if cond else "AND s.flag = 1"
    sql = f"MERGE INTO dw.dim d USING ods.stage s ON (d.id = s.id) WHEN MATCHED {guard} THEN UPDATE SET name = s.name {cond}"
    st = one(sql, dialect)
    # the target supplies no value: it is written, not read
    assert st["inputs"] == [ds("ods.stage")]
    assert edges(st) == {
        ("ods.stage.name", "dw.dim.name", "IDENTITY"),
        ("ods.stage.flag", "dw.dim.name", "CONDITIONAL"),
    }
    assert indirect(st) == {"JOIN": {"ods.stage.id"}}


def test_merge_insert_without_column_list_uses_the_target_schema():
    sql = "MERGE INTO dw.dim d USING ods.stage s ON (d.id = s.id) WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.name)"
    with_schema = one(sql, "oracle", schema={"dw.dim": {"id": "number", "name": "varchar2"}})
    assert direct(with_schema) == {("ods.stage.id", "dw.dim.id"), ("ods.stage.name", "dw.dim.name")}
    without = one(sql, "oracle")
    assert without["columns"] == [] and any("column list" in w for w in without["warnings"])


UPDATES = {
    "oracle": "UPDATE dw.acct a SET a.balance = (SELECT SUM(t.amount) FROM ods.txn t WHERE t.acct_id = a.id) WHERE a.active = 1",
    "mysql": "UPDATE dw.acct a JOIN ods.txn t ON t.acct_id = a.id SET a.balance = t.amount WHERE a.active = 1",
    "postgres": "UPDATE dw.acct a SET balance = t.amount FROM ods.txn t WHERE t.acct_id = a.id AND a.active = 1",
    "tsql": "UPDATE a SET a.balance = t.amount FROM dw.acct AS a JOIN ods.txn t ON t.acct_id = a.id WHERE a.active = 1",
}


@pytest.mark.parametrize("dialect", EVERY)
def test_update_with_values_from_another_table(dialect):
    base = DIALECT_ALIASES.get(dialect, dialect)
    st = one(UPDATES[base], dialect)
    assert st["type"] == "UPDATE"
    assert (st["inputs"], st["outputs"]) == ([ds("ods.txn")], [ds("dw.acct")])
    subtype = "AGGREGATION" if base == "oracle" else "IDENTITY"
    assert ("ods.txn.amount", "dw.acct.balance", subtype) in edges(st)
    assert direct(st) == {("ods.txn.amount", "dw.acct.balance")}
    every_indirect = {s for s, _, sub in edges(st) if sub not in ("IDENTITY", "AGGREGATION")} | set().union(
        *indirect(st).values()
    )
    assert "ods.txn.acct_id" in every_indirect


@pytest.mark.parametrize("dialect", FOUR)
def test_update_reading_its_own_columns_has_the_target_as_input(dialect):
    st = one("UPDATE dw.acct SET balance = balance * 2, note = 'x' WHERE id = 7", dialect)
    assert st["inputs"] == st["outputs"] == [ds("dw.acct")]
    assert edges(st) == {("dw.acct.balance", "dw.acct.balance", "TRANSFORMATION")}
    assert indirect(st) == {"FILTER": {"dw.acct.id"}}


@pytest.mark.parametrize("dialect", EVERY)
def test_cte_names_are_never_inputs(dialect):
    sql = """INSERT INTO dw.top (region, total)
    WITH agg AS (SELECT region, SUM(amount) AS total FROM ods.orders GROUP BY region)
    SELECT region, total FROM agg WHERE total > 100"""
    if dialect in ("postgres", "kingbase", "tsql"):
        sql = """WITH agg AS (SELECT region, SUM(amount) AS total FROM ods.orders GROUP BY region)
        INSERT INTO dw.top (region, total) SELECT region, total FROM agg WHERE total > 100"""
    st = one(sql, dialect)
    assert st["inputs"] == [ds("ods.orders")]
    assert edges(st) == {
        ("ods.orders.region", "dw.top.region", "IDENTITY"),
        ("ods.orders.amount", "dw.top.total", "AGGREGATION"),
    }
    assert indirect(st) == {"FILTER": {"ods.orders.amount"}, "GROUP_BY": {"ods.orders.region"}}


@pytest.mark.parametrize("dialect", EVERY)
def test_union_feeds_each_output_from_every_branch(dialect):
    sql = "CREATE VIEW rpt.all_ids AS SELECT id, name FROM ods.a UNION ALL SELECT code, title FROM ods.b"
    st = one(sql, dialect)
    assert st["inputs"] == [ds("ods.a"), ds("ods.b")]
    assert direct(st) == {
        ("ods.a.id", "rpt.all_ids.id"),
        ("ods.b.code", "rpt.all_ids.id"),
        ("ods.a.name", "rpt.all_ids.name"),
        ("ods.b.title", "rpt.all_ids.name"),
    }


@pytest.mark.parametrize("dialect", EVERY)
def test_subqueries_derived_tables_and_scalar(dialect):
    sql = """CREATE VIEW rpt.v AS
    SELECT x.id, x.doubled, (SELECT MAX(p.price) FROM ods.price p WHERE p.item = x.id) AS top_price
    FROM (SELECT id, qty * 2 AS doubled, unused FROM ods.item WHERE qty > 0) x
    WHERE x.id IN (SELECT item FROM ods.stock WHERE onhand > 0)"""
    st = one(sql, dialect)
    assert st["inputs"] == [ds("ods.item"), ds("ods.price"), ds("ods.stock")]
    assert direct(st) == {
        ("ods.item.id", "rpt.v.id"),
        ("ods.item.qty", "rpt.v.doubled"),
        ("ods.price.price", "rpt.v.top_price"),
    }
    # the scalar subquery's correlation p.item = x.id joins it to the row: JOIN sources of that column
    assert {
        ("ods.price.item", "rpt.v.top_price", "JOIN"),
        ("ods.item.id", "rpt.v.top_price", "JOIN"),
    } <= edges(st)
    assert indirect(st)["FILTER"] == {"ods.item.qty", "ods.item.id", "ods.stock.item", "ods.stock.onhand"}


@pytest.mark.parametrize("dialect", EVERY)
def test_window_function_partition_and_order_are_window_sources(dialect):
    sql = """CREATE VIEW rpt.ranked AS
    SELECT emp_id, ROW_NUMBER() OVER (PARTITION BY dept ORDER BY salary DESC) AS rn,
           SUM(salary) OVER (PARTITION BY dept) AS dept_total
    FROM hr.emp"""
    st = one(sql, dialect)
    assert edges(st) == {
        ("hr.emp.emp_id", "rpt.ranked.emp_id", "IDENTITY"),
        ("hr.emp.dept", "rpt.ranked.rn", "WINDOW"),
        ("hr.emp.salary", "rpt.ranked.rn", "WINDOW"),
        ("hr.emp.salary", "rpt.ranked.dept_total", "AGGREGATION"),
        ("hr.emp.dept", "rpt.ranked.dept_total", "WINDOW"),
    }


@pytest.mark.parametrize("dialect", EVERY)
def test_case_conditions_are_conditional_sources(dialect):
    sql = "CREATE VIEW rpt.v AS SELECT CASE WHEN score >= 60 THEN grade ELSE fallback END AS result FROM ods.exam"
    st = one(sql, dialect)
    assert edges(st) == {
        ("ods.exam.grade", "rpt.v.result", "TRANSFORMATION"),
        ("ods.exam.fallback", "rpt.v.result", "TRANSFORMATION"),
        ("ods.exam.score", "rpt.v.result", "CONDITIONAL"),
    }


@pytest.mark.parametrize("dialect", EVERY)
def test_columns_computed_from_other_columns_of_the_same_select(dialect):
    st = one("INSERT INTO dw.x (b, c) SELECT a * 2 AS b, b + 1 AS c FROM ods.y", dialect)
    assert edges(st) == {("ods.y.a", "dw.x.b", "TRANSFORMATION"), ("ods.y.a", "dw.x.c", "TRANSFORMATION")}


def test_a_real_column_wins_over_an_earlier_alias_of_the_same_name():
    schema = {"ods.y": {"a": "int", "b": "int"}}
    st = one("CREATE VIEW v AS SELECT a * 2 AS b, b + 1 AS c FROM ods.y", "postgres", schema=schema)
    assert direct(st) == {("ods.y.a", "v.b"), ("ods.y.b", "v.c")}


@pytest.mark.parametrize("dialect", ["oracle", "dm", "dameng"])
def test_oracle_connect_by(dialect):
    sql = """CREATE OR REPLACE VIEW rpt.org_tree AS
    SELECT emp_id, LEVEL AS depth, SYS_CONNECT_BY_PATH(name, '/') AS path, ROWNUM AS rn
    FROM hr.emp START WITH manager_id IS NULL CONNECT BY PRIOR emp_id = manager_id"""
    st = one(sql, dialect)
    assert (st["inputs"], st["outputs"]) == ([ds("hr.emp")], [ds("rpt.org_tree")])
    # LEVEL and ROWNUM are Oracle's pseudo-columns, not fields of hr.emp
    assert edges(st) == {
        ("hr.emp.emp_id", "rpt.org_tree.emp_id", "IDENTITY"),
        ("hr.emp.name", "rpt.org_tree.path", "TRANSFORMATION"),
    }
    assert indirect(st) == {"JOIN": {"hr.emp.emp_id", "hr.emp.manager_id"}, "FILTER": {"hr.emp.manager_id"}}


@pytest.mark.parametrize("dialect", ["oracle", "dm"])
def test_where_equalities_between_tables_are_joins(dialect):
    sql = "CREATE VIEW v AS SELECT a.x, b.y FROM ods.a a, ods.b b WHERE a.id = b.id(+) AND a.k = 1"
    st = one(sql, dialect)
    assert indirect(st) == {"JOIN": {"ods.a.id", "ods.b.id"}, "FILTER": {"ods.a.k"}}


def test_masking_functions_are_flagged():
    sql = """CREATE VIEW rpt.masked AS SELECT MD5(id_card) AS h1, SHA2(phone, 256) AS h2,
    UPPER(name) AS plain FROM ods.person"""
    st = one(sql, "mysql")
    masking = {c["target"].rsplit(":", 1)[1]: c["transformation"]["masking"] for c in st["columns"]}
    assert masking == {"h1": True, "h2": True, "plain": False}
    tsql = one("SELECT HASHBYTES('SHA2_256', id_card) AS h INTO dw.m FROM ods.person", "tsql")
    assert tsql["columns"][0]["transformation"]["masking"] is True
    oracle = one("CREATE VIEW v AS SELECT STANDARD_HASH(id_card, 'SHA256') h FROM ods.person", "oracle")
    assert oracle["columns"][0]["transformation"]["masking"] is True


# -- SELECT * ---------------------------------------------------------------------------------------

SCHEMA = {"src.t": {"id": "integer", "amount": "number"}, "src.u": {"t_id": "integer", "label": "text"}}


@pytest.mark.parametrize("dialect", FOUR)
def test_select_star_expands_with_the_schema(dialect):
    st = one("CREATE VIEW rpt.v AS SELECT * FROM src.t", dialect, schema=SCHEMA)
    assert direct(st) == {("src.t.id", "rpt.v.id"), ("src.t.amount", "rpt.v.amount")}
    assert st["warnings"] == []
    joined = one(
        "CREATE VIEW rpt.w AS SELECT * FROM src.t JOIN src.u ON t.id = u.t_id", dialect, schema=SCHEMA
    )
    assert {t for _, t in direct(joined)} == {"rpt.w.id", "rpt.w.amount", "rpt.w.t_id", "rpt.w.label"}


@pytest.mark.parametrize("dialect", FOUR)
def test_select_star_without_schema_is_partial_and_says_so(dialect):
    st = one("CREATE VIEW rpt.v AS SELECT * FROM src.t", dialect)
    assert (st["inputs"], st["outputs"], st["columns"]) == ([ds("src.t")], [ds("rpt.v")], [])
    assert st["error"] is None
    assert any("SELECT *" in w and "src.t" in w and "partial" in w for w in st["warnings"])


def test_star_in_a_derived_table_passes_named_columns_through():
    st = one("CREATE VIEW v AS SELECT x.a FROM (SELECT * FROM src.t) x", "postgres")
    assert direct(st) == {("src.t.a", "v.a")}


def test_insert_without_column_list_maps_by_position_with_the_target_schema():
    schema = {"dw.x": {"first": "int", "second": "int"}}
    st = one("INSERT INTO dw.x SELECT a, b FROM ods.y", "mysql", schema=schema)
    assert direct(st) == {("ods.y.a", "dw.x.first"), ("ods.y.b", "dw.x.second")}
    guessed = one("INSERT INTO dw.x SELECT a, b FROM ods.y", "mysql")
    assert direct(guessed) == {("ods.y.a", "dw.x.a"), ("ods.y.b", "dw.x.b")}
    assert any("without a column list" in w for w in guessed["warnings"])


def test_schema_places_unqualified_columns_of_a_join():
    sql = "CREATE VIEW v AS SELECT amount, label FROM src.t JOIN src.u ON id = t_id"
    without = one(sql, "postgres")
    assert without["columns"] == [] and any("give their schemas" in w for w in without["warnings"])
    with_schema = one(sql, "postgres", schema=SCHEMA)
    assert direct(with_schema) == {("src.t.amount", "v.amount"), ("src.u.label", "v.label")}
    assert indirect(with_schema) == {"JOIN": {"src.t.id", "src.u.t_id"}}


# -- scripts ----------------------------------------------------------------------------------------


def test_a_broken_statement_among_good_ones():
    sql = """INSERT INTO dw.a (x) SELECT x FROM ods.s;
    SELEC nonsense FROM;
    CREATE VIEW rpt.b AS SELECT y FROM ods.s"""
    results = [r.as_dict() for r in analyse(sql, dialect="oracle", namespace=NS)]
    assert [r["index"] for r in results] == [0, 1, 2]
    assert [r["error"] is None for r in results] == [True, False, True]
    broken = results[1]
    assert broken["error"].startswith("cannot be parsed as oracle SQL") and "line 2" in broken["error"]
    assert "Traceback" not in broken["error"] and "\x1b" not in broken["error"]
    assert (broken["inputs"], broken["outputs"], broken["columns"]) == ([], [], [])
    assert results[0]["outputs"] == [ds("dw.a")] and results[2]["outputs"] == [ds("rpt.b")]
    assert [r["line"] for r in results] == [1, 2, 3]


def test_an_unterminated_string_spoils_only_its_statement():
    results = [
        r.as_dict()
        for r in analyse("SELECT 'oops FROM t; INSERT INTO a SELECT b FROM c", dialect="mysql", namespace=NS)
    ]
    assert results[0]["error"] and "unterminated" in results[0]["error"]
    # without a tokenizable script the cut is at every semicolon, so the rest is one more statement
    assert all(r["index"] == i for i, r in enumerate(results))


def test_tsql_go_and_sqlplus_slash_separate_statements():
    tsql = analyse(
        "INSERT INTO a (x) SELECT x FROM b\nGO\nINSERT INTO c (y) SELECT y FROM d\n",
        dialect="tsql",
        namespace=NS,
    )
    assert [r.outputs for r in tsql] == [[ds("a")], [ds("c")]]
    oracle = analyse(
        "INSERT INTO a (x) SELECT x FROM b\n/\nINSERT INTO c (y) SELECT x / 2 FROM d\n/\n",
        dialect="oracle",
        namespace=NS,
    )
    assert [r.outputs for r in oracle] == [[ds("a")], [ds("c")]]


def test_default_schema_and_use():
    st = one("INSERT INTO fact (k) SELECT id FROM stage", "postgres", default_schema="dw")
    assert (st["inputs"], st["outputs"]) == ([ds("dw.stage")], [ds("dw.fact")])
    assert edges(st) == {("dw.stage.id", "dw.fact.k", "IDENTITY")}
    results = analyse("USE ods; INSERT INTO dw.fact (k) SELECT id FROM stage", dialect="mysql", namespace=NS)
    assert results[1].inputs == [ds("ods.stage")]


def test_oracle_names_fold_to_one_node_whatever_their_case():
    a = one('INSERT INTO DW.FACT (K) SELECT "ID" FROM ods.Stage', "oracle")
    assert (a["inputs"], a["outputs"]) == ([ds("ods.stage")], [ds("dw.fact")])
    assert edges(a) == {("ods.stage.id", "dw.fact.k", "IDENTITY")}
    quoted = one('CREATE VIEW v AS SELECT "MixedCase" FROM ods.t', "oracle")
    assert direct(quoted) == {("ods.t.MixedCase", "v.MixedCase")}
    schema = one("CREATE VIEW v AS SELECT * FROM ods.t", "oracle", schema={"ODS.T": {"Id": "NUMBER"}})
    assert direct(schema) == {("ods.t.id", "v.id")}


def test_statements_without_data_flow_have_no_lineage():
    results = [
        r.as_dict()
        for r in analyse(
            "CREATE TABLE t (a INT); DROP TABLE x; SELECT a FROM t", dialect="postgres", namespace=NS
        )
    ]
    assert [r["type"] for r in results] == ["CREATE TABLE", "DROP", "SELECT"]
    assert [r["outputs"] for r in results] == [[], [], []]
    assert results[2]["inputs"] == [ds("t")] and results[2]["columns"] == []


def test_insert_values_writes_without_inputs():
    st = one("INSERT INTO dw.t (a, b) VALUES (1, 'x')", "mysql")
    assert (st["inputs"], st["outputs"], st["columns"]) == ([], [ds("dw.t")], [])


def test_delete_reads_the_tables_of_its_condition():
    st = one("DELETE FROM dw.t WHERE id IN (SELECT id FROM ods.gone)", "postgres")
    assert (st["type"], st["inputs"], st["outputs"]) == ("DELETE", [ds("ods.gone")], [ds("dw.t")])


def test_results_serialise_as_json():
    results = analyse(VIEW + ";\n" + MERGE, dialect="oracle", namespace=NS)
    text = json.dumps([r.as_dict() for r in results], ensure_ascii=False)
    assert json.loads(text)[1]["type"] == "MERGE"


def test_column_lineage_facet_is_openlineage_1_2_0():
    from openlineage.client.generated.column_lineage_dataset import (
        ColumnLineageDatasetFacet,
        Fields,
        InputField,
    )
    from openlineage.client.generated.column_lineage_dataset import Transformation as OLTransformation
    from openlineage.client.serde import Serde

    sql = "CREATE VIEW rpt.v AS SELECT id, CASE WHEN k > 0 THEN k END AS pos, 1 AS one FROM src.t WHERE x = 1"
    st = analyse(sql, dialect="postgres", namespace="postgres://db:5432", schema=None)[0]
    assert st.fields == [f"datasetField:postgres://db:5432:rpt.v:{c}" for c in ("id", "pos", "one")]
    facet = st.column_lineage_facet("https://example.org/yima")

    def inputs(items):
        return [
            InputField(
                i["namespace"], i["name"], i["field"], [OLTransformation(**t) for t in i["transformations"]]
            )
            for i in items
        ]

    built = ColumnLineageDatasetFacet(
        fields={k: Fields(inputs(v["inputFields"])) for k, v in facet["fields"].items()},
        dataset=inputs(facet["dataset"]),
        producer=facet["_producer"],
    )
    assert Serde.to_dict(built) == facet
    pos = facet["fields"]["pos"]["inputFields"]
    # one input field per source, with both ways it is read
    assert [(i["field"], [t["subtype"] for t in i["transformations"]]) for i in pos] == [
        ("k", ["TRANSFORMATION", "CONDITIONAL"])
    ]
    assert facet["dataset"] == [
        {
            "namespace": "postgres://db:5432",
            "name": "src.t",
            "field": "x",
            "transformations": [{"type": "INDIRECT", "subtype": "FILTER", "masking": False}],
        }
    ]
    assert analyse("SELECT 1", dialect="postgres", namespace="n")[0].column_lineage_facet("p") is None


def test_schema_may_list_column_names_and_must_be_a_map():
    st = one("CREATE VIEW v AS SELECT * FROM src.t", "mysql", schema={"src.t": ["a", "b"]})
    assert direct(st) == {("src.t.a", "v.a"), ("src.t.b", "v.b")}
    with pytest.raises(Invalid):
        analyse("SELECT 1", dialect="mysql", namespace=NS, schema=["src.t"])


def test_update_of_a_column_tuple():
    st = one("UPDATE dw.t SET (a, b) = (SELECT x, y + 1 FROM ods.s WHERE s.id = t.id)", "oracle")
    assert st["inputs"] == [ds("ods.s")]
    assert direct(st) == {("ods.s.x", "dw.t.a"), ("ods.s.y", "dw.t.b")}


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT COUNT(*) FILTER (WHERE x > 0) AS c INTO",  # sqlglot's T-SQL parser raises AttributeError here
        "SELECT (((((",
        "MERGE INTO t USING",
        "UPDATE SET = 1",
    ],
)
def test_input_that_trips_the_parser_is_an_error_not_an_exception(sql):
    results = analyse(sql, dialect="tsql", namespace=NS)
    assert results[0].error and results[0].error.startswith("cannot be parsed as tsql SQL")


@pytest.mark.parametrize(
    "event",
    ["openlineage__hive-container-cllUnionStart.json", "openlineage__hive-container-simpleCtasStart.json"],
)
def test_real_hive_events_sql_names_the_datasets_the_events_name(event):
    """OpenLineage's own Hive integration tests: the job's SQL facet, read here, gives the datasets
    the Hive producer reported in the same event."""
    data = json.loads((SHARED / "data" / "openlineage-events" / event).read_text())
    namespace = data["outputs"][0]["namespace"]
    [st] = analyse(
        data["job"]["facets"]["sql"]["query"], dialect="hive", namespace=namespace, default_schema="test"
    )
    assert st.inputs == sorted(f"dataset:{d['namespace']}:{d['name']}" for d in data["inputs"])
    assert st.outputs == [f"dataset:{d['namespace']}:{d['name']}" for d in data["outputs"]]
    assert st.columns and all(c.transformation.subtype == "IDENTITY" for c in st.columns)
