"""standards API (filled in by its issue)."""

blp = None
