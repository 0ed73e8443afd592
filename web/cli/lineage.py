"""`yima` commands of the lineage area (filled in by its issue)."""
