"""Moving-window rate limits on `limits`, in memory or in Redis (shared by every instance)."""

from __future__ import annotations

import bisect
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.storage import Storage as AsyncStorage
from limits.aio.storage.redis.coredis import CoredisBridge
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from voke_esm.core.errors import RateLimited, ServiceUnavailable

log = logging.getLogger(__name__)


class LimiterUnavailable(ServiceUnavailable):
    default_message = "Rate limiter storage unavailable"


@dataclass(frozen=True, slots=True)
class Slot:
    """A place in one limit for one key, e.g. `login` for an email."""

    limit: RateLimitItem
    key: tuple[str, ...]


class Reservation:
    """Places taken together by `RateLimiter.take`, in the storage that took them."""

    def __init__(self, strategy: MovingWindowRateLimiter, slots: tuple[Slot, ...]) -> None:
        self._strategy = strategy
        self.slots = slots

    async def give_back(self, slot: Slot) -> None:
        """Free the place this reservation took in `slot` (best effort: the storage may be gone)."""
        try:
            await _free_one_place(self._strategy, slot)
        except StorageError:
            log.debug("could not give back a rate-limit place", exc_info=True)

    async def clear(self, slot: Slot) -> None:
        """Forget every place taken in `slot`'s window, this one's and earlier ones."""
        try:
            await self._strategy.clear(slot.limit, *slot.key)
        except StorageError:
            log.debug("could not clear a rate-limit window", exc_info=True)

    async def give_back_all(self) -> None:
        for slot in self.slots:
            await self.give_back(slot)


class InlineExpiryMemoryStorage(MemoryStorage):
    """`limits`' in-process storage, its expired entries dropped inline, once a second at most.

    The original starts a task after every hit that, for each key, holds the key's lock across
    a hop to a worker thread (a bisect) and then copies the key's list: at thousands of trading
    calls a second it ran without pause, a sixth of the event loop's samples in a profile, and
    a call that met the held lock waited for the hop (issue 11, docs/PERFORMANCE.md). Dropping
    expired entries only frees memory: whether a call is admitted depends on its key's newest
    `limit` entries alone (`acquire_entry`), so doing it less often changes no decision. No
    `await` in it, so nothing else runs meanwhile and no lock is needed.
    """

    EXPIRE_EVERY_S = 1.0
    _expired_at = 0.0

    # `limits`' private hook (MemoryStorage.__schedule_expiry), called by every operation.
    async def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.time()
        if now - self._expired_at >= self.EXPIRE_EVERY_S:
            self._expired_at = now
            self.expire(now)

    def expire(self, now: float) -> None:
        for key, events in list(self.events.items()):
            # Newest first, so expiries fall: the first expired entry and all after it go.
            del events[bisect.bisect_left(events, -now, key=lambda entry: -entry.expiry) :]
            if not events:
                del self.events[key]
                self.locks.pop(key, None)
        for key, expires_at in list(self.expirations.items()):
            if expires_at <= now:
                self.storage.pop(key, None)
                del self.expirations[key]
                self.locks.pop(key, None)


class RateLimiter:
    def __init__(self, storage_uri: str) -> None:
        # wrap_exceptions: any storage failure surfaces as one StorageError we can map to a 503,
        # so an unreachable Redis never silently drops the limit.
        storage = storage_from_string(storage_uri, wrap_exceptions=True)
        if not isinstance(storage, AsyncStorage):
            raise ValueError(f"not an asyncio rate-limit storage: {storage_uri}")
        if type(storage) is MemoryStorage:
            storage = InlineExpiryMemoryStorage(storage_uri, wrap_exceptions=True)
        self._storage = storage
        self._strategy = MovingWindowRateLimiter(storage)
        # The limits that must not lock everyone out while a shared storage is unreachable (login,
        # CONTRACT §3) count here meanwhile; the trading limit never does and answers 503 (§6).
        self._local = (
            self._strategy
            if isinstance(storage, MemoryStorage)
            else MovingWindowRateLimiter(InlineExpiryMemoryStorage())
        )
        self._on_local = False  # an outage began and has not been seen to end: warn once
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

    async def take(self, *slots: Slot, local_fallback: bool = False) -> Reservation:
        """Take one place in every slot's limit, all or none, each atomically in the storage.

        Over any of them it raises RateLimited and gives back the places already taken, so a
        refused call costs nothing. Taken before the guarded work starts, the places bound how
        many calls can be in that work at once, not only how many have finished it.
        With `local_fallback`, an unreachable storage means counting in this process (logged
        once per outage) instead of LimiterUnavailable.
        """
        if not local_fallback or self._local is self._strategy:
            try:
                return await self._take(self._strategy, slots)
            except StorageError as exc:
                raise LimiterUnavailable() from exc
        try:
            reservation = await self._take(self._strategy, slots)
        except StorageError:
            if not self._on_local:
                self._on_local = True
                log.warning(
                    "rate limiter storage unreachable: login limits are counted in-process"
                    " (per instance) until it is back"
                )
            return await self._take(self._local, slots)
        except RateLimited:
            self._storage_back()
            raise
        self._storage_back()
        return reservation

    def _storage_back(self) -> None:
        if self._on_local:
            self._on_local = False
            log.info("rate limiter storage reachable again: login limits are shared again")

    async def _take(
        self, strategy: MovingWindowRateLimiter, slots: tuple[Slot, ...]
    ) -> Reservation:
        taken = Reservation(strategy, ())
        for slot in slots:
            if not await strategy.hit(slot.limit, *slot.key):
                reset_at, _remaining = await strategy.get_window_stats(slot.limit, *slot.key)
                await taken.give_back_all()
                raise self._rejected(slot.key, reset_at)
            taken.slots = (*taken.slots, slot)
        return taken

    def _rejected(self, key: tuple[str, ...], reset_at: float) -> RateLimited:
        if self._on_rejection is not None:
            # The key's last part is who is limited (a clientId, an email): not a label.
            self._on_rejection("/".join(key[:-1]) or "default")
        return RateLimited(reset_at - time.time())


async def _free_one_place(strategy: MovingWindowRateLimiter, slot: Slot) -> None:
    """Remove the newest entry of a moving window: the one just taken, or one as recent.

    `limits` has no such operation; its two storages the service supports (CONTRACT §1) keep a
    window as a list of timestamps, newest first, which this shortens by one under the same
    lock (memory) or in one atomic command (Redis).
    """
    key = slot.limit.key_for(*slot.key)
    storage = strategy.storage
    if isinstance(storage, MemoryStorage):
        async with storage.locks[key]:
            if entries := storage.events.get(key):
                del entries[0]
    elif isinstance(storage, RedisStorage) and isinstance(storage.bridge, CoredisBridge):
        await storage.bridge.get_connection().lpop(storage.bridge.prefixed_key(key))
    else:  # another storage: the place stays taken until the window moves past it
        log.debug("cannot give back a place in %s", type(storage).__name__)
