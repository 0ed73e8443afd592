"""Lineage: OpenLineage intake, declared flows, the graph as of any date, its queries and audit exports."""
