"""Voke's trading sync and schedule push through its HTTP API (CONTRACT §7), with Voke's ESM
client reaching the sandbox over real TCP at the org's `esmApiUrl`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    SEED_BLOCKS,
    WHOLE_DAY,
    Api,
    EnabledOrg,
    error_body,
)
from tests.live import (
    eventually,
    live_settings,
    waiting_on_rate_limit,
)
from tests.robustness.servers import ServiceProcess
from voke_esm.core.config import Settings

pytestmark = pytest.mark.usefixtures("live_sandbox")

ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
NO_CREDENTIALS = error_body(
    409, "CONFLICT", "The organization has no ESM credentials: enable Voke ESM for it first"
)
ALREADY_RUNNING = error_body(
    409, "CONFLICT", "A trading sync of this organization is already running"
)
BACKWARDS = [{**WHOLE_DAY[0], "from": "08:00", "to": "07:00"}]


def parse_utc(text: str) -> datetime:
    assert ISO_Z.fullmatch(text), text
    return datetime.fromisoformat(text)


async def sync(api: Api, org_id: str) -> Any:
    return await api.http.post(f"/api/v1/orgs/{org_id}/trading/sync", headers=api.headers)


async def voke_plant(api: Api, org_id: str, plant_id: str) -> dict[str, Any]:
    response = await api.http.get(f"/api/v1/orgs/{org_id}/plants/{plant_id}", headers=api.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def push(
    api: Api, org_id: str, plant_id: str, time_configs: list[dict[str, Any]], **body: Any
) -> Any:
    return await api.http.put(
        f"/api/v1/orgs/{org_id}/plants/{plant_id}/time-configs",
        json={"timeConfigs": time_configs, **body},
        headers=api.headers,
    )


async def sandbox_config(api: Api, org: EnabledOrg, plant_id: str | None = None) -> dict[str, Any]:
    token = await api.trading_token(org.client_id, org.client_secret)
    response = await api.plant_config(token, plant_id or org.default_plant_id)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def admin_plant_id(api: Api, org: EnabledOrg, external_plant_id: str) -> str:
    plants = await api.sandbox_plants(clientId=org.client_id)
    return next(str(p["id"]) for p in plants if p["externalPlantId"] == external_plant_id)


@pytest.fixture
async def org(api: Api) -> EnabledOrg:
    return await api.enabled_org()


@pytest.fixture
async def linked(api: Api, org: EnabledOrg) -> dict[str, Any]:
    """A Voke plant wired to the org's default sandbox plant."""
    return await api.create_voke_plant(org.id, externalPlantId=org.default_plant_id)


# Sync ------------------------------------------------------------------------------------------


