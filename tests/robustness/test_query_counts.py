"""The number of SQL statements a request runs does not grow with the number of plants.

A list that loads each plant's row with a query of its own (N+1) works on a sandbox of three
plants and falls over on a real one; the benchmarks (docs/PERFORMANCE.md) show the time, this
shows the cause. Every statement the app's engine sends is counted, and so is the trading
caller query, which on SQLite runs on a connection of its own (voke_esm.sandbox.trading.callers).
The trading read cache is emptied before each counted call, so the call does its whole work.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event

from tests.factories import SEED_BLOCKS, WHOLE_DAY, Api, EnabledOrg, bearer
from voke_esm.app import app_services
from voke_esm.sandbox.trading.callers import SqliteTradingCallers, TradingCaller

TRADING = "/api/v1/voke-esm/trading"
MORE_PLANTS = 19  # 1 plant, then 20

_codes = itertools.count(1)

Call = Callable[[], Awaitable[httpx.Response]]


_TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}


@contextmanager
def counted_statements(app: FastAPI) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statement = args[2]  # (connection, cursor, statement, parameters, context, many)
        # The §11 journal is written in background batches, in transactions of their own: whether
        # one lands inside the window is timing, not the request's query count. Transaction
        # control (BEGIN, COMMIT, SAVEPOINT…) is not a query either, so neither is counted.
        keyword = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
        if keyword in _TRANSACTION_CONTROL or "voke_esm_journal" in statement:
            return
        statements.append(statement)

    engine = app_services(app).engine.sync_engine
    pipeline = app_services(app).trading_pipeline  # the trading calls' one way to the caller query
    callers = pipeline.callers
    if isinstance(callers, SqliteTradingCallers):
        pipeline.callers = CountedCallers(callers, statements)
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
        pipeline.callers = callers


class CountedCallers:
    """The SQLite caller query runs outside the engine: one statement per read, counted here."""

    def __init__(self, callers: SqliteTradingCallers, statements: list[str]) -> None:
        self._callers = callers
        self._statements = statements

    async def read(self, client_id: str, plant_id: str | None = None) -> TradingCaller | None:
        self._statements.append("trading caller query (its own SQLite connection)")
        return await self._callers.read(client_id, plant_id)

    async def aclose(self) -> None:
        await self._callers.aclose()


async def statements_of(app: FastAPI, call: Call) -> list[str]:
    """The statements of one call, after a first one has warmed caches and connections up."""
    assert (await call()).status_code == 200
    app_services(app).plant_reads.cache.clear()
    with counted_statements(app) as statements:
        response = await call()
    assert response.status_code == 200, response.text
    assert statements, "the request ran no SQL at all: the counter is not wired to the app"
    return statements


async def same_count_with_more_plants(
    app: FastAPI, call: Call, add_plants: Callable[[], Awaitable[None]], plants_listed: Call
) -> None:
    one = await statements_of(app, call)
    assert len((await plants_listed()).json()) == 1
    await add_plants()
    assert len((await plants_listed()).json()) == 1 + MORE_PLANTS  # the growth really happened
    twenty = await statements_of(app, call)
    assert len(twenty) == len(one), "\n".join(["with 1 plant:", *one, "with 20:", *twenty])


def sandbox_plants_adder(api: Api, org: EnabledOrg) -> Callable[[], Awaitable[None]]:
    async def add() -> None:
        for _ in range(MORE_PLANTS):
            await api.create_sandbox_plant(org.client_id, timeConfigs=SEED_BLOCKS)

    return add


class TestStatementsPerRequestStayConstantAsPlantsGrow:
    async def test_admin_plant_list(self, app: FastAPI, api: Api, enabled: EnabledOrg) -> None:
        async def call() -> httpx.Response:
            return await api.http.get("/api/v1/voke-esm/admin/plants", headers=api.headers)

        await same_count_with_more_plants(app, call, sandbox_plants_adder(api, enabled), call)

    async def test_admin_plant_list_of_one_client(
        self, app: FastAPI, api: Api, enabled: EnabledOrg
    ) -> None:
        async def call() -> httpx.Response:
            return await api.http.get(
                "/api/v1/voke-esm/admin/plants",
                params={"clientId": enabled.client_id},
                headers=api.headers,
            )

        await same_count_with_more_plants(app, call, sandbox_plants_adder(api, enabled), call)

    async def test_trading_plant_list(
        self, app: FastAPI, api: Api, enabled: EnabledOrg, trading_token: str
    ) -> None:
        async def call() -> httpx.Response:
            return await api.http.get(f"{TRADING}/plant/list", headers=bearer(trading_token))

        await same_count_with_more_plants(app, call, sandbox_plants_adder(api, enabled), call)

    async def test_trading_plant_config(
        self, app: FastAPI, api: Api, enabled: EnabledOrg, trading_token: str
    ) -> None:
        async def call() -> httpx.Response:
            return await api.plant_config(trading_token, enabled.default_plant_id)

        async def listed() -> httpx.Response:
            return await api.http.get(f"{TRADING}/plant/list", headers=bearer(trading_token))

        await same_count_with_more_plants(app, call, sandbox_plants_adder(api, enabled), listed)

    async def test_trading_config_update(
        self, app: FastAPI, api: Api, enabled: EnabledOrg, trading_token: str
    ) -> None:
        async def call() -> httpx.Response:
            response = await api.update_config(
                trading_token, enabled.default_plant_id, WHOLE_DAY, code=f"count-{next(_codes)}"
            )
            assert response.json()["resultCode"] == "applied_ok", response.text
            return response

        async def listed() -> httpx.Response:
            return await api.http.get(f"{TRADING}/plant/list", headers=bearer(trading_token))

        await same_count_with_more_plants(app, call, sandbox_plants_adder(api, enabled), listed)

    async def test_voke_plants_list(self, app: FastAPI, api: Api) -> None:
        org = await api.create_org()
        await api.create_voke_plant(org["id"], externalPlantId="PLANT-LINKED")

        async def call() -> httpx.Response:
            return await api.http.get(f"/api/v1/orgs/{org['id']}/plants", headers=api.headers)

        async def add() -> None:
            for number in range(MORE_PLANTS):
                await api.create_voke_plant(org["id"], externalPlantId=f"PLANT-{number}")

        await same_count_with_more_plants(app, call, add, call)
