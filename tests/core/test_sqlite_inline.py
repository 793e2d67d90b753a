"""SQLite runs on the event loop's thread (voke_esm.core.sqlite_inline); waiting for another
process's write lock must not hold the loop, and must end."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest
from fastapi import FastAPI

from tests.factories import Api
from voke_esm.core.config import Settings
from voke_esm.core.sqlite_inline import when_unlocked


def _locked() -> None:
    error = sqlite3.OperationalError("database is locked")
    error.sqlite_errorcode = sqlite3.SQLITE_BUSY
    raise error


async def test_a_lock_that_outlasts_the_timeout_is_an_error() -> None:
    began = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        await when_unlocked(_locked, 0.2)
    assert 0.2 <= time.monotonic() - began < 2


async def test_other_errors_are_not_waited_on() -> None:
    def broken() -> None:
        raise sqlite3.OperationalError("no such table: nope")

    began = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        await when_unlocked(broken, 30)
    assert time.monotonic() - began < 0.5


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_write_waits_for_another_writer_while_the_loop_keeps_answering(
    app: FastAPI, api: Api, settings: Settings
) -> None:
    """Another process holds the database's write lock: the service's write waits for it,
    asynchronously, and every other request is answered meanwhile."""
    other = sqlite3.connect(settings.resolved_database_url.split(":///", 1)[1], timeout=0)
    other.isolation_level = None
    other.execute("BEGIN IMMEDIATE")  # the write lock, as `voke-esm create-admin` would take it
    try:
        write = asyncio.create_task(api.http.post(
            "/api/v1/orgs", json={"name": "Waits for the lock"}, headers=api.headers
        ))  # fmt: skip
        began = time.monotonic()
        await asyncio.sleep(0.3)
        assert time.monotonic() - began < 0.6  # the loop ran on while the write waited
        assert not write.done()  # still waiting for the lock

        began = time.monotonic()
        health = await api.http.get("/healthz")
        assert health.status_code == 200
        assert time.monotonic() - began < 0.25  # the loop was free
    finally:
        other.execute("ROLLBACK")
        other.close()

    created = await asyncio.wait_for(write, timeout=10)
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "Waits for the lock"
