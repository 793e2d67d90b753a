"""The in-process rate-limit storage: `limits`' own, with its expired entries dropped inline
rather than by a task that hops to a worker thread after every hit (issue 11's p99)."""

from __future__ import annotations

import asyncio
import time

import pytest

from voke_esm.core.errors import RateLimited
from voke_esm.core.ratelimit import InlineExpiryMemoryStorage, RateLimiter


def memory_storage(limiter: RateLimiter) -> InlineExpiryMemoryStorage:
    storage = limiter._storage  # what the limiter counts in: the point of these tests
    assert isinstance(storage, InlineExpiryMemoryStorage)
    return storage


class TestInlineExpiry:
    async def test_hits_start_no_task(self) -> None:
        limiter = RateLimiter("async+memory://")
        tasks = asyncio.all_tasks()
        for client in ("a", "b", "c"):
            await limiter.hit(RateLimiter.parse("5/second"), "trading", client)
        assert asyncio.all_tasks() == tasks
        assert memory_storage(limiter).timer is None

    async def test_the_limit_still_holds(self) -> None:
        limiter = RateLimiter("async+memory://")
        limit = RateLimiter.parse("2/minute")
        await limiter.hit(limit, "trading", "a")
        await limiter.hit(limit, "trading", "a")
        with pytest.raises(RateLimited):
            await limiter.hit(limit, "trading", "a")
        await limiter.hit(limit, "trading", "b")  # another key has its own window

    async def test_expired_entries_go_and_live_ones_stay(self) -> None:
        limiter = RateLimiter("async+memory://")
        limit = RateLimiter.parse("2/minute")
        await limiter.hit(limit, "trading", "a")
        await limiter.hit(limit, "trading", "a")
        storage = memory_storage(limiter)

        storage.expire(time.time())  # both still inside the minute
        with pytest.raises(RateLimited):
            await limiter.hit(limit, "trading", "a")

        storage.expire(time.time() + 61)  # the minute has passed for both
        assert storage.events == {}
        await limiter.hit(limit, "trading", "a")
