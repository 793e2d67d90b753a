"""`kill -9` of `voke-esm serve` (SQLite) in the middle of config updates, then a restart.

An update answered `applied_ok` was committed before the answer left (each request commits once,
before its response): after a crash and a restart it is still there, with the version it was
given, and the versions of the applied updates run 2, 3, … with no gap and no repeat (§6).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import httpx

from tests.factories import ADMIN_EMAIL, ADMIN_PASSWORD, WHOLE_DAY
from tests.robustness.servers import ServiceProcess

TRADING = "/api/v1/voke-esm/trading"
WORKERS = 6
ACKNOWLEDGED_BEFORE_KILL = 40


def service_env(folder: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("VOKE_")}
    for name in ("DATABASE_URL", "AMQP_URL", "RATE_LIMIT_STORAGE_URL", "JWT_SECRET"):
        env.pop(name, None)
    return {
        **env,
        "VOKE_ENV": "test",
        "VOKE_VAR_DIR": str(folder / "var"),
        "DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'voke-esm.db'}",
        "JWT_SECRET": "kill-9-jwt-secret-" + "x" * 32,
        "VOKE_ENCRYPTION_KEY": "kill-9-encryption-key-" + "y" * 32,
        "VOKE_ESM_RATE_LIMIT": "100000/minute",
        "VOKE_ADMIN_EMAIL": ADMIN_EMAIL,
        "VOKE_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }


async def enabled_org(http: httpx.AsyncClient) -> tuple[dict[str, str], str]:
    """Sign in, create and enable an org; its credentials and default plant's externalPlantId."""
    login = await http.post(
        "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    admin = {"Authorization": f"Bearer {login.json()['accessToken']}"}
    org = (await http.post("/api/v1/orgs", json={"name": "Crash"}, headers=admin)).json()
    credentials = (
        await http.post("/api/v1/voke-esm/admin/enable", params={"orgId": org["id"]}, headers=admin)
    ).json()
    plants = await http.get(
        "/api/v1/voke-esm/admin/plants",
        params={"clientId": credentials["clientId"]},
        headers=admin,
    )
    return credentials, plants.json()[0]["externalPlantId"]


def update_body(plant_id: str, code: str) -> dict[str, Any]:
    return {
        "plantId": plant_id,
        "configUpdateReqCode": code,
        "validateOnly": False,
        "timeConfigs": WHOLE_DAY,
    }


def applied_versions(database: Path) -> list[int]:
    """The versions the database holds as given by applied updates (their stored answers)."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT response FROM voke_esm_config_updates").fetchall()
    finally:
        connection.close()
    answers = [json.loads(response) for (response,) in rows]
    return sorted(answer["version"] for answer in answers if answer["resultCode"] == "applied_ok")


class TestKill9UnderConfigUpdates:
    async def test_every_acknowledged_update_survives_and_versions_stay_contiguous(
        self, tmp_path: Path
    ) -> None:
        service = ServiceProcess(service_env(tmp_path), tmp_path / "service.log")
        service.start()
        try:
            async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as http:
                credentials, plant_id = await enabled_org(http)
                token = (await http.post(f"{TRADING}/token", json=credentials)).json()
                headers = {"Authorization": f"Bearer {token['accessToken']}"}
                acknowledged: dict[str, dict[str, Any]] = {}
                codes = itertools.count(1)
                enough = asyncio.Event()

                async def push_updates() -> None:
                    while True:
                        code = f"crash-{next(codes)}"
                        try:
                            answer = await http.post(
                                f"{TRADING}/plant/config/update",
                                json=update_body(plant_id, code),
                                headers=headers,
                            )
                        except httpx.TransportError:
                            return  # the service is gone
                        assert answer.status_code == 200, answer.text
                        acknowledged[code] = answer.json()
                        if len(acknowledged) >= ACKNOWLEDGED_BEFORE_KILL:
                            enough.set()

                workers = [asyncio.create_task(push_updates()) for _ in range(WORKERS)]
                await asyncio.wait_for(enough.wait(), timeout=60)
                service.kill_9()  # with WORKERS updates in flight
                await asyncio.gather(*workers)

            service.start()
            async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as http:
                config = await http.get(
                    f"{TRADING}/plant/config", params={"plantId": plant_id}, headers=headers
                )
                # The same code again returns the first answer (§6): each one was kept.
                replayed = {
                    code: (
                        await http.post(
                            f"{TRADING}/plant/config/update",
                            json=update_body(plant_id, code),
                            headers=headers,
                        )
                    ).json()
                    for code in acknowledged
                }
        finally:
            service.stop()

        versions = [answer["version"] for answer in acknowledged.values()]
        assert {answer["resultCode"] for answer in acknowledged.values()} == {"applied_ok"}
        assert len(set(versions)) == len(versions), "two acknowledged updates share a version"
        final = config.json()["version"]
        assert final >= max(versions)
        assert replayed == acknowledged
        assert applied_versions(tmp_path / "voke-esm.db") == list(range(2, final + 1))
