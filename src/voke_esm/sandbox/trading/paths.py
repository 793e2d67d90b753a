"""Where the trading endpoints live; shared by their guards and the journal that records them."""

from __future__ import annotations

TRADING_PREFIX = "/api/v1/voke-esm/trading"


def is_trading_path(path: str) -> bool:
    return path == TRADING_PREFIX or path.startswith(TRADING_PREFIX + "/")
