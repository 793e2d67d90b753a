"""Two instances of the service on one PostgreSQL and one Redis, as behind a load balancer.

README "Several instances": credentials, tokens and plants live in the database, the limiter's
windows in Redis. So one limit holds across both (CONTRACT §6), a rotation on one is refused on
the other at once (§4), and updates through both take distinct versions (§6).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import coredis
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from tests.conftest import REDIS_URL, _truncate_all, http_client
from tests.factories import WHOLE_DAY, Api, bearer, error_body
from voke_esm.app import create_app
from voke_esm.core.config import Settings

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

TRADING = "/api/v1/voke-esm/trading"
LIMIT = 6
# A Redis database of this module's own: other test modules flush theirs (db 15) as they go.
SHARED_REDIS_URL = REDIS_URL.rsplit("/", 1)[0] + "/14"


@pytest.fixture
async def database_url(postgres_database_url: str) -> str:
    """PostgreSQL only: SQLite is one file of one host, not a database two hosts share."""
    await _truncate_all(postgres_database_url)
    return postgres_database_url


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"rate_limit_storage_url": SHARED_REDIS_URL, "voke_esm_rate_limit": f"{LIMIT}/minute"}


@pytest.fixture(autouse=True)
async def fresh_counters() -> None:
    client = coredis.Redis.from_url(SHARED_REDIS_URL)
    try:
        await client.flushdb()
    finally:
        client.connection_pool.disconnect()


@pytest.fixture
async def other(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the second instance: its own app, engine, pool and limiter."""
    application: FastAPI = create_app(settings)
    async with (
        LifespanManager(application, startup_timeout=60, shutdown_timeout=60),
        http_client(application) as client,
    ):
        yield client


class TestSharedRateLimit:
    async def test_concurrent_calls_through_both_pass_the_limit_exactly_once(
        self, api: Api, other: httpx.AsyncClient
    ) -> None:
        org = await api.enabled_org()
        token = await api.trading_token(org.client_id, org.client_secret)

        calls = [
            client.get(f"{TRADING}/plant/list", headers=bearer(token))
            for client in (api.http, other)
            for _ in range(LIMIT)
        ]
        statuses = sorted(response.status_code for response in await asyncio.gather(*calls))

        assert statuses == [200] * LIMIT + [429] * LIMIT


class TestRotation:
    async def test_enabling_again_on_one_is_refused_on_the_other_at_once(
        self, api: Api, other: httpx.AsyncClient
    ) -> None:
        org = await api.enabled_org()
        old_token = await api.trading_token(org.client_id, org.client_secret)
        listed = await other.get(f"{TRADING}/plant/list", headers=bearer(old_token))
        assert listed.status_code == 200

        rotated = await api.enable(org.id)
        old_token_answer = await other.get(f"{TRADING}/plant/list", headers=bearer(old_token))
        old_secret_answer = await other.post(
            f"{TRADING}/token",
            json={"clientId": org.client_id, "clientSecret": org.client_secret},
        )
        new_secret_answer = await other.post(
            f"{TRADING}/token",
            json={"clientId": rotated["clientId"], "clientSecret": rotated["clientSecret"]},
        )

        assert (old_token_answer.status_code, old_token_answer.json()) == (
            401,
            error_body(401, "UNAUTHORIZED", "Invalid or expired token"),
        )
        assert (old_secret_answer.status_code, old_secret_answer.json()) == (
            401,
            error_body(401, "INVALID_CLIENT", "Invalid client credentials"),
        )
        assert new_secret_answer.status_code == 200

    async def test_disabling_on_one_kills_tokens_on_the_other_at_once(
        self, api: Api, other: httpx.AsyncClient
    ) -> None:
        org = await api.enabled_org()
        token = await api.trading_token(org.client_id, org.client_secret)

        assert (await api.disable(org.id)).status_code == 200
        answer = await other.get(
            f"{TRADING}/plant/config",
            params={"plantId": org.default_plant_id},
            headers=bearer(token),
        )

        assert (answer.status_code, answer.json()) == (
            401,
            error_body(401, "UNAUTHORIZED", "Invalid or expired token"),
        )


class TestConcurrentUpdates:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"rate_limit_storage_url": SHARED_REDIS_URL, "voke_esm_rate_limit": "1000/minute"}

    async def test_updates_through_both_take_distinct_contiguous_versions(
        self, api: Api, other: httpx.AsyncClient
    ) -> None:
        org = await api.enabled_org()
        token = await api.trading_token(org.client_id, org.client_secret)
        per_instance = 8

        def update(client: httpx.AsyncClient, code: str) -> Any:
            body = {
                "plantId": org.default_plant_id,
                "configUpdateReqCode": code,
                "validateOnly": False,
                "timeConfigs": WHOLE_DAY,
            }
            return client.post(f"{TRADING}/plant/config/update", json=body, headers=bearer(token))

        answers = await asyncio.gather(
            *(
                update(client, f"{name}-{number}")
                for number in range(per_instance)
                for name, client in (("first", api.http), ("second", other))
            )
        )

        assert [answer.status_code for answer in answers] == [200] * (2 * per_instance)
        assert {answer.json()["resultCode"] for answer in answers} == {"applied_ok"}
        versions = sorted(answer.json()["version"] for answer in answers)
        assert versions == list(range(2, 2 + 2 * per_instance))
        final = await api.plant_config(token, org.default_plant_id)
        assert final.json()["version"] == 1 + 2 * per_instance
