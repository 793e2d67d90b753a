"""The trading caller query's answers on SQLite are kept while `PRAGMA data_version` holds, and
never once anything is committed: a rotation, a disable, a fault rule or a plant's change counts
on the very next read (CONTRACT §6), whoever wrote it."""

from __future__ import annotations

import sqlite3

import pytest
from fastapi import FastAPI

from tests.factories import Api, EnabledOrg
from voke_esm.app import app_services
from voke_esm.sandbox.trading.callers import SqliteTradingCallers, TradingCaller

ADMIN = "/api/v1/voke-esm/admin"

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def sqlite_callers(app: FastAPI) -> SqliteTradingCallers:
    callers = app_services(app).trading_callers
    assert isinstance(callers, SqliteTradingCallers)
    return callers


async def read(app: FastAPI, enabled: EnabledOrg, plant_id: str | None = None) -> TradingCaller:
    caller = await sqlite_callers(app).read(enabled.client_id, plant_id)
    assert caller is not None
    return caller


class TestCallerAnswers:
    async def test_an_unchanged_database_answers_from_memory(
        self, app: FastAPI, enabled: EnabledOrg
    ) -> None:
        first = await read(app, enabled)
        assert await read(app, enabled) is first  # the same answer, not a new query's

    async def test_a_rotation_counts_at_once(
        self, app: FastAPI, api: Api, enabled: EnabledOrg
    ) -> None:
        await read(app, enabled)
        fresh = await api.enable(enabled.id)  # new credentials; the old clientId dies with them
        assert await sqlite_callers(app).read(enabled.client_id) is None
        assert await sqlite_callers(app).read(fresh["clientId"]) is not None

    async def test_a_disable_counts_at_once(
        self, app: FastAPI, api: Api, enabled: EnabledOrg
    ) -> None:
        await read(app, enabled)
        assert (await api.disable(enabled.id)).status_code == 200
        assert await sqlite_callers(app).read(enabled.client_id) is None

    async def test_a_fault_rule_counts_at_once(
        self, app: FastAPI, api: Api, enabled: EnabledOrg
    ) -> None:
        assert (await read(app, enabled)).fault_rules == []
        rules = {"rules": [{"endpoint": "plant/list", "kind": "error", "status": 503}]}
        response = await api.http.put(
            f"{ADMIN}/faults", params={"orgId": enabled.id}, json=rules, headers=api.headers
        )
        assert response.status_code == 200, response.text
        assert (await read(app, enabled)).fault_rules != []

    async def test_a_plant_change_counts_at_once(
        self, app: FastAPI, api: Api, enabled: EnabledOrg
    ) -> None:
        before = await read(app, enabled, enabled.default_plant_id)
        assert before.plant_key is not None
        [plant] = await api.sandbox_plants(clientId=enabled.client_id)
        response = await api.http.patch(
            f"{ADMIN}/plants/{plant['id']}", json={"name": "Renamed"}, headers=api.headers
        )
        assert response.status_code == 200, response.text
        after = await read(app, enabled, enabled.default_plant_id)
        assert after.plant_key is not None
        assert after.plant_key[1] != before.plant_key[1]  # the plant's revision
        assert after.plants_version != before.plants_version

    async def test_another_processs_commit_counts_at_once(
        self, app: FastAPI, enabled: EnabledOrg
    ) -> None:
        before = await read(app, enabled)
        database = app_services(app).engine.url.database
        assert database is not None
        other = sqlite3.connect(database, isolation_level=None)  # not the app's: another writer
        try:
            other.execute(
                "UPDATE voke_esm_clients SET secret_digest = 'rotated elsewhere'"
                " WHERE client_id = ?",
                (enabled.client_id,),
            )
        finally:
            other.close()
        after = await read(app, enabled)
        assert after.secret_digest == "rotated elsewhere" != before.secret_digest
