"""Run a peer SQL-lineage parser over statements read from stdin; a subprocess of ``bench_sql``.

``python benchmarks/sql_peers.py datahub|openlineage < job.json > result.json``. It imports nothing
of Yima, so it runs under whichever interpreter has the peer installed (DataHub pins its own
sqlglot, so it usually lives in ``.venv-bench``). The job is ``{"statements", "warmup", "schema",
"dialect"}``; the result is ``{"seconds", "cpu_seconds", "results": [{"inputs", "outputs", "edges",
"error"}]}`` with tables as ``schema.table`` and edges as ``[source "t.c", target "t.c"]``, lower case.
"""

from __future__ import annotations

import json
import sys
import time


def _datahub(job: dict):
    from datahub.sql_parsing import sqlglot_lineage as module
    from datahub.sql_parsing._models import _TableName
    from datahub.sql_parsing.schema_resolver import SchemaResolver

    resolver = SchemaResolver(platform=job["dialect"], env="PROD")
    for name, columns in job["schema"].items():
        db_schema, table = name.split(".")
        urn = resolver.get_urn_for_table(_TableName(database=None, db_schema=db_schema, table=table))
        resolver.add_raw_schema_info(urn, columns)

    def table(urn: str) -> str:
        return urn.split(",")[1].lower()

    def run(sql: str) -> dict:
        result = module.sqlglot_lineage(sql, resolver)
        edges = []
        for col in result.column_lineage or ():
            target = (
                f"{table(col.downstream.table)}.{col.downstream.column}".lower()
                if col.downstream.table
                else None
            )
            for up in col.upstreams:
                edges.append([f"{table(up.table)}.{up.column}".lower(), target])
        error = result.debug_info.error
        return {
            "inputs": sorted(table(u) for u in result.in_tables),
            "outputs": sorted(table(u) for u in result.out_tables),
            "edges": edges,
            "error": str(error) if error else None,
        }

    def reset():
        cached = getattr(module, "_sqlglot_lineage_cached", None)
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()  # each pass must parse, not hit DataHub's result cache

    return run, reset


def _openlineage(job: dict):
    import openlineage_sql

    def run(sql: str) -> dict:
        meta = openlineage_sql.parse([sql], dialect=job["dialect"], default_schema=None)
        outputs = sorted(t.qualified_name.lower() for t in meta.out_tables)
        edges = []
        for col in meta.column_lineage:
            origin = col.descendant.origin
            target_table = (
                origin.qualified_name.lower() if origin is not None else (outputs[0] if outputs else "")
            )
            for up in col.lineage:
                if up.origin is not None:
                    edges.append(
                        [
                            f"{up.origin.qualified_name}.{up.name}".lower(),
                            f"{target_table}.{col.descendant.name}".lower(),
                        ]
                    )
        return {
            "inputs": sorted(t.qualified_name.lower() for t in meta.in_tables),
            "outputs": outputs,
            "edges": edges,
            "error": "; ".join(str(e.message) for e in meta.errors) or None,
        }

    return run, lambda: None


def main(tool: str) -> int:
    job = json.load(sys.stdin)
    run, reset = {"datahub": _datahub, "openlineage": _openlineage}[tool](job)
    for sql in job["warmup"]:
        run(sql)
    reset()
    results = []
    wall, cpu = time.perf_counter(), time.process_time()
    for sql in job["statements"]:
        try:
            results.append(run(sql))
        except Exception as err:  # a peer's crash on one statement is a figure, not our failure
            results.append(
                {"inputs": [], "outputs": [], "edges": [], "error": f"{type(err).__name__}: {err}"}
            )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    json.dump({"seconds": wall, "cpu_seconds": cpu, "results": results}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
