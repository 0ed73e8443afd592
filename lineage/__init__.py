"""Lineage: OpenLineage intake, declared flows, SQL lineage, the timeline and graph, queries, exports."""
