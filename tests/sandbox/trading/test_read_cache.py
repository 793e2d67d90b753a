"""The trading read cache: plant/list and plant/config are served from encoded bytes, and never
once the database holds something else, whoever wrote it.

"Someone else" is written here with plain SQL on a connection of the test's own: that is what
another instance, a bulk statement or a hand-typed fix looks like to this one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import make_settings
from tests.factories import SEED_BLOCKS, WHOLE_DAY, Api, EnabledOrg, bearer
from voke_esm.app import app_services
from voke_esm.core.config import Settings
from voke_esm.core.db import create_engine
from voke_esm.sandbox.trading.read_cache import TradingReadCache

TRADING = "/api/v1/voke-esm/trading"
ADMIN = "/api/v1/voke-esm/admin"


@pytest.fixture
async def other_writer(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """A connection to the same database that is not the app's."""
    engine = create_engine(settings.resolved_database_url)
    yield engine
    await engine.dispose()


async def write(engine: AsyncEngine, sql: str, **parameters: Any) -> None:
    async with engine.begin() as connection:
        result = await connection.execute(text(sql), parameters)
        assert result.rowcount == 1, "the test's write changed nothing"


async def plant_list(api: Api, trading_token: str) -> list[dict[str, Any]]:
    response = await api.http.get(f"{TRADING}/plant/list", headers=bearer(trading_token))
    assert response.status_code == 200, response.text
    return list(response.json())


async def plant_config(api: Api, trading_token: str, plant_id: str) -> dict[str, Any]:
    response = await api.plant_config(trading_token, plant_id)
    assert response.status_code == 200, response.text
    return dict(response.json())


def names(plants: list[dict[str, Any]]) -> list[str]:
    return [plant["name"] for plant in plants]


async def rename_shows_at_once(api: Api, enabled: EnabledOrg, trading_token: str) -> None:
    """List the org's one plant, rename it through the admin API, and list it renamed."""
    [plant] = await api.sandbox_plants(clientId=enabled.client_id)
    assert names(await plant_list(api, trading_token)) == [plant["name"]]
    response = await api.http.patch(
        f"{ADMIN}/plants/{plant['id']}", json={"name": "Renamed"}, headers=api.headers
    )
    assert response.status_code == 200, response.text
    assert names(await plant_list(api, trading_token)) == ["Renamed"]


