"""The response cache's bookkeeping: generations, LRU bound, age limit, live state."""

from __future__ import annotations

import time

from backend.api.cache import ResponseCache


def live_cache(**kwargs: float) -> ResponseCache:
    cache = ResponseCache(
        max_entries=int(kwargs.get("max_entries", 10)), max_age_seconds=kwargs.get("age", 60)
    )
    cache.set_live(True)
    return cache


def test_a_read_that_began_before_a_change_is_not_kept():
    cache = live_cache()
    began = cache.generation
    cache.invalidate("trades")  # a write committed while the read was running
    entry = cache.put("/a?", began, b"{}", "/a")
    assert entry.body == b"{}" and cache.get("/a?") is None  # answered, not kept
    cache.put("/a?", cache.generation, b"{}", "/a")
    assert cache.get("/a?") is not None


def test_the_least_recently_used_answer_goes_first():
    cache = live_cache(max_entries=2)
    for key in ("/a?", "/b?"):
        cache.put(key, cache.generation, key.encode(), key)
    assert cache.get("/a?") is not None  # /b is now the oldest use
    cache.put("/c?", cache.generation, b"c", "/c")
    assert [k for k in ("/a?", "/b?", "/c?") if cache.get(k)] == ["/a?", "/c?"]


def test_an_answer_past_the_age_limit_is_read_again():
    cache = live_cache(age=0.05)
    cache.put("/a?", cache.generation, b"{}", "/a")
    assert cache.get("/a?") is not None
    time.sleep(0.06)
    assert cache.get("/a?") is None and len(cache) == 0


def test_nothing_is_kept_or_served_while_not_live():
    cache = ResponseCache(max_entries=10, max_age_seconds=60)
    cache.put("/a?", cache.generation, b"{}", "/a")
    assert len(cache) == 0
    cache.set_live(True)
    cache.put("/a?", cache.generation, b"{}", "/a")
    cache.set_live(False)  # the listener lost its connection: changes may go unheard from now on
    assert cache.get("/a?") is None
    cache.set_live(True)
    assert cache.get("/a?") is None  # what was kept before the gap is gone


def test_the_same_body_gets_the_same_etag():
    cache = live_cache()
    one = cache.put("/a?", cache.generation, b'{"x":1}', "/a")
    two = cache.put("/b?", cache.generation, b'{"x":1}', "/b")
    three = cache.put("/c?", cache.generation, b'{"x":2}', "/c")
    assert one.etag == two.etag != three.etag and one.etag.startswith('"')


def test_the_byte_budget_drops_the_oldest_and_refuses_the_huge():
    cache = ResponseCache(max_entries=100, max_age_seconds=60, max_bytes=8_000)
    cache.set_live(True)
    for key in ("/a?", "/b?", "/c?"):
        cache.put(key, cache.generation, b"x" * 900, key)
    cache.put("/d?", cache.generation, b"x" * 900, "/d")  # 3,600 bytes: all fit
    assert len(cache) == 4
    for key in ("/e?", "/f?", "/g?", "/h?"):
        cache.put(key, cache.generation, b"x" * 900, key)
    assert len(cache) == 8 and cache.get("/a?") is not None  # 7,200 bytes
    cache.put("/j?", cache.generation, b"x" * 900, "/j")  # 8,100: the least recently used goes
    assert cache.get("/b?") is None and cache.get("/a?") is not None
    answered = cache.put("/big?", cache.generation, b"x" * 1_001, "/big")  # over an eighth
    assert answered.body and cache.get("/big?") is None
