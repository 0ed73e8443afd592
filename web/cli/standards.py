"""`yima` commands of the standards area (filled in by its issue)."""
