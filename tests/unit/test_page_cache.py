"""Whole-page caches: bounded by entries and bytes, sized for every open tenant."""

from __future__ import annotations

from peregrine.web.fragments import LRU, PAGE_CACHE_MIN_ENTRIES, page_cache


def test_it_drops_the_oldest_pages_past_its_byte_bound() -> None:
    cache: LRU[tuple[int, bytes]] = LRU(maxsize=100, maxbytes=25)
    for i in range(3):
        cache.put(("alice", i), (i, b"x" * 10))
    assert cache.get(("alice", 0)) is None
    assert cache.get(("alice", 2)) == (2, b"x" * 10)
    assert cache.nbytes == 20


def test_replacing_a_page_does_not_count_it_twice() -> None:
    cache: LRU[tuple[int, tuple[bytes, ...]]] = LRU(maxsize=10, maxbytes=100)
    for mark in range(50):
        cache.put(("bob", "/review"), (mark, (b"a" * 30, b"b" * 30)))
    assert len(cache) == 1
    assert cache.nbytes == 60
    cache.clear()
    assert cache.nbytes == 0


def test_a_page_larger_than_the_bound_is_not_kept() -> None:
    cache: LRU[bytes] = LRU(maxsize=10, maxbytes=5)
    cache.put("mallory", b"far too large")
    assert cache.get("mallory") is None
    assert cache.nbytes == 0


def test_it_holds_a_page_for_every_open_tenant() -> None:
    assert page_cache(1024, 1 << 20).maxsize >= 1024
    assert page_cache(1, 1 << 20).maxsize == PAGE_CACHE_MIN_ENTRIES
    cache = page_cache(1000, 1 << 30)
    for tenant in range(1000):
        cache.put((f"tenant-{tenant}", "page"), (tenant, b"<html>"))
    # Round-robin over 1,000 tenants: every page is still there on the second round.
    assert all(cache.get((f"tenant-{t}", "page")) == (t, b"<html>") for t in range(1000))