class TestSync:
    async def test_linked_plants_get_the_esm_config_and_the_others_are_left_alone(
        self, api: Api, org: EnabledOrg, linked: dict[str, Any]
    ) -> None:
        await api.create_sandbox_plant(org.client_id)  # listed, but no Voke plant links it
        unlinked = await api.create_voke_plant(org.id)
        unmatched = await api.create_voke_plant(org.id, externalPlantId="PLANT-ELSEWHERE")
        assert (linked["timeConfigs"], linked["configVersion"], linked["syncedAt"]) == (
            [],
            None,
            None,
        )
        before = datetime.now(UTC)

        response = await sync(api, org.id)

        assert response.status_code == 200
        assert response.json() == {
            "plantsListed": 2,
            "plantsLinked": 1,
            "configsStored": 1,
            "errors": [],
        }
        stored = await voke_plant(api, org.id, linked["id"])
        assert (stored["timeConfigs"], stored["configVersion"]) == (SEED_BLOCKS, 1)
        assert before <= parse_utc(stored["syncedAt"]) <= datetime.now(UTC)
        for plant in (unlinked, unmatched):
            assert await voke_plant(api, org.id, plant["id"]) == plant

    async def test_a_later_sync_stores_the_newer_version(
        self, api: Api, org: EnabledOrg, linked: dict[str, Any]
    ) -> None:
        assert (await sync(api, org.id)).status_code == 200
        first = await voke_plant(api, org.id, linked["id"])
        token = await api.trading_token(org.client_id, org.client_secret)
        assert (await api.update_config(token, org.default_plant_id, WHOLE_DAY)).status_code == 200

        response = await sync(api, org.id)

        assert response.json()["configsStored"] == 1
        stored = await voke_plant(api, org.id, linked["id"])
        assert (stored["timeConfigs"], stored["configVersion"]) == (WHOLE_DAY, 2)
        assert parse_utc(stored["syncedAt"]) > parse_utc(first["syncedAt"])

    async def test_syncs_of_an_org_share_one_token(
        self, api: Api, org: EnabledOrg, linked: dict[str, Any], caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG, logger="voke_esm")

        for _ in range(3):
            assert (await sync(api, org.id)).status_code == 200

        # The client logs each call it makes (§7: a token is reused until shortly before expiry).
        calls = [record.getMessage() for record in caplog.records]
        assert sum("GET /trading/plant/list" in call for call in calls) == 3
        assert sum("POST /trading/token" in call for call in calls) == 1

    async def test_a_sync_after_rotation_uses_the_new_credentials(
        self, api: Api, org: EnabledOrg, linked: dict[str, Any]
    ) -> None:
        assert (await sync(api, org.id)).status_code == 200
        await api.enable(org.id)  # §4: rotates the credentials Voke keeps for the org

        response = await sync(api, org.id)

        assert response.status_code == 200
        assert response.json() == {
            "plantsListed": 1,
            "plantsLinked": 1,
            "configsStored": 1,
            "errors": [],
        }

    async def test_an_org_that_was_never_enabled_is_a_conflict(self, api: Api) -> None:
        org = await api.create_org()

        response = await sync(api, org["id"])

        assert response.status_code == 409
        assert response.json() == NO_CREDENTIALS

    async def test_a_disabled_org_is_a_conflict(
        self, api: Api, org: EnabledOrg, linked: dict[str, Any]
    ) -> None:
        assert (await api.disable(org.id)).status_code == 200

        response = await sync(api, org.id)

        assert response.status_code == 409
        assert response.json() == NO_CREDENTIALS
        assert await voke_plant(api, org.id, linked["id"]) == linked

    async def test_an_unknown_org_is_not_found(self, api: Api) -> None:
        response = await sync(api, "7d2b4c1e-0000-4000-8000-000000000000")

        assert response.status_code == 404
        assert response.json() == error_body(404, "NOT_FOUND", "Organization not found")


class TestSyncUnderARateLimit:
    """A limit of one call per endpoint in 3 s makes the sync wait on a 429, at a known step."""

    @pytest.fixture
    def settings_overrides(self, sandbox_url: str) -> dict[str, Any]:
        return live_settings(sandbox_url, voke_esm_rate_limit="1/3 seconds")

    async def test_one_plants_failure_is_reported_and_the_others_are_stored(
        self, api: Api, org: EnabledOrg, linked: dict[str, Any], caplog: pytest.LogCaptureFixture
    ) -> None:
        second = await api.create_sandbox_plant(org.client_id, timeConfigs=WHOLE_DAY)
        doomed = await api.create_voke_plant(org.id, externalPlantId=second["externalPlantId"])
        caplog.set_level("INFO", logger="voke_esm")

        running = asyncio.create_task(sync(api, org.id))
        # The second plant's config call waits out a 429; delete its sandbox plant meanwhile.
        await eventually(waiting_on_rate_limit(caplog), timeout=10, what="the sync waits")
        deleted = await api.http.delete(
            f"/api/v1/voke-esm/admin/plants/{second['id']}", headers=api.headers
        )
        assert deleted.status_code == 200
        response = await running

        assert response.status_code == 200
        assert response.json() == {
            "plantsListed": 2,
            "plantsLinked": 2,
            "configsStored": 1,
            "errors": [
                {
                    "plantId": doomed["id"],
                    "externalPlantId": second["externalPlantId"],
                    "message": "ESM answered 404 NOT_FOUND: Voke ESM plant not found",
                }
            ],
        }
        stored = await voke_plant(api, org.id, linked["id"])
        assert (stored["timeConfigs"], stored["configVersion"]) == (SEED_BLOCKS, 1)
        assert await voke_plant(api, org.id, doomed["id"]) == doomed

    async def test_a_second_sync_of_the_org_while_one_runs_is_a_conflict(
        self, api: Api, org: EnabledOrg, linked: dict[str, Any], caplog: pytest.LogCaptureFixture
    ) -> None:
        # Using the token endpoint now makes the sync's own exchange wait on a 429.
        await api.trading_token(org.client_id, org.client_secret)
        caplog.set_level("INFO", logger="voke_esm")
        running = asyncio.create_task(sync(api, org.id))
        await eventually(waiting_on_rate_limit(caplog), timeout=10, what="the sync waits")

        second = await sync(api, org.id)
        first = await running

        assert second.status_code == 409
        assert second.json() == ALREADY_RUNNING
        assert first.status_code == 200
        assert first.json() == {
            "plantsListed": 1,
            "plantsLinked": 1,
            "configsStored": 1,
            "errors": [],
        }
        assert (await voke_plant(api, org.id, linked["id"]))["configVersion"] == 1