class TestPlantList:
    async def test_a_repeated_list_is_served_from_the_cache(
        self, app: FastAPI, api: Api, enabled: EnabledOrg, trading_token: str
    ) -> None:
        cache: TradingReadCache = app_services(app).plant_reads.cache
        first = await api.http.get(f"{TRADING}/plant/list", headers=bearer(trading_token))
        assert len(cache) == 1
        again = await api.http.get(f"{TRADING}/plant/list", headers=bearer(trading_token))
        assert again.content == first.content
        assert again.headers["content-type"] == "application/json"

    async def test_an_admin_rename_shows_at_once(
        self, api: Api, enabled: EnabledOrg, trading_token: str
    ) -> None:
        await rename_shows_at_once(api, enabled, trading_token)

    async def test_another_writers_change_shows_at_once(
        self, api: Api, enabled: EnabledOrg, trading_token: str, other_writer: AsyncEngine
    ) -> None:
        [plant] = await plant_list(api, trading_token)
        await write(
            other_writer,
            "UPDATE voke_esm_plants SET name = 'Written elsewhere', capacity_kwh = 7"
            " WHERE client_id = :client AND external_plant_id = :plant",
            client=enabled.client_id,
            plant=plant["plantId"],
        )
        [listed] = await plant_list(api, trading_token)
        assert (listed["name"], listed["capacityKwh"]) == ("Written elsewhere", 7)

    async def test_plants_created_and_deleted_show_at_once(
        self, api: Api, enabled: EnabledOrg, trading_token: str, other_writer: AsyncEngine
    ) -> None:
        assert len(await plant_list(api, trading_token)) == 1
        created = await api.create_sandbox_plant(enabled.client_id, timeConfigs=SEED_BLOCKS)
        assert [plant["plantId"] for plant in await plant_list(api, trading_token)] == [
            enabled.default_plant_id,
            created["externalPlantId"],
        ]
        await write(
            other_writer,
            "DELETE FROM voke_esm_plants WHERE client_id = :client AND external_plant_id = :plant",
            client=enabled.client_id,
            plant=enabled.default_plant_id,
        )
        assert [plant["plantId"] for plant in await plant_list(api, trading_token)] == [
            created["externalPlantId"]
        ]

    async def test_an_applied_config_update_keeps_the_list(
        self, app: FastAPI, api: Api, enabled: EnabledOrg, trading_token: str
    ) -> None:
        """plant/list shows nothing a config update changes: its entry stays valid."""
        before = await api.http.get(f"{TRADING}/plant/list", headers=bearer(trading_token))
        response = await api.update_config(trading_token, enabled.default_plant_id, WHOLE_DAY)
        assert response.json()["resultCode"] == "applied_ok", response.text
        cache: TradingReadCache = app_services(app).plant_reads.cache
        assert cache.plant_list(enabled.client_id, await plants_version(app, enabled)) == (
            before.content
        )

    async def test_a_rotation_kills_the_cached_answer_with_the_token(
        self, api: Api, enabled: EnabledOrg, trading_token: str
    ) -> None:
        await plant_list(api, trading_token)
        await api.enable(enabled.id)  # rotation: new credentials, the old client row is gone
        response = await api.http.get(f"{TRADING}/plant/list", headers=bearer(trading_token))
        assert response.status_code == 401, response.text

    async def test_a_fault_rule_still_fires_on_a_cached_list(
        self, api: Api, enabled: EnabledOrg, trading_token: str
    ) -> None:
        await plant_list(api, trading_token)
        rules = {"rules": [{"endpoint": "plant/list", "kind": "error", "status": 503}]}
        response = await api.http.put(
            f"{ADMIN}/faults", params={"orgId": enabled.id}, json=rules, headers=api.headers
        )
        assert response.status_code == 200, response.text
        faulted = await api.http.get(f"{TRADING}/plant/list", headers=bearer(trading_token))
        assert (faulted.status_code, faulted.json()["code"]) == (503, "INJECTED_FAULT")


async def plants_version(app: FastAPI, enabled: EnabledOrg) -> int:
    caller = await app_services(app).trading_callers.read(enabled.client_id)
    assert caller is not None
    return int(caller.plants_version)


