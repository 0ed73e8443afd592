"""Code registry services: schemes, releases, codes, crosswalks, validation (filled in by its issue)."""
