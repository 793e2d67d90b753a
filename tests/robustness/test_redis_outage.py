"""Redis, the limiter's storage, goes away while the service runs and comes back (CONTRACT §6).

tests/core/test_ratelimit_redis.py covers an instance whose Redis was never there. Here it was there
and dies: the trading endpoints answer 503 rather than pass unlimited, the admin API keeps
working, and once Redis is back the same app instance limits and answers again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.factories import WHOLE_DAY, Api, error_body
from tests.robustness.outages import RedisServer

pytestmark = pytest.mark.redis

TRADING = "/api/v1/voke-esm/trading"
LIMITER_UNAVAILABLE = error_body(503, "SERVICE_UNAVAILABLE", "Rate limiter storage unavailable")


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture
def settings_overrides(redis_server: RedisServer) -> dict[str, Any]:
    return {"rate_limit_storage_url": redis_server.url, "voke_esm_rate_limit": "1000/minute"}


class TestRedisStoppedWhileServing:
    async def test_trading_503_admin_fine_then_trading_again_once_back(
        self, api: Api, redis_server: RedisServer
    ) -> None:
        org = await api.enabled_org()
        token = await api.trading_token(org.client_id, org.client_secret)
        bearer = {"Authorization": f"Bearer {token}"}
        assert (await api.http.get(f"{TRADING}/plant/list", headers=bearer)).status_code == 200

        redis_server.kill()
        listed = await api.http.get(f"{TRADING}/plant/list", headers=bearer)
        update = await api.update_config(token, org.default_plant_id, WHOLE_DAY, code="no-redis")
        status = await api.status(org.id)
        plants = await api.sandbox_plants(clientId=org.client_id)

        redis_server.start()
        listed_again = await api.http.get(f"{TRADING}/plant/list", headers=bearer)
        update_again = await api.update_config(
            token, org.default_plant_id, WHOLE_DAY, code="no-redis"
        )

        assert (listed.status_code, listed.json()) == (503, LIMITER_UNAVAILABLE)
        assert (update.status_code, update.json()) == (503, LIMITER_UNAVAILABLE)
        assert (status["enabled"], status["plantCount"]) == (True, 1)
        assert [plant["externalPlantId"] for plant in plants] == [org.default_plant_id]
        assert listed_again.status_code == 200
        # The refused update stored nothing: its code is new to the service, and applies now.
        assert update_again.status_code == 200
        assert (update_again.json()["resultCode"], update_again.json()["version"]) == (
            "applied_ok",
            2,
        )
