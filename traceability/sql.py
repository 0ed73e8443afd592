"""Query helpers for bulk work: ``IN`` lists cut into chunks every database accepts."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

#: below SQLite's oldest default limit of bound parameters (999), so a query never fails for its size
CHUNK = 900


def chunks(values: Iterable, size: int = CHUNK) -> Iterator[list]:
    """``values`` in lists of at most ``size``."""
    batch: list = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def rows_in(run: Callable[[list], Iterable], values: Iterable, size: int = CHUNK) -> list:
    """Every row ``run(chunk)`` returns, over ``values`` in chunks (``run`` builds and executes one query)."""
    out: list = []
    for batch in chunks(values, size):
        out.extend(run(batch))
    return out