# Push ------------------------------------------------------------------------------------------


class TestPushTimeConfigs:
    async def test_applied_schedule_is_stored_on_the_plant_and_in_the_sandbox(
        self, api: Api, org: EnabledOrg, linked: dict[str, Any]
    ) -> None:
        response = await push(api, org.id, linked["id"], WHOLE_DAY, validateOnly=False)

        assert response.status_code == 200
        answer = response.json()
        assert answer == {
            "plantId": org.default_plant_id,
            "configUpdateReqCode": answer["configUpdateReqCode"],
            "resultCode": "applied_ok",
            "version": 2,
            "errors": [],
        }
        assert isinstance(answer["configUpdateReqCode"], str)
        assert answer["configUpdateReqCode"]
        stored = await voke_plant(api, org.id, linked["id"])
        assert (stored["timeConfigs"], stored["configVersion"]) == (WHOLE_DAY, 2)
        config = await sandbox_config(api, org)
        assert (config["version"], config["timeConfigs"]) == (2, WHOLE_DAY)

    async def test_each_push_is_its_own_update(
        self, api: Api, org: EnabledOrg, linked: dict[str, Any]
    ) -> None:
        first = await push(api, org.id, linked["id"], WHOLE_DAY)
        second = await push(api, org.id, linked["id"], SEED_BLOCKS)

        assert [first.json()["version"], second.json()["version"]] == [2, 3]
        assert first.json()["configUpdateReqCode"] != second.json()["configUpdateReqCode"]
        config = await sandbox_config(api, org)
        assert (config["version"], config["timeConfigs"]) == (3, SEED_BLOCKS)
        stored = await voke_plant(api, org.id, linked["id"])
        assert (stored["timeConfigs"], stored["configVersion"]) == (SEED_BLOCKS, 3)

    async def test_validate_only_is_accepted_and_nothing_is_stored(
        self, api: Api, org: EnabledOrg, linked: dict[str, Any]
    ) -> None:
        response = await push(api, org.id, linked["id"], WHOLE_DAY, validateOnly=True)

        assert response.status_code == 200
        answer = response.json()
        assert (answer["resultCode"], answer["version"], answer["errors"]) == (
            "cfg_accepted",
            1,
            [],
        )
        assert await voke_plant(api, org.id, linked["id"]) == linked
        config = await sandbox_config(api, org)
        assert (config["version"], config["timeConfigs"]) == (1, SEED_BLOCKS)

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            pytest.param("pBatMax", 2**64, id="pBatMax=2^64"),
            pytest.param("pBatMax", 10**300, id="pBatMax=10^300"),
            pytest.param("pBatMin", -(2**63) - 1, id="pBatMin=-2^63-1"),
        ],
    )
    async def test_numbers_beyond_64_bits_are_pushed_stored_and_synced_exactly(
        self, api: Api, org: EnabledOrg, linked: dict[str, Any], name: str, value: int
    ) -> None:
        schedule = [{**WHOLE_DAY[0], name: value}]

        checked = await push(api, org.id, linked["id"], schedule, validateOnly=True)
        pushed = await push(api, org.id, linked["id"], schedule)

        assert (checked.status_code, checked.json()["resultCode"]) == (200, "cfg_accepted")
        assert (pushed.status_code, pushed.json()["resultCode"]) == (200, "applied_ok")
        stored = await voke_plant(api, org.id, linked["id"])
        assert (stored["timeConfigs"], stored["configVersion"]) == (schedule, 2)
        config = await sandbox_config(api, org)
        assert (config["version"], config["timeConfigs"]) == (2, schedule)
        # A sync reads the schedule back from the ESM and stores it again, still exact.
        assert (await sync(api, org.id)).json()["configsStored"] == 1
        synced = await voke_plant(api, org.id, linked["id"])
        assert synced["timeConfigs"][0][name] == value

    async def test_versions_past_2_to_the_31_are_pushed_and_synced(
        self, api: Api, org: EnabledOrg, linked: dict[str, Any]
    ) -> None:
        top = 2**31 - 1  # the largest 32-bit integer: Voke's copy of the version overflowed past it
        (plant,) = (
            await api.http.get(
                "/api/v1/voke-esm/admin/snapshot", params={"orgId": org.id}, headers=api.headers
            )
        ).json()["plants"]
        restored = await api.http.put(
            "/api/v1/voke-esm/admin/snapshot",
            params={"orgId": org.id},
            json={"plants": [{**plant, "version": top}]},
            headers=api.headers,
        )
        assert restored.status_code == 200, restored.text
        assert (await sync(api, org.id)).json()["configsStored"] == 1
        assert (await voke_plant(api, org.id, linked["id"]))["configVersion"] == top

        pushed = await push(api, org.id, linked["id"], WHOLE_DAY)

        assert (pushed.status_code, pushed.json()["version"]) == (200, top + 1), pushed.text
        stored = await voke_plant(api, org.id, linked["id"])
        assert (stored["timeConfigs"], stored["configVersion"]) == (WHOLE_DAY, top + 1)

    async def test_a_schedule_breaking_the_block_rules_is_refused_before_any_call(
        self, api: Api, org: EnabledOrg, linked: dict[str, Any]
    ) -> None:
        response = await push(api, org.id, linked["id"], BACKWARDS)

        assert response.status_code == 400
        # Voke's own message, not the ESM's rejection ("The ESM rejected the schedule").
        assert response.json() == error_body(
            400,
            "VALIDATION_ERROR",
            "Validation error",
            {"errors": [{"field": "timeConfigs[0].to", "message": "must be later than from"}]},
        )
        assert await voke_plant(api, org.id, linked["id"]) == linked
        assert (await sandbox_config(api, org))["version"] == 1

    async def test_a_schedule_the_esm_rejects_is_a_validation_error_with_its_errors(
        self, api: Api, org: EnabledOrg, linked: dict[str, Any]
    ) -> None:
        sandbox_id = await admin_plant_id(api, org, org.default_plant_id)
        patched = await api.http.patch(
            f"/api/v1/voke-esm/admin/plants/{sandbox_id}",
            json={"configEnabled": False},
            headers=api.headers,
        )
        assert patched.status_code == 200, patched.text

        response = await push(api, org.id, linked["id"], WHOLE_DAY)

        assert response.status_code == 400
        assert response.json() == error_body(
            400,
            "VALIDATION_ERROR",
            "The ESM rejected the schedule",
            {
                "errors": [
                    {
                        "field": "configEnabled",
                        "message": "config updates are disabled for this plant",
                    }
                ]
            },
        )
        assert await voke_plant(api, org.id, linked["id"]) == linked
        config = await sandbox_config(api, org)
        assert (config["version"], config["timeConfigs"]) == (1, SEED_BLOCKS)

    async def test_an_unlinked_plant_is_a_validation_error(self, api: Api, org: EnabledOrg) -> None:
        unlinked = await api.create_voke_plant(org.id)

        response = await push(api, org.id, unlinked["id"], WHOLE_DAY)

        assert response.status_code == 400
        assert response.json() == error_body(
            400,
            "VALIDATION_ERROR",
            "The plant has no externalPlantId",
            {
                "errors": [
                    {
                        "field": "externalPlantId",
                        "message": "the plant is not linked to an ESM plant",
                    }
                ]
            },
        )
        assert await voke_plant(api, org.id, unlinked["id"]) == unlinked

    async def test_a_plant_the_esm_does_not_know_is_a_validation_error(
        self, api: Api, org: EnabledOrg
    ) -> None:
        stray = await api.create_voke_plant(org.id, externalPlantId="NOT-IN-THE-SANDBOX")

        response = await push(api, org.id, stray["id"], WHOLE_DAY)

        assert response.status_code == 400
        assert response.json() == error_body(
            400,
            "VALIDATION_ERROR",
            "The ESM does not know this plant",
            {
                "errors": [
                    {"field": "externalPlantId", "message": "the ESM has no plant with this id"}
                ]
            },
        )
        assert await voke_plant(api, org.id, stray["id"]) == stray

    async def test_an_org_without_credentials_is_a_conflict(
        self, api: Api, org: EnabledOrg, linked: dict[str, Any]
    ) -> None:
        assert (await api.disable(org.id)).status_code == 200

        response = await push(api, org.id, linked["id"], WHOLE_DAY)

        assert response.status_code == 409
        assert response.json() == NO_CREDENTIALS