class TestPlantConfig:
    async def test_an_applied_update_shows_at_once(
        self, api: Api, enabled: EnabledOrg, trading_token: str
    ) -> None:
        before = await plant_config(api, trading_token, enabled.default_plant_id)
        response = await api.update_config(trading_token, enabled.default_plant_id, WHOLE_DAY)
        assert response.json()["resultCode"] == "applied_ok", response.text
        after = await plant_config(api, trading_token, enabled.default_plant_id)
        assert after["version"] == before["version"] + 1
        assert after["timeConfigs"] == WHOLE_DAY

    async def test_another_writers_change_shows_at_once(
        self, api: Api, enabled: EnabledOrg, trading_token: str, other_writer: AsyncEngine
    ) -> None:
        await plant_config(api, trading_token, enabled.default_plant_id)
        await write(
            other_writer,
            "UPDATE voke_esm_plants SET esi_state = 'PLC_FAULT', config_version = 41"
            " WHERE client_id = :client AND external_plant_id = :plant",
            client=enabled.client_id,
            plant=enabled.default_plant_id,
        )
        after = await plant_config(api, trading_token, enabled.default_plant_id)
        assert (after["esiState"], after["version"]) == ("PLC_FAULT", 41)

    async def test_a_plant_deleted_and_created_again_under_its_id_is_the_new_one(
        self, api: Api, enabled: EnabledOrg, trading_token: str, other_writer: AsyncEngine
    ) -> None:
        """A new row starts at revision 1 like the old one did: the row id tells them apart."""
        created = await api.create_sandbox_plant(enabled.client_id, timeConfigs=SEED_BLOCKS)
        plant_id = created["externalPlantId"]
        assert (await plant_config(api, trading_token, plant_id))["timeConfigs"] == SEED_BLOCKS
        response = await api.http.delete(f"{ADMIN}/plants/{created['id']}", headers=api.headers)
        assert response.status_code == 200, response.text
        missing = await api.plant_config(trading_token, plant_id)
        assert missing.status_code == 404, missing.text
        await api.create_sandbox_plant(
            enabled.client_id, externalPlantId=plant_id, timeConfigs=WHOLE_DAY
        )
        assert (await plant_config(api, trading_token, plant_id))["timeConfigs"] == WHOLE_DAY

    async def test_each_plant_has_its_own_entry(
        self, api: Api, enabled: EnabledOrg, trading_token: str
    ) -> None:
        other = await api.create_sandbox_plant(enabled.client_id, timeConfigs=WHOLE_DAY)
        first = await plant_config(api, trading_token, enabled.default_plant_id)
        second = await plant_config(api, trading_token, other["externalPlantId"])
        assert (first["plantId"], second["plantId"]) == (
            enabled.default_plant_id,
            other["externalPlantId"],
        )
        assert second["timeConfigs"] == WHOLE_DAY


class TestTheCacheItself:
    def test_entries_are_served_only_for_their_version(self) -> None:
        cache = TradingReadCache()
        cache.put_plant_list("client", 3, b"[3]")
        assert cache.plant_list("client", 3) == b"[3]"
        assert cache.plant_list("client", 4) is None
        assert cache.plant_list("other", 3) is None
        cache.put_plant_config("client", ("row", 2), b"{2}")
        assert cache.plant_config("client", ("row", 2)) == b"{2}"
        assert cache.plant_config("client", ("row", 3)) is None
        assert cache.plant_config("client", ("another row", 2)) is None

    def test_the_least_recently_used_entries_go_first(self) -> None:
        cache = TradingReadCache(max_entries=2)
        cache.put_plant_list("a", 1, b"a")
        cache.put_plant_list("b", 1, b"b")
        assert cache.plant_list("a", 1) == b"a"  # a is now the most recently used
        cache.put_plant_list("c", 1, b"c")
        assert len(cache) == 2
        assert cache.plant_list("b", 1) is None
        assert (cache.plant_list("a", 1), cache.plant_list("c", 1)) == (b"a", b"c")


async def test_the_cached_bytes_are_the_json_the_models_describe(
    api: Api, enabled: EnabledOrg, trading_token: str
) -> None:
    response = await api.http.get(f"{TRADING}/plant/list", headers=bearer(trading_token))
    assert orjson.loads(response.content) == response.json()
    assert set(response.json()[0]) == {
        "plantId",
        "name",
        "descr",
        "fvePeakPowerKwp",
        "capacityKwh",
        "esiState",
        "configEnabled",
        "plantWithLoad",
        "meters",
    }


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
class TestThroughTheEngine:
    """A URL with query options reads the caller through the engine (EngineTradingCallers)
    rather than a driver connection of its own; the cache behaves the same."""

    @pytest.fixture
    def settings(self, tmp_path: Path, database_url: str) -> Settings:
        return make_settings(tmp_path, f"{database_url}?prepared_statement_cache_size=100")

    async def test_reads_and_invalidation(
        self, app: FastAPI, api: Api, enabled: EnabledOrg, trading_token: str
    ) -> None:
        assert type(app_services(app).trading_callers).__name__ == "EngineTradingCallers"
        await rename_shows_at_once(api, enabled, trading_token)
        config = await plant_config(api, trading_token, enabled.default_plant_id)
        assert config["plantId"] == enabled.default_plant_id
