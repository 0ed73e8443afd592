"""The paging clamp and the per-process cache utility every list and cache uses."""

from __future__ import annotations

import threading
import time

from registry.cache import VersionedCache
from registry.paging import MAX_PAGE, MAX_PER_PAGE, PageArgsSchema, clamp, page_of


def test_clamp_bounds_any_input():
    assert clamp(None, None) == (1, 50)
    assert clamp("3", "20") == (3, 20)
    assert clamp(0, 0) == (1, 50)
    assert clamp(-5, 5000) == (1, MAX_PER_PAGE)
    page, per_page = clamp(10**30, 1000)
    assert page == MAX_PAGE and (page - 1) * per_page < 2**63
    assert clamp("x", "y") == (1, 50)


def test_page_args_refuse_a_page_beyond_64_bits():
    errors = PageArgsSchema().validate({"page": str(10**20)})
    assert "page" in errors
    assert PageArgsSchema().load({"page": "2", "per_page": "10"}) == {"page": 2, "per_page": 10}


def test_page_of_cuts_a_list_and_keeps_the_total():
    page = page_of(list(range(25)), 3, 10)
    assert page.envelope() == {"items": [20, 21, 22, 23, 24], "total": 25, "page": 3, "per_page": 10}


def test_cache_builds_once_per_version_and_replaces_old_versions():
    cache: VersionedCache[str] = VersionedCache(size=2)
    calls = []

    def build(v):
        return lambda: calls.append(v) or f"value-{v}"

    assert cache.get("k", 1, build(1)) == "value-1"
    assert cache.get("k", 1, build(1)) == "value-1"
    assert cache.get("k", 2, build(2)) == "value-2"
    assert calls == [1, 2]
    cache.get("a", 1, build("a"))
    cache.get("b", 1, build("b"))  # size 2: "k" is the least recently used and goes
    assert cache.peek("k", 2) is None and len(cache) == 2


def test_cache_concurrent_callers_share_one_build():
    cache: VersionedCache[int] = VersionedCache()
    builds = []

    def slow():
        builds.append(1)
        time.sleep(0.05)
        return 42

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("k", 1, slow))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [42] * 8 and len(builds) == 1


def test_cache_ttl_expires_by_age():
    cache: VersionedCache[int] = VersionedCache(ttl=0.01)
    cache.get("k", 1, lambda: 1)
    time.sleep(0.02)
    assert cache.peek("k", 1) is None