class TestEsmUnreachable:
    """An ESM that refuses connections: after the client's retries, 502 ESM_UNAVAILABLE."""

    @pytest.fixture
    def settings_overrides(self, sandbox_url: str, closed_port: int) -> dict[str, Any]:
        return live_settings(
            sandbox_url, voke_esm_internal_url=f"http://127.0.0.1:{closed_port}/api/v1/voke-esm"
        )

    async def test_sync_answers_bad_gateway_and_stores_nothing(self, api: Api) -> None:
        org = await api.enabled_org()
        plant = await api.create_voke_plant(org.id, externalPlantId=org.default_plant_id)

        response = await sync(api, org.id)

        assert response.status_code == 502
        body = response.json()
        assert (body["code"], body["error"], body["statusCode"]) == (
            "ESM_UNAVAILABLE",
            "Bad Gateway",
            502,
        )
        assert body["message"].startswith("Listing the ESM's plants failed: ")
        assert await voke_plant(api, org.id, plant["id"]) == plant


# Periodic sync ---------------------------------------------------------------------------------


class TestPeriodicSync:
    @pytest.fixture
    def settings_overrides(self, sandbox_url: str) -> dict[str, Any]:
        return live_settings(sandbox_url, trading_sync_interval_s=0.5)

    async def test_a_linked_plant_is_synced_without_calling_the_sync_endpoint(
        self, api: Api, org: EnabledOrg, linked: dict[str, Any]
    ) -> None:
        synced: dict[str, Any] = {}

        async def poll() -> None:
            while True:
                plant = await voke_plant(api, org.id, linked["id"])
                if plant["syncedAt"] is not None:
                    synced.update(plant)
                    return
                await asyncio.sleep(0.1)

        await asyncio.wait_for(poll(), timeout=4)

        assert (synced["timeConfigs"], synced["configVersion"]) == (SEED_BLOCKS, 1)
        assert ISO_Z.fullmatch(synced["syncedAt"])


