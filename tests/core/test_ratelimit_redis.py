"""The trading rate limit kept in Redis (CONTRACT §1 RATE_LIMIT_STORAGE_URL, §6): one counter for
every instance, and a refusal, never an unlimited pass, when Redis is unreachable."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import coredis
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from tests.conftest import REDIS_URL, http_client
from tests.factories import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    WHOLE_DAY,
    Api,
    EnabledOrg,
    bearer,
    error_body,
)
from tests.robustness.outages import RedisServer
from voke_esm.app import create_app
from voke_esm.core.config import Settings

pytestmark = pytest.mark.redis

TRADING = "/api/v1/voke-esm/trading"
CLOSED_PORT_URL = "redis://127.0.0.1:1/0"
LIMITER_UNAVAILABLE = error_body(503, "SERVICE_UNAVAILABLE", "Rate limiter storage unavailable")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"rate_limit_storage_url": REDIS_URL, "voke_esm_rate_limit": "3/minute"}


@pytest.fixture(autouse=True)
async def flush_redis_test_db() -> None:
    """Each test starts with no counters (db 15 is the tests' own database)."""
    client = coredis.Redis.from_url(REDIS_URL)
    try:
        await client.flushdb()
    finally:
        client.connection_pool.disconnect()


async def list_plants(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.get(f"{TRADING}/plant/list", headers=bearer(token))


async def exchange(http: httpx.AsyncClient, org: EnabledOrg) -> httpx.Response:
    credentials = {"clientId": org.client_id, "clientSecret": org.client_secret}
    return await http.post(f"{TRADING}/token", json=credentials)


@pytest.fixture
async def second_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """Another instance of the service on the same settings, as behind a load balancer."""
    application = create_app(settings)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        yield application


class TestSharedCounter:
    async def test_two_instances_share_one_limit(self, api: Api, second_app: FastAPI) -> None:
        org = await api.enabled_org()
        token = await api.trading_token(org.client_id, org.client_secret)

        async with http_client(second_app) as other:
            statuses = [
                (await list_plants(api.http, token)).status_code,
                (await list_plants(other, token)).status_code,
                (await list_plants(api.http, token)).status_code,
            ]
            over_on_second = await list_plants(other, token)
            over_on_first = await list_plants(api.http, token)
            # The token endpoint counts per body clientId across instances too: one used above.
            token_statuses = [(await exchange(other, org)).status_code for _ in range(2)]
            token_over = await exchange(api.http, org)

        assert statuses == [200, 200, 200]
        assert (over_on_second.status_code, over_on_first.status_code) == (429, 429)
        seconds = int(over_on_second.headers["Retry-After"])
        assert 1 <= seconds <= 60
        assert over_on_second.json() == error_body(
            429,
            "RATE_LIMITED",
            f"Rate limit exceeded; retry in {seconds} s",
            {"retryAfter": seconds},
        )
        assert token_statuses == [200, 200]
        assert token_over.status_code == 429


class TestUnreachableStorage:
    @pytest.fixture
    async def broken_app(self, settings: Settings) -> AsyncIterator[FastAPI]:
        """The service on the same database with its limiter storage on a closed port."""
        unreachable = settings.model_copy(update={"rate_limit_storage_url": CLOSED_PORT_URL})
        application = create_app(unreachable)
        async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
            yield application

    async def test_trading_answers_503_and_never_passes_unlimited(
        self, api: Api, broken_app: FastAPI
    ) -> None:
        org = await api.enabled_org()
        token = await api.trading_token(org.client_id, org.client_secret)

        async with http_client(broken_app) as broken:
            update = {
                "plantId": org.default_plant_id,
                "configUpdateReqCode": "req-no-limiter",
                "validateOnly": False,
                "timeConfigs": WHOLE_DAY,
            }
            responses = [
                await exchange(broken, org),
                await list_plants(broken, token),
                await broken.get(
                    f"{TRADING}/plant/config",
                    params={"plantId": org.default_plant_id},
                    headers=bearer(token),
                ),
                await broken.post(
                    f"{TRADING}/plant/config/update", json=update, headers=bearer(token)
                ),
            ]

        for response in responses:
            assert (response.status_code, response.json()) == (503, LIMITER_UNAVAILABLE)
        config = await api.plant_config(token, org.default_plant_id)
        assert config.json()["version"] == 1  # the refused update was not applied

    async def test_admin_api_keeps_working(self, api: Api, broken_app: FastAPI) -> None:
        org = await api.create_org()

        async with http_client(broken_app) as broken:
            enabled = await broken.post(
                "/api/v1/voke-esm/admin/enable", params={"orgId": org["id"]}, headers=api.headers
            )
            status = await broken.get(
                "/api/v1/voke-esm/admin/status", params={"orgId": org["id"]}, headers=api.headers
            )
            plants = await broken.get(
                "/api/v1/voke-esm/admin/plants",
                params={"clientId": enabled.json()["clientId"]},
                headers=api.headers,
            )

        assert enabled.status_code == 200, enabled.text
        assert status.status_code == 200
        assert (status.json()["enabled"], status.json()["plantCount"]) == (True, 1)
        assert plants.status_code == 200
        assert len(plants.json()) == 1

    async def test_login_counts_in_process_instead(
        self, app: FastAPI, broken_app: FastAPI, caplog: pytest.LogCaptureFixture
    ) -> None:
        """`app` made the SuperAdmin in the database both instances share."""
        async with http_client(broken_app) as broken:
            with caplog.at_level(logging.WARNING, logger="voke_esm"):
                signed_in = [await login(broken, ADMIN_EMAIL, ADMIN_PASSWORD) for _ in range(2)]
                failed = [await login(broken, ADMIN_EMAIL, f"wrong {n}") for n in range(10)]
                locked = await login(broken, ADMIN_EMAIL, ADMIN_PASSWORD)

        assert [response.status_code for response in signed_in] == [200, 200]
        assert [response.status_code for response in failed] == [401] * 10
        assert locked.status_code == 429
        warned = [r.getMessage() for r in caplog.records if "in-process" in r.getMessage()]
        assert len(warned) == 1, warned


async def login(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await http.post("/api/v1/auth/login", json={"email": email, "password": password})


class TestLoginLimitInRedis:
    """The login limits (CONTRACT §3) are shared by every instance, and taken atomically there."""

    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"rate_limit_storage_url": REDIS_URL, "login_peer_rate_limit": "4/minute"}

    async def test_parallel_guesses_on_two_instances_check_at_most_ten(
        self, app: FastAPI, second_app: FastAPI
    ) -> None:
        async def guess(instance: FastAPI, number: int) -> httpx.Response:
            # Each guess from a peer of its own: only the email's limit applies.
            async with http_client(instance, peer=f"10.20.{number}.1") as http:
                return await login(http, ADMIN_EMAIL, f"wrong {number}")

        responses = await asyncio.gather(
            *(guess(app if n % 2 else second_app, n) for n in range(30))
        )

        assert Counter(response.status_code for response in responses) == {401: 10, 429: 20}

    async def test_successes_give_their_place_in_the_peer_limit_back(
        self, app: FastAPI, second_app: FastAPI
    ) -> None:
        async with (
            http_client(app, peer="10.20.0.3") as first,
            http_client(second_app, peer="10.20.0.3") as second,
        ):
            typos = [await login(first, ADMIN_EMAIL, f"typo {n}") for n in range(3)]
            signed_in = [await login(http, ADMIN_EMAIL, ADMIN_PASSWORD) for http in (first, second)]
            failed = await login(second, "nobody@example.com", "guess")
            locked = await login(first, ADMIN_EMAIL, ADMIN_PASSWORD)

        assert [response.status_code for response in typos] == [401] * 3
        assert [response.status_code for response in signed_in] == [200, 200]
        assert failed.status_code == 401  # the 4th failure of this peer: successes did not count
        assert locked.status_code == 429  # 4 failures from this peer, on either instance


class TestLoginWhileRedisComesAndGoes:
    @pytest.fixture
    def redis_server(self) -> Iterator[RedisServer]:
        server = RedisServer()
        try:
            server.start()
            yield server
        finally:
            server.remove()

    @pytest.fixture
    def settings_overrides(self, redis_server: RedisServer) -> dict[str, Any]:
        return {"rate_limit_storage_url": redis_server.url}

    async def test_one_warning_per_outage_and_shared_counters_once_back(
        self, client: httpx.AsyncClient, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
    ) -> None:
        statuses = []
        with caplog.at_level(logging.INFO, logger="voke_esm"):
            statuses.append((await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code)
            redis_server.kill()
            for _ in range(3):
                statuses.append((await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code)
            redis_server.start()
            statuses.append((await login(client, ADMIN_EMAIL, "wrong")).status_code)
            redis_server.kill()
            statuses.append((await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code)

        assert statuses == [200, 200, 200, 200, 401, 200]
        messages = [record.getMessage() for record in caplog.records]
        warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert sum("in-process" in message for message in warned) == 2, messages
        assert sum("reachable again" in message for message in messages) == 1, messages
