"""`yima` commands of the catalog area (filled in by its issue)."""
