"""A small per-process cache: bounded, thread-safe, each entry valid for one version of its source.

Every per-process cache in Yima (code-release indexes, lineage timelines, overview counts, the chain
check) is a ``VersionedCache``: the caller says which version of the data it needs (an audit head, a
release's version number…) and the cache either has it or builds it once, with other threads waiting
for that build rather than building the same thing again. Nothing here is shared between processes;
a version the caller reads from the database on each use is what keeps processes coherent.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")
_MISSING = object()


_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_on = False


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while the block runs; the collector is on again after the last of
    concurrent blocks ends, if it was on before the first began. Building a cache of a few million small
    objects (the column graph's lists and tuples) otherwise runs full collections over everything
    allocated so far, again and again: most of the build's time. Reference counting still frees; cyclic
    garbage made meanwhile waits for the next full collection."""
    global _gc_pauses, _gc_was_on
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_on = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_on:
                if gc.get_freeze_count() == 0:
                    # what was made meanwhile goes straight to the oldest generation: else the first
                    # young collection after this scans all of it (0.4 s after a column graph's build)
                    gc.freeze()
                    gc.unfreeze()
                gc.enable()


class VersionedCache(Generic[T]):
    """``get(key, version, build)``: the value built for ``(key, version)``; at most ``size`` keys kept (LRU).

    A new version of a key replaces the old one. ``ttl`` (seconds) also expires entries by age, for
    values whose version is cheap to read but expensive to check (the overview's chain check).
    """

    def __init__(self, size: int = 16, ttl: float | None = None):
        self.size = size
        self.ttl = ttl
        self._items: collections.OrderedDict[Hashable, tuple[Any, float, Any]] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[Hashable, threading.Lock] = {}

    def peek(self, key: Hashable, version: Any = None) -> T | None:
        """The cached value for ``(key, version)`` if present and fresh, else None (never builds)."""
        with self._lock:
            found = self._fresh(key, version)
        return None if found is _MISSING else found

    def get(self, key: Hashable, version: Any, build: Callable[[], T]) -> T:
        with self._lock:
            found = self._fresh(key, version)
            if found is not _MISSING:
                return found
            gate = self._building.setdefault(key, threading.Lock())
        with gate:  # one builder per key; the others wait and then find its value
            with self._lock:
                found = self._fresh(key, version)
                if found is not _MISSING:
                    return found
            value = build()
            with self._lock:
                self._items[key] = (version, time.monotonic(), value)
                self._items.move_to_end(key)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
                self._building.pop(key, None)
            return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    def _fresh(self, key: Hashable, version: Any):
        entry = self._items.get(key)
        if entry is None or entry[0] != version:
            return _MISSING
        if self.ttl is not None and time.monotonic() - entry[1] >= self.ttl:
            return _MISSING
        self._items.move_to_end(key)
        return entry[2]
