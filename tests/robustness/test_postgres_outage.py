"""PostgreSQL goes away under load and comes back (CONTRACT §2 `SERVICE_UNAVAILABLE`).

A cluster of this module's own (tests/robustness/outages.py), stopped with `-m immediate`: while
it is down every request that needs it answers 503 with the envelope, never 500; once it is
back the same app instance answers again, without a restart, and no update was lost or doubled.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import _truncate_all, run_in_thread
from tests.factories import WHOLE_DAY, Api, EnabledOrg, error_body
from tests.robustness.outages import PostgresCluster
from voke_esm.migrations import upgrade_to_head

pytestmark = pytest.mark.postgres

TRADING = "/api/v1/voke-esm/trading"
DATABASE_UNAVAILABLE = error_body(503, "SERVICE_UNAVAILABLE", "Database unavailable")
RECOVERY_S = 30

_codes = itertools.count(1)


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    own = PostgresCluster()
    try:
        own.init()
        own.start()
        run_in_thread(lambda: upgrade_to_head(own.url))
        yield own
    finally:
        own.remove()


@pytest.fixture
async def database_url(cluster: PostgresCluster) -> str:
    await _truncate_all(cluster.url)
    return cluster.url


@dataclass
class Answer:
    probe: str
    started: float
    status: int
    body: Any


Probe = Callable[[], Awaitable[httpx.Response]]


def probes(api: Api, org: EnabledOrg, token: str) -> dict[str, Probe]:
    """One request of each kind that needs the database."""
    http, bearer = api.http, {"Authorization": f"Bearer {token}"}
    return {
        "readyz": lambda: http.get("/readyz"),
        "org": lambda: http.get(f"/api/v1/orgs/{org.id}", headers=api.headers),
        "status": lambda: http.get(
            "/api/v1/voke-esm/admin/status", params={"orgId": org.id}, headers=api.headers
        ),
        "token": lambda: http.post(
            f"{TRADING}/token", json={"clientId": org.client_id, "clientSecret": org.client_secret}
        ),
        "plant/config": lambda: http.get(
            f"{TRADING}/plant/config", params={"plantId": org.default_plant_id}, headers=bearer
        ),
        "config/update": lambda: api.update_config(
            token, org.default_plant_id, WHOLE_DAY, code=f"outage-{next(_codes)}"
        ),
    }


async def sweep(requests: dict[str, Probe]) -> list[Answer]:
    answers = []
    for name, probe in requests.items():
        started = time.monotonic()
        response = await probe()
        answers.append(Answer(name, started, response.status_code, response.json()))
    return answers


class TestDatabaseStoppedUnderLoad:
    async def test_503_while_down_then_answers_again_without_a_restart(
        self, api: Api, cluster: PostgresCluster
    ) -> None:
        org = await api.enabled_org()
        token = await api.trading_token(org.client_id, org.client_secret)
        requests = probes(api, org, token)
        answers = await sweep(requests)
        assert [answer.status for answer in answers] == [200] * len(requests)

        await asyncio.to_thread(cluster.crash)
        down = [answer for _ in range(3) for answer in await sweep(requests)]
        await asyncio.to_thread(cluster.start)
        back_at = time.monotonic()
        recovering: list[Answer] = []
        while True:
            latest = await sweep(requests)
            recovering += latest
            if all(answer.status == 200 for answer in latest):
                break
            assert time.monotonic() - back_at < RECOVERY_S, [(a.probe, a.status) for a in latest]
        config = await requests["plant/config"]()

        assert [(a.probe, a.status, a.body) for a in down] == [
            (a.probe, 503, DATABASE_UNAVAILABLE) for a in down
        ]
        assert [(a.probe, a.body) for a in recovering if a.status != 200] == [
            (a.probe, DATABASE_UNAVAILABLE) for a in recovering if a.status != 200
        ]
        applied = [
            a for a in answers + down + recovering if a.probe == "config/update" and a.status == 200
        ]
        assert {a.body["resultCode"] for a in applied} == {"applied_ok"}
        # Versions 2, 3, …: none lost while the database was away, none given twice.
        assert sorted(a.body["version"] for a in applied) == list(range(2, 2 + len(applied)))
        assert config.json()["version"] == 1 + len(applied)
