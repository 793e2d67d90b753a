"""Moving-window rate limits on `limits`, in memory or in Redis (shared by every instance)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from limits import RateLimitItem, parse
from limits.aio.storage import Storage as AsyncStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from voke_esm.errors import RateLimited, ServiceUnavailable


class LimiterUnavailable(ServiceUnavailable):
    default_message = "Rate limiter storage unavailable"


class RateLimiter:
    def __init__(self, storage_uri: str) -> None:
        # wrap_exceptions: any storage failure surfaces as one StorageError we can map to a 503,
        # so an unreachable Redis never silently drops the limit.
        storage = storage_from_string(storage_uri, wrap_exceptions=True)
        if not isinstance(storage, AsyncStorage):
            raise ValueError(f"not an asyncio rate-limit storage: {storage_uri}")
        self._storage = storage
        self._strategy = MovingWindowRateLimiter(storage)
        self._on_rejection: Callable[[str], None] | None = None

    def on_rejection(self, callback: Callable[[str], None]) -> None:
        """Call `callback(limit)` on each refusal; `limit` is e.g. `trading/token` or `login`."""
        self._on_rejection = callback

    @staticmethod
    @functools.cache  # a handful of distinct limits, parsed on every call that is limited
    def parse(limit: str) -> RateLimitItem:
        return parse(limit)

    async def hit(self, limit: RateLimitItem, *key: str) -> None:
        """Count one call; over the limit it raises RateLimited and the call is not counted."""
        try:
            if await self._strategy.hit(limit, *key):
                return
            reset_at, _remaining = await self._strategy.get_window_stats(limit, *key)
        except StorageError as exc:
            raise LimiterUnavailable() from exc
        raise self._rejected(key, reset_at)

    async def check(self, limit: RateLimitItem, *key: str) -> None:
        """Raise RateLimited if the limit is used up, without counting this call."""
        try:
            if await self._strategy.test(limit, *key):
                return
            reset_at, _remaining = await self._strategy.get_window_stats(limit, *key)
        except StorageError as exc:
            raise LimiterUnavailable() from exc
        raise self._rejected(key, reset_at)

    async def count(self, limit: RateLimitItem, *key: str) -> None:
        """Count one call whatever the state of the limit (a failed login counts)."""
        try:
            await self._strategy.hit(limit, *key)
        except StorageError as exc:
            raise LimiterUnavailable() from exc

    def _rejected(self, key: tuple[str, ...], reset_at: float) -> RateLimited:
        if self._on_rejection is not None:
            # The key's last part is who is limited (a clientId, an email): not a label.
            self._on_rejection("/".join(key[:-1]) or "default")
        return RateLimited(reset_at - time.time())
