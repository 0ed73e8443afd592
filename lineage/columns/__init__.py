"""Column-level lineage: field nodes and column edges from ``columnLineage`` facets and flows' column mappings."""
