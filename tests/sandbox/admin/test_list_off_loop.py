"""The admin plant list runs off the event loop on SQLite (README, Development; issue 11).

Its JSON is built by SQLite, tens of milliseconds for thousands of plants. Run on the event
loop's thread (the inline driver, core/sqlite_inline.py), every trading call waited behind it;
run on a read-only connection in a worker thread (WAL lets readers run beside the writer), the
loop stays free, and a trading read's latency does not notice the list.
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import time

import pytest
from fastapi import FastAPI

from tests.factories import Api, bearer
from voke_esm.app import app_services

ADMIN = "/api/v1/voke-esm/admin"
PLANTS = 10_000  # as issue 11 measures it
CALLS = 150
LISTS = 8


def _seed(database: str, external_plant_id: str) -> None:
    """Clone the org's default plant `PLANTS` times, with SQL (the ORM would take seconds)."""
    db = sqlite3.connect(database)
    try:
        columns = [row[1] for row in db.execute("PRAGMA table_info(voke_esm_plants)")]
        copied = [c for c in columns if c not in ("id", "external_plant_id")]
        db.execute(
            f"INSERT INTO voke_esm_plants (id, external_plant_id, {', '.join(copied)})"
            " WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)"
            f" SELECT lower(hex(randomblob(16))), 'BULK-' || n.i, {', '.join(copied)}"
            " FROM n, voke_esm_plants WHERE external_plant_id = ?",
            (PLANTS, external_plant_id),
        )
        db.commit()
    finally:
        db.close()


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
class TestTradingBesideTheAdminList:
    async def test_a_big_admin_list_does_not_hold_up_trading_reads(
        self, api: Api, app: FastAPI
    ) -> None:
        org = await api.enabled_org()
        database = app_services(app).engine.url.database
        assert database is not None  # a SQLite file
        _seed(database, org.default_plant_id)
        token = await api.trading_token(org.client_id, org.client_secret)
        config = "/api/v1/voke-esm/trading/plant/config"

        lists = 0

        async def trading_latencies(*, lists_at_least: int = 0) -> list[float]:
            """At least CALLS calls, and more until that many lists have run meanwhile."""
            samples: list[float] = []
            deadline = time.monotonic() + 30
            while len(samples) < CALLS or lists < lists_at_least:
                assert time.monotonic() < deadline, (len(samples), lists)
                began = time.perf_counter()
                response = await api.http.get(
                    config, params={"plantId": org.default_plant_id}, headers=bearer(token)
                )
                samples.append(time.perf_counter() - began)
                assert response.status_code == 200, response.text
                await asyncio.sleep(0.002)  # calls arrive spread out, not back to back
            return samples

        listed = await api.http.get(
            f"{ADMIN}/plants", params={"orgId": org.id}, headers=api.headers
        )
        assert len(listed.json()) == PLANTS + 1
        alone = await trading_latencies()

        async def list_in_a_loop() -> None:
            nonlocal lists
            while True:
                response = await api.http.get(
                    f"{ADMIN}/plants", params={"orgId": org.id}, headers=api.headers
                )
                assert response.status_code == 200
                lists += 1

        lister = asyncio.create_task(list_in_a_loop())
        try:
            beside = await trading_latencies(lists_at_least=LISTS)
        finally:
            lister.cancel()
        # Generous, as a shared core jitters: a list held on the loop costs ~60 ms each (80 to
        # 350 ms of p95 here before the list moved off it), off the loop a few ms.
        assert _p95(beside) <= 3 * _p95(alone) + 0.025, (_p95(alone), _p95(beside), lists)