# The sync lease --------------------------------------------------------------------------------

LEASE_S = 3.0  # TRADING_SYNC_LEASE_S of these tests: short, so that they take seconds


async def put_faults(api: Api, org: EnabledOrg, *rules: dict[str, Any]) -> None:
    response = await api.http.put(
        "/api/v1/voke-esm/admin/faults",
        params={"orgId": org.id},
        json={"rules": list(rules)},
        headers=api.headers,
    )
    assert response.status_code == 200, response.text


def slow_plant_list(seconds: float) -> dict[str, Any]:
    """The sandbox's next plant/list answer waits `seconds`: a sync stays in flight that long."""
    return {"endpoint": "plant/list", "kind": "latency", "latencyMs": seconds * 1000, "count": 1}


class TestSyncLease:
    """The lease that keeps two syncs of one org apart is renewed while its sync runs, and a
    crashed holder's lease runs out within TRADING_SYNC_LEASE_S (issue 10)."""

    @pytest.fixture
    def settings_overrides(self, sandbox_url: str) -> dict[str, Any]:
        return live_settings(sandbox_url, trading_sync_lease_s=LEASE_S)

    async def test_a_sync_longer_than_its_lease_keeps_it(
        self, api: Api, org: EnabledOrg, linked: dict[str, Any]
    ) -> None:
        await put_faults(api, org, slow_plant_list(2 * LEASE_S))
        running = asyncio.create_task(sync(api, org.id))
        await asyncio.sleep(1.5 * LEASE_S)  # past the lease as first taken: renewed since

        second = await sync(api, org.id)
        first = await running

        assert (second.status_code, second.json()) == (409, ALREADY_RUNNING)
        assert first.status_code == 200, first.text
        assert first.json()["configsStored"] == 1
        assert (await sync(api, org.id)).status_code == 200  # given back at the end

    async def test_the_lease_of_an_instance_killed_mid_sync_runs_out_within_its_length(
        self,
        api: Api,
        org: EnabledOrg,
        linked: dict[str, Any],
        settings: Settings,
        tmp_path: Path,
    ) -> None:
        """The issue's reproduction: after `kill -9` during a sync, 409 for up to 600 s."""
        await put_faults(api, org, slow_plant_list(2 * LEASE_S))
        crashed = ServiceProcess(other_instance_env(settings, tmp_path), tmp_path / "crashed.log")
        await asyncio.to_thread(crashed.start)
        try:
            async with httpx.AsyncClient(base_url=crashed.base_url, timeout=30) as other:
                in_flight = asyncio.create_task(
                    other.post(f"/api/v1/orgs/{org.id}/trading/sync", headers=api.headers)
                )
                # Its token call is answered: its plant/list call now waits in the sandbox.
                await eventually_journaled(api, org, "/trading/token")
                await asyncio.sleep(0.3)
                await asyncio.to_thread(crashed.kill_9)
                killed_at = time.monotonic()
                with contextlib.suppress(httpx.TransportError):
                    await in_flight
        finally:
            crashed.stop()

        refused = await sync(api, org.id)
        assert (refused.status_code, refused.json()) == (409, ALREADY_RUNNING)
        while (response := await sync(api, org.id)).status_code == 409:
            if time.monotonic() - killed_at > LEASE_S + 2:
                pytest.fail(f"sync still refused {LEASE_S + 2} s after its holder was killed")
            await asyncio.sleep(0.2)
        assert response.status_code == 200, response.text
        assert response.json()["configsStored"] == 1


