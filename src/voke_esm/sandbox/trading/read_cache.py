"""plant/list and plant/config answers kept as encoded bytes, valid while the database says so.

Each entry carries the version it was built from: the client's `plants_version` for its plant
list, the plant's (row id, revision) for its config. Database triggers change those on every
write, from any instance, and every trading call reads them afresh (`TradingCaller`), so an
entry is served only while it is still exactly what the database holds. A stale entry is never
served; it is replaced the next time it is asked for. The least recently used entries go first
once `max_entries` is reached, so memory stays bounded however many plants the database has.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

DEFAULT_MAX_ENTRIES = 10_000


class TradingReadCache:
    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str, str], tuple[Hashable, bytes]] = OrderedDict()

    def plant_list(self, client_id: str, plants_version: int) -> bytes | None:
        return self._get(("list", client_id, ""), plants_version)

    def put_plant_list(self, client_id: str, plants_version: int, body: bytes) -> None:
        self._put(("list", client_id, ""), plants_version, body)

    def plant_config(self, client_id: str, plant_key: tuple[str, int]) -> bytes | None:
        return self._get(("config", client_id, plant_key[0]), plant_key[1])

    def put_plant_config(self, client_id: str, plant_key: tuple[str, int], body: bytes) -> None:
        self._put(("config", client_id, plant_key[0]), plant_key[1], body)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def _get(self, key: tuple[str, str, str], version: Hashable) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] != version:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def _put(self, key: tuple[str, str, str], version: Hashable, body: bytes) -> None:
        self._entries[key] = (version, body)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