def other_instance_env(settings: Settings, folder: Path) -> dict[str, str]:
    """`voke-esm serve` as a second instance of the test's app: its database and keys."""
    assert settings.database_url is not None
    assert settings.jwt_secret is not None
    assert settings.voke_encryption_key is not None
    env = {key: value for key, value in os.environ.items() if not key.startswith("VOKE_")}
    for name in ("AMQP_URL", "RATE_LIMIT_STORAGE_URL", "TRADING_SYNC_INTERVAL_S"):
        env.pop(name, None)
    return {
        **env,
        "VOKE_ENV": "test",
        "VOKE_VAR_DIR": str(folder / "other-var"),
        "DATABASE_URL": settings.database_url,
        "JWT_SECRET": settings.jwt_secret.get_secret_value(),
        "VOKE_ENCRYPTION_KEY": settings.voke_encryption_key.get_secret_value(),
        "VOKE_ESM_RATE_LIMIT": settings.voke_esm_rate_limit,
        "VOKE_ADMIN_EMAIL": ADMIN_EMAIL,
        "VOKE_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "TRADING_SYNC_LEASE_S": str(LEASE_S),
    }


async def eventually_journaled(api: Api, org: EnabledOrg, path: str) -> None:
    """Until the sandbox's journal holds a call of `path` by the org."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        response = await api.http.get(
            "/api/v1/voke-esm/admin/journal", params={"orgId": org.id}, headers=api.headers
        )
        assert response.status_code == 200, response.text
        if any(entry["path"].endswith(path) for entry in response.json()):
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"no {path} call within 15 s")
