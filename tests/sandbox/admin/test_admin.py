"""The sandbox admin API (CONTRACT §4) and who may call it (§3)."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt

from tests.factories import (
    SEED_BLOCKS,
    SITE_DEFAULTS,
    WHOLE_DAY,
    Api,
    EnabledOrg,
    bearer,
    error_body,
)
from voke_esm.core.config import Settings

ADMIN = "/api/v1/voke-esm/admin"
TRADING = "/api/v1/voke-esm/trading"

# The seeds print exactly this body for a malformed id, on every endpoint.
INVALID_UUID = error_body(400, "INVALID_UUID", "Invalid UUID")
PLANT_NOT_FOUND = error_body(404, "NOT_FOUND", "Voke ESM plant not found")
ORG_NOT_FOUND = error_body(404, "NOT_FOUND", "Organization not found")
INVALID_CLIENT = error_body(401, "INVALID_CLIENT", "Invalid client credentials")
TOKEN_REFUSED = error_body(401, "UNAUTHORIZED", "Invalid or expired token")
NO_TOKEN = error_body(401, "UNAUTHORIZED", "Authentication required")
NOT_SUPER_ADMIN = error_body(403, "FORBIDDEN", "SuperAdmin role required")
UNBOUND_CLIENT = error_body(
    400,
    "VALIDATION_ERROR",
    "Validation error or unbound clientId",
    {"errors": [{"field": "clientId", "message": "is not bound to an enabled organization"}]},
)
UTC_Z = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")
ORG_ENDPOINTS = [("POST", "enable"), ("POST", "disable"), ("GET", "status")]


def assert_utc_between(value: str, start: datetime, end: datetime) -> None:
    assert UTC_Z.fullmatch(value), value
    assert start <= datetime.fromisoformat(value) <= end


async def exchange(api: Api, client_id: str, client_secret: str) -> httpx.Response:
    return await api.http.post(
        f"{TRADING}/token", json={"clientId": client_id, "clientSecret": client_secret}
    )


async def trading_plant_ids(api: Api, token: str) -> list[str]:
    response = await api.http.get(f"{TRADING}/plant/list", headers=bearer(token))
    assert response.status_code == 200, response.text
    return [plant["plantId"] for plant in response.json()]


async def config_of(api: Api, org: EnabledOrg, external_plant_id: str) -> dict[str, Any]:
    token = await api.trading_token(org.client_id, org.client_secret)
    response = await api.plant_config(token, external_plant_id)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def org_admin_token(api: Api, org_id: str) -> str:
    email = f"org-admin-{uuid.uuid4().hex[:8]}@example.com"
    created = await api.http.post(
        "/api/v1/users",
        json={
            "email": email,
            "password": "org admin password",
            "role": "ORG_ADMIN",
            "orgId": org_id,
        },
        headers=api.headers,
    )
    assert created.status_code == 201, created.text
    login = await api.http.post(
        "/api/v1/auth/login", json={"email": email, "password": "org admin password"}
    )
    assert login.status_code == 200, login.text
    return str(login.json()["accessToken"])


def without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key not in keys}


class TestEnable:
    async def test_returns_working_credentials_and_the_configured_esm_api_url(
        self, api: Api, settings: Settings
    ) -> None:
        org = await api.create_org()
        response = await api.http.post(
            f"{ADMIN}/enable", params={"orgId": org["id"]}, headers=api.headers
        )

        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"clientId", "clientSecret", "esmApiUrl"}
        assert body["esmApiUrl"] == settings.voke_esm_internal_url
        exchanged = await exchange(api, body["clientId"], body["clientSecret"])
        assert exchanged.status_code == 200, exchanged.text

    async def test_first_enable_creates_one_default_plant_covering_the_day(self, api: Api) -> None:
        org = await api.create_org()
        credentials = await api.enable(org["id"])

        plants = await api.sandbox_plants()
        assert len(plants) == 1
        (plant,) = plants
        assert plant["clientId"] == credentials["clientId"]
        assert plant["externalPlantId"]
        blocks = plant["timeConfigs"]
        assert len(blocks) == 2
        assert (blocks[0]["from"], blocks[0]["to"]) == ("00:00", blocks[1]["from"])
        assert blocks[1]["to"] == "23:59"

    async def test_every_call_issues_a_new_client_id_and_secret(self, api: Api) -> None:
        org = await api.create_org()
        first = await api.enable(org["id"])
        second = await api.enable(org["id"])

        assert second["clientId"] != first["clientId"]
        assert second["clientSecret"] != first["clientSecret"]

    async def test_rotation_kills_the_old_secret_and_its_tokens_at_once(self, api: Api) -> None:
        org = await api.enabled_org()
        old_token = await api.trading_token(org.client_id, org.client_secret)

        rotated = await api.enable(org.id)

        refused = await api.http.get(f"{TRADING}/plant/list", headers=bearer(old_token))
        assert (refused.status_code, refused.json()) == (401, TOKEN_REFUSED)
        for client_id, secret in (
            (org.client_id, org.client_secret),
            (org.client_id, rotated["clientSecret"]),
            (rotated["clientId"], org.client_secret),
        ):
            old = await exchange(api, client_id, secret)
            assert (old.status_code, old.json()) == (401, INVALID_CLIENT)
        new_token = await api.trading_token(rotated["clientId"], rotated["clientSecret"])
        assert await trading_plant_ids(api, new_token) == [org.default_plant_id]

    async def test_rotation_moves_the_plants_and_adds_no_second_default(self, api: Api) -> None:
        org = await api.enabled_org()
        extra = await api.create_sandbox_plant(org.client_id)
        before = await api.sandbox_plants(clientId=org.client_id)

        rotated = await api.enable(org.id)

        moved = await api.sandbox_plants(clientId=rotated["clientId"])
        assert [plant["id"] for plant in moved] == [plant["id"] for plant in before]
        assert extra["id"] in {plant["id"] for plant in moved}
        assert await api.sandbox_plants(clientId=org.client_id) == []
        assert len(await api.sandbox_plants()) == 2


class TestDisable:
    async def test_revokes_the_credentials_and_their_tokens(self, api: Api) -> None:
        org = await api.enabled_org()
        token = await api.trading_token(org.client_id, org.client_secret)

        response = await api.disable(org.id)

        assert response.status_code == 200
        assert list(response.json()) == ["message"]
        assert isinstance(response.json()["message"], str)
        refused = await api.http.get(f"{TRADING}/plant/list", headers=bearer(token))
        assert (refused.status_code, refused.json()) == (401, TOKEN_REFUSED)
        exchanged = await exchange(api, org.client_id, org.client_secret)
        assert (exchanged.status_code, exchanged.json()) == (401, INVALID_CLIENT)

    async def test_clears_the_trading_partner_config(self, api: Api) -> None:
        org = await api.enabled_org()

        await api.disable(org.id)

        response = await api.http.get(
            f"/api/v1/orgs/{org.id}/settings/connections", headers=api.headers
        )
        assert response.status_code == 200
        assert response.json() == {
            "orgId": org.id,
            "esmCredentialsSet": False,
            "clientId": None,
            "esmApiUrl": None,
            "credentialsSetAt": None,
        }

    async def test_keeps_the_plants_and_re_enable_binds_them_to_the_new_client(
        self, api: Api
    ) -> None:
        org = await api.enabled_org()
        extra = await api.create_sandbox_plant(org.client_id)
        kept = [plant["id"] for plant in await api.sandbox_plants(clientId=org.client_id)]

        await api.disable(org.id)
        still_there = await api.http.get(f"{ADMIN}/plants/{extra['id']}", headers=api.headers)
        assert still_there.status_code == 200
        credentials = await api.enable(org.id)

        rebound = await api.sandbox_plants(clientId=credentials["clientId"])
        assert [plant["id"] for plant in rebound] == kept
        token = await api.trading_token(credentials["clientId"], credentials["clientSecret"])
        assert sorted(await trading_plant_ids(api, token)) == sorted(
            [org.default_plant_id, extra["externalPlantId"]]
        )

    async def test_disabling_a_disabled_org_is_a_no_op(self, api: Api) -> None:
        never_enabled = await api.create_org()
        org = await api.enabled_org()
        await api.disable(org.id)

        for org_id in (never_enabled["id"], org.id):
            response = await api.disable(org_id)
            assert response.status_code == 200, response.text
            assert list(response.json()) == ["message"]
        assert (await api.status(org.id))["plantCount"] == 1
        assert (await api.status(never_enabled["id"]))["plantCount"] == 0


class TestStatus:
    async def test_a_never_enabled_org_shows_nulls(self, api: Api) -> None:
        org = await api.create_org()

        status = await api.status(org["id"])

        assert isinstance(status["message"], str)
        assert without(status, "message") == {
            "enabled": False,
            "clientId": None,
            "esmApiUrl": None,
            "plantCount": 0,
            "enabledAt": None,
        }

    async def test_an_enabled_org_shows_its_client_url_plants_and_enabling_time(
        self, api: Api
    ) -> None:
        org = await api.create_org()
        start = datetime.now(UTC)
        credentials = await api.enable(org["id"])
        end = datetime.now(UTC)

        status = await api.status(org["id"])

        assert without(status, "message", "enabledAt") == {
            "enabled": True,
            "clientId": credentials["clientId"],
            "esmApiUrl": credentials["esmApiUrl"],
            "plantCount": 1,
        }
        assert_utc_between(status["enabledAt"], start, end)

    async def test_plant_count_includes_plants_kept_while_disabled(self, api: Api) -> None:
        org = await api.enabled_org()
        await api.create_sandbox_plant(org.client_id)

        await api.disable(org.id)

        status = await api.status(org.id)
        assert without(status, "message") == {
            "enabled": False,
            "clientId": None,
            "esmApiUrl": None,
            "plantCount": 2,
            "enabledAt": None,
        }


class TestOrgIdQuery:
    """enable, disable and status read the same `orgId` query parameter (CONTRACT §4)."""

    async def test_missing_org_id_is_a_validation_error(self, api: Api) -> None:
        expected = error_body(
            400,
            "VALIDATION_ERROR",
            "Validation error",
            {"errors": [{"field": "orgId", "message": "Field required"}]},
        )
        for method, name in ORG_ENDPOINTS:
            response = await api.http.request(method, f"{ADMIN}/{name}", headers=api.headers)
            assert (response.status_code, response.json()) == (400, expected), name

    async def test_non_uuid_org_id_is_invalid_uuid(self, api: Api) -> None:
        for method, name in ORG_ENDPOINTS:
            response = await api.http.request(
                method, f"{ADMIN}/{name}", params={"orgId": "acme"}, headers=api.headers
            )
            assert (response.status_code, response.json()) == (400, INVALID_UUID), name

    async def test_unknown_org_is_not_found(self, api: Api) -> None:
        for method, name in ORG_ENDPOINTS:
            response = await api.http.request(
                method, f"{ADMIN}/{name}", params={"orgId": str(uuid.uuid4())}, headers=api.headers
            )
            assert (response.status_code, response.json()) == (404, ORG_NOT_FOUND), name


class TestCreatePlant:
    async def test_applies_the_contract_defaults(self, api: Api) -> None:
        org = await api.enabled_org()
        start = datetime.now(UTC)
        response = await api.post_sandbox_plant(
            {"clientId": org.client_id, "externalPlantId": "PLANT-001", "name": "Acme Site A"}
        )
        end = datetime.now(UTC)

        assert response.status_code == 201, response.text
        body = response.json()
        assert without(body, "id", "createdAt", "updatedAt") == {
            "clientId": org.client_id,
            "externalPlantId": "PLANT-001",
            "name": "Acme Site A",
            "description": None,
            "fvePeakPowerKwp": 0,
            "capacityKwh": 0,
            "configEnabled": True,
            "plantWithLoad": True,
            "esiState": "PLC_READY",
            "timeConfigs": [],
            **SITE_DEFAULTS,
        }
        uuid.UUID(body["id"])
        assert_utc_between(body["createdAt"], start, end)
        assert_utc_between(body["updatedAt"], start, end)

    async def test_stores_the_seed_example_with_blocks_in_the_order_given(self, api: Api) -> None:
        org = await api.enabled_org()
        request = {
            "clientId": org.client_id,
            "externalPlantId": "PLANT-001",
            "name": "Acme Site A",
            "description": "Battery storage + PV",
            "fvePeakPowerKwp": 120.0,
            "capacityKwh": 200.0,
            "configEnabled": False,
            "plantWithLoad": False,
            "esiState": "PLC_OFFLINE",
            "timeConfigs": list(reversed(SEED_BLOCKS)),
            "latitude": -33.87,
            "longitude": 151.21,
            "annualLoadKwh": 12_000.0,
            "roundTripEfficiency": 0.85,
            "initialSoc": 80.0,
            "simulation": "sawtooth",
        }

        response = await api.post_sandbox_plant(request)

        assert response.status_code == 201, response.text
        assert without(response.json(), "id", "createdAt", "updatedAt") == request
        fetched = await api.http.get(f"{ADMIN}/plants/{response.json()['id']}", headers=api.headers)
        assert fetched.json() == response.json()
        assert (await config_of(api, org, "PLANT-001"))["version"] == 1

    async def test_refuses_fields_outside_their_lengths(self, api: Api) -> None:
        org = await api.enabled_org()
        valid = {"clientId": org.client_id, "externalPlantId": "PLANT-001", "name": "Site"}
        cases = [
            ("clientId", "c" * 121, "String should have at most 120 characters"),
            ("clientId", "", "String should have at least 1 character"),
            ("externalPlantId", "", "String should have at least 1 character"),
            ("externalPlantId", "P" * 121, "String should have at most 120 characters"),
            ("name", "", "String should have at least 1 character"),
            ("name", "n" * 256, "String should have at most 255 characters"),
        ]
        for field, value, message in cases:
            response = await api.post_sandbox_plant({**valid, field: value})
            expected = error_body(
                400,
                "VALIDATION_ERROR",
                "Validation error",
                {"errors": [{"field": field, "message": message}]},
            )
            assert (response.status_code, response.json()) == (400, expected), (field, len(value))
        assert len(await api.sandbox_plants()) == 1

    async def test_accepts_the_longest_external_plant_id_and_name(self, api: Api) -> None:
        org = await api.enabled_org()

        plant = await api.create_sandbox_plant(
            org.client_id, externalPlantId="P" * 120, name="n" * 255
        )

        assert (plant["externalPlantId"], plant["name"]) == ("P" * 120, "n" * 255)

    async def test_client_id_must_be_bound_to_an_enabled_org(self, api: Api) -> None:
        disabled = await api.enabled_org()
        await api.disable(disabled.id)
        rotated = await api.enabled_org()
        await api.enable(rotated.id)

        for client_id in ("vesm-unknown", disabled.client_id, rotated.client_id):
            response = await api.post_sandbox_plant(
                {"clientId": client_id, "externalPlantId": "PLANT-001", "name": "Site"}
            )
            assert (response.status_code, response.json()) == (400, UNBOUND_CLIENT), client_id
        assert len(await api.sandbox_plants()) == 2

    async def test_external_plant_id_is_unique_within_a_client(self, api: Api) -> None:
        org = await api.enabled_org()
        first = await api.create_sandbox_plant(org.client_id, externalPlantId="PLANT-001")

        response = await api.post_sandbox_plant(
            {"clientId": org.client_id, "externalPlantId": "PLANT-001", "name": "Again"}
        )

        assert response.status_code == 409
        taken = "externalPlantId is already used by another plant of this clientId"
        assert response.json() == error_body(
            409, "CONFLICT", taken, {"errors": [{"field": "externalPlantId", "message": taken}]}
        )
        plants = await api.sandbox_plants(clientId=org.client_id)
        assert [p["name"] for p in plants if p["externalPlantId"] == "PLANT-001"] == [first["name"]]

    async def test_the_same_external_plant_id_under_another_client_is_fine(self, api: Api) -> None:
        acme, globex = await api.enabled_org(), await api.enabled_org()
        await api.create_sandbox_plant(acme.client_id, externalPlantId="PLANT-001")

        plant = await api.create_sandbox_plant(globex.client_id, externalPlantId="PLANT-001")

        assert plant["clientId"] == globex.client_id

    async def test_time_config_rule_errors_are_reported_and_nothing_is_stored(
        self, api: Api
    ) -> None:
        org = await api.enabled_org()
        broken = [SEED_BLOCKS[0], {**SEED_BLOCKS[1], "from": "06:00", "pBatMax": -1}]

        response = await api.post_sandbox_plant(
            {
                "clientId": org.client_id,
                "externalPlantId": "P-1",
                "name": "S",
                "timeConfigs": broken,
            }
        )

        assert response.status_code == 400
        assert response.json() == error_body(
            400,
            "VALIDATION_ERROR",
            "Validation error or unbound clientId",
            {
                "errors": [
                    {
                        "field": "timeConfigs[1].pBatMax",
                        "message": "must be >= 0 (charge power is positive)",
                    },
                    {"field": "timeConfigs[1].from", "message": "overlaps block 0"},
                ]
            },
        )
        assert len(await api.sandbox_plants()) == 1


class TestListPlants:
    async def test_each_item_is_exactly_the_single_plant_entity(self, api: Api) -> None:
        # The list is built by the database for speed; it must stay the seed's entity, field for
        # field and value for value, as GET /plants/{id} gives it.
        org = await api.enabled_org()
        await api.create_sandbox_plant(
            org.client_id,
            name='Quote " and ünïcode ✓',
            description=None,
            fvePeakPowerKwp=0.1,
            capacityKwh=1234567.25,
            configEnabled=False,
            plantWithLoad=False,
            esiState="PLC_OFFLINE",
            timeConfigs=SEED_BLOCKS,
        )
        await api.create_sandbox_plant(
            org.client_id, description="Battery\nstorage", timeConfigs=[]
        )

        listed = await api.sandbox_plants(clientId=org.client_id)

        assert len(listed) == 3
        for item in listed:
            single = await api.http.get(
                f"/api/v1/voke-esm/admin/plants/{item['id']}", headers=api.headers
            )
            assert item == single.json()

    async def test_an_empty_list_is_an_empty_array(self, api: Api) -> None:
        response = await api.http.get(
            "/api/v1/voke-esm/admin/plants", params={"clientId": "nobody"}, headers=api.headers
        )

        assert (response.status_code, response.json()) == (200, [])

    async def test_filters_by_client_and_pages_with_limit_and_offset(self, api: Api) -> None:
        acme, globex = await api.enabled_org(), await api.enabled_org()
        for _ in range(3):
            await api.create_sandbox_plant(acme.client_id)

        everything = await api.sandbox_plants()
        of_acme = await api.sandbox_plants(clientId=acme.client_id)
        page = await api.sandbox_plants(clientId=acme.client_id, limit=2, offset=1)

        assert len(everything) == 5
        assert len(of_acme) == 4
        assert {plant["clientId"] for plant in of_acme} == {acme.client_id}
        assert page == of_acme[1:3]
        assert await api.sandbox_plants(clientId=acme.client_id, offset=4) == []
        assert [
            p["externalPlantId"] for p in await api.sandbox_plants(clientId=globex.client_id)
        ] == [globex.default_plant_id]

    async def test_is_an_empty_array_for_a_client_without_plants(self, api: Api) -> None:
        response = await api.http.get(
            f"{ADMIN}/plants", params={"clientId": "vesm-nobody"}, headers=api.headers
        )

        assert (response.status_code, response.json()) == (200, [])


class TestPlantById:
    async def test_get_returns_the_plant(self, api: Api) -> None:
        org = await api.enabled_org()
        plant = await api.create_sandbox_plant(org.client_id, timeConfigs=SEED_BLOCKS)

        response = await api.http.get(f"{ADMIN}/plants/{plant['id']}", headers=api.headers)

        assert (response.status_code, response.json()) == (200, plant)

    async def test_delete_removes_the_plant_from_admin_and_trading(self, api: Api) -> None:
        org = await api.enabled_org()
        plant = await api.create_sandbox_plant(org.client_id)

        response = await api.http.delete(f"{ADMIN}/plants/{plant['id']}", headers=api.headers)

        assert response.status_code == 200
        assert list(response.json()) == ["message"]
        gone = await api.http.get(f"{ADMIN}/plants/{plant['id']}", headers=api.headers)
        assert (gone.status_code, gone.json()) == (404, PLANT_NOT_FOUND)
        token = await api.trading_token(org.client_id, org.client_secret)
        assert await trading_plant_ids(api, token) == [org.default_plant_id]

    async def test_unknown_plant_is_not_found(self, api: Api) -> None:
        path = f"{ADMIN}/plants/{uuid.uuid4()}"
        for method, body in (("GET", None), ("PATCH", {"name": "x"}), ("DELETE", None)):
            response = await api.http.request(method, path, json=body, headers=api.headers)
            assert (response.status_code, response.json()) == (404, PLANT_NOT_FOUND), method

    async def test_non_uuid_id_is_invalid_uuid(self, api: Api) -> None:
        for method, body in (("GET", None), ("PATCH", {"name": "x"}), ("DELETE", None)):
            response = await api.http.request(
                method, f"{ADMIN}/plants/PLANT-001", json=body, headers=api.headers
            )
            assert (response.status_code, response.json()) == (400, INVALID_UUID), method


class TestPatchPlant:
    async def test_changes_only_the_fields_given(self, api: Api) -> None:
        org = await api.enabled_org()
        plant = await api.create_sandbox_plant(
            org.client_id, description="old", timeConfigs=SEED_BLOCKS
        )
        changes = {
            "name": "Renamed",
            "description": None,
            "capacityKwh": 300.5,
            "fvePeakPowerKwp": 99,
            "configEnabled": False,
            "plantWithLoad": False,
            "esiState": "PLC_OFFLINE",
        }

        response = await api.http.patch(
            f"{ADMIN}/plants/{plant['id']}", json=changes, headers=api.headers
        )

        assert response.status_code == 200, response.text
        body = response.json()
        assert without(body, "updatedAt") == {**without(plant, "updatedAt"), **changes}
        assert body["updatedAt"] >= plant["updatedAt"]
        fetched = await api.http.get(f"{ADMIN}/plants/{plant['id']}", headers=api.headers)
        assert fetched.json() == body

    async def test_time_configs_are_a_new_config_version(self, api: Api) -> None:
        org = await api.enabled_org()
        plant = await api.create_sandbox_plant(org.client_id, timeConfigs=SEED_BLOCKS)
        path = f"{ADMIN}/plants/{plant['id']}"

        first = await api.http.patch(path, json={"timeConfigs": WHOLE_DAY}, headers=api.headers)
        assert first.status_code == 200, first.text
        assert first.json()["timeConfigs"] == WHOLE_DAY
        after_first = await config_of(api, org, plant["externalPlantId"])
        # The same blocks again are not a new version (CONTRACT §4, amended); other ones are.
        await api.http.patch(path, json={"timeConfigs": WHOLE_DAY}, headers=api.headers)
        after_second = await config_of(api, org, plant["externalPlantId"])
        await api.http.patch(path, json={"timeConfigs": SEED_BLOCKS}, headers=api.headers)
        after_third = await config_of(api, org, plant["externalPlantId"])

        assert (after_first["version"], after_first["timeConfigs"]) == (2, WHOLE_DAY)
        assert (after_second["version"], after_second["timeConfigs"]) == (2, WHOLE_DAY)
        assert (after_third["version"], after_third["timeConfigs"]) == (3, SEED_BLOCKS)

    async def test_without_time_configs_the_config_version_stays(self, api: Api) -> None:
        org = await api.enabled_org()
        plant = await api.create_sandbox_plant(org.client_id, timeConfigs=SEED_BLOCKS)

        response = await api.http.patch(
            f"{ADMIN}/plants/{plant['id']}",
            json={"name": "Renamed", "configEnabled": False},
            headers=api.headers,
        )

        assert response.status_code == 200, response.text
        config = await config_of(api, org, plant["externalPlantId"])
        assert (config["version"], config["timeConfigs"]) == (1, SEED_BLOCKS)

    async def test_time_config_rule_errors_point_at_the_field_and_store_nothing(
        self, api: Api
    ) -> None:
        org = await api.enabled_org()
        plant = await api.create_sandbox_plant(org.client_id, timeConfigs=SEED_BLOCKS)
        broken = [SEED_BLOCKS[0], {**SEED_BLOCKS[1], "socMin": 95, "socMax": 90}]

        response = await api.http.patch(
            f"{ADMIN}/plants/{plant['id']}",
            json={"name": "Renamed", "timeConfigs": broken},
            headers=api.headers,
        )

        assert response.status_code == 400
        assert response.json() == error_body(
            400,
            "VALIDATION_ERROR",
            "Validation error",
            {"errors": [{"field": "timeConfigs[1].socMin", "message": "must not exceed socMax"}]},
        )
        fetched = await api.http.get(f"{ADMIN}/plants/{plant['id']}", headers=api.headers)
        assert fetched.json() == plant
        assert (await config_of(api, org, plant["externalPlantId"]))["version"] == 1


class TestAdminAuth:
    """Only a SuperAdmin's Voke token opens /api/v1/voke-esm/admin (CONTRACT §3)."""

    @staticmethod
    async def calls(api: Api, org: EnabledOrg) -> list[tuple[str, str, dict[str, Any]]]:
        plant = (await api.sandbox_plants(clientId=org.client_id))[0]
        body = {"clientId": org.client_id, "externalPlantId": "PLANT-NEW", "name": "New"}
        org_query = {"params": {"orgId": org.id}}
        return [
            ("POST", f"{ADMIN}/enable", org_query),
            ("POST", f"{ADMIN}/disable", org_query),
            ("GET", f"{ADMIN}/status", org_query),
            ("GET", f"{ADMIN}/plants", {}),
            ("POST", f"{ADMIN}/plants", {"json": body}),
            ("GET", f"{ADMIN}/plants/{plant['id']}", {}),
            ("PATCH", f"{ADMIN}/plants/{plant['id']}", {"json": {"name": "Renamed"}}),
            ("DELETE", f"{ADMIN}/plants/{plant['id']}", {}),
        ]

    @staticmethod
    async def assert_untouched(api: Api, org: EnabledOrg) -> None:
        status = await api.status(org.id)
        assert (status["clientId"], status["plantCount"]) == (org.client_id, 1)
        (plant,) = await api.sandbox_plants()
        assert plant["externalPlantId"] == org.default_plant_id
        assert plant["name"] != "Renamed"

    async def test_missing_or_invalid_tokens_are_refused_with_401(
        self, api: Api, settings: Settings
    ) -> None:
        org = await api.enabled_org()
        admin_id = jwt.decode(api.token, options={"verify_signature": False})["sub"]
        now = datetime.now(UTC)
        claims = {"iss": "voke", "sub": admin_id, "role": "SUPER_ADMIN", "iat": now}
        secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else ""
        expired = jwt.encode(
            {**claims, "iat": now - timedelta(hours=2), "exp": now - timedelta(hours=1)}, secret
        )
        wrongly_signed = jwt.encode({**claims, "exp": now + timedelta(hours=1)}, "k" * 48)
        trading = await api.trading_token(org.client_id, org.client_secret)
        refusals = [
            ({}, NO_TOKEN),
            (bearer("garbage"), TOKEN_REFUSED),
            (bearer(expired), TOKEN_REFUSED),
            (bearer(wrongly_signed), TOKEN_REFUSED),
            (bearer(trading), TOKEN_REFUSED),
        ]

        for method, path, extra in await self.calls(api, org):
            for headers, expected in refusals:
                response = await api.http.request(method, path, headers=headers, **extra)
                assert (response.status_code, response.json()) == (401, expected), (method, path)
        await self.assert_untouched(api, org)

    async def test_an_org_admin_is_forbidden(self, api: Api) -> None:
        org = await api.enabled_org()
        token = await org_admin_token(api, org.id)

        for method, path, extra in await self.calls(api, org):
            response = await api.http.request(method, path, headers=bearer(token), **extra)
            assert (response.status_code, response.json()) == (403, NOT_SUPER_ADMIN), (method, path)
        await self.assert_untouched(api, org)

    async def test_a_voke_token_is_refused_by_the_trading_endpoints(self, api: Api) -> None:
        org = await api.enabled_org()

        response = await api.http.get(f"{TRADING}/plant/list", headers=api.headers)

        assert (response.status_code, response.json()) == (401, TOKEN_REFUSED)
        config = await api.plant_config(api.token, org.default_plant_id)
        assert (config.status_code, config.json()) == (401, TOKEN_REFUSED)


# Lost updates: ETag and If-Match on one plant (CONTRACT §4, §2 PRECONDITION_FAILED) -----------

STRONG_ETAG = re.compile(r'"[^"\s]+"')
PLANT_CHANGED = "The plant changed since you read it"


def precondition_failed(current_etag: str) -> dict[str, Any]:
    return error_body(412, "PRECONDITION_FAILED", PLANT_CHANGED, {"etag": current_etag})


async def read_plant(api: Api, plant_id: str) -> tuple[dict[str, Any], str]:
    """The plant as GET shows it, and its ETag."""
    response = await api.http.get(f"{ADMIN}/plants/{plant_id}", headers=api.headers)
    assert response.status_code == 200, response.text
    etag = response.headers.get("etag")
    assert etag is not None
    assert STRONG_ETAG.fullmatch(etag), etag
    return dict(response.json()), etag


async def patch_plant(
    api: Api, plant_id: str, body: dict[str, Any], if_match: str | None = None
) -> httpx.Response:
    headers = dict(api.headers)
    if if_match is not None:
        headers["If-Match"] = if_match
    return await api.http.patch(f"{ADMIN}/plants/{plant_id}", json=body, headers=headers)


async def delete_plant(api: Api, plant_id: str, if_match: str | None = None) -> httpx.Response:
    headers = dict(api.headers)
    if if_match is not None:
        headers["If-Match"] = if_match
    return await api.http.delete(f"{ADMIN}/plants/{plant_id}", headers=headers)


class TestPlantETag:
    async def test_get_and_patch_carry_a_strong_etag_that_changes_with_the_plant(
        self, api: Api
    ) -> None:
        org = await api.enabled_org()
        plant = await api.create_sandbox_plant(org.client_id, timeConfigs=SEED_BLOCKS)
        _, first = await read_plant(api, plant["id"])
        _, again = await read_plant(api, plant["id"])
        assert again == first  # reading changes nothing

        patched = await patch_plant(api, plant["id"], {"name": "Renamed"})

        assert patched.status_code == 200, patched.text
        assert patched.headers["etag"] not in {None, first}
        _, now = await read_plant(api, plant["id"])
        assert now == patched.headers["etag"]

    async def test_changes_after_a_trading_config_update(self, api: Api) -> None:
        org = await api.enabled_org()
        (plant,) = await api.sandbox_plants(clientId=org.client_id)
        _, before = await read_plant(api, plant["id"])
        token = await api.trading_token(org.client_id, org.client_secret)

        update = await api.update_config(token, org.default_plant_id, WHOLE_DAY)

        assert update.json()["resultCode"] == "applied_ok", update.text
        _, after = await read_plant(api, plant["id"])
        assert after != before
        stale = await patch_plant(api, plant["id"], {"description": "mine"}, if_match=before)
        assert (stale.status_code, stale.json()) == (412, precondition_failed(after))

    async def test_changes_after_a_snapshot_restore(self, api: Api) -> None:
        org = await api.enabled_org()
        (plant,) = await api.sandbox_plants(clientId=org.client_id)
        _, before = await read_plant(api, plant["id"])
        snapshot = await api.http.get(
            f"{ADMIN}/snapshot", params={"orgId": org.id}, headers=api.headers
        )
        (kept,) = snapshot.json()["plants"]

        restored = await api.http.put(
            f"{ADMIN}/snapshot",
            params={"orgId": org.id},
            json={"plants": [{**kept, "name": "Restored"}]},
            headers=api.headers,
        )

        assert restored.status_code == 200, restored.text
        body, after = await read_plant(api, plant["id"])
        assert body["name"] == "Restored"
        assert after != before

    async def test_a_plant_created_again_gets_a_tag_the_old_one_never_had(self, api: Api) -> None:
        org = await api.enabled_org()
        plant = await api.create_sandbox_plant(org.client_id, externalPlantId="AGAIN")
        _, old = await read_plant(api, plant["id"])
        assert (await delete_plant(api, plant["id"])).status_code == 200
        again = await api.create_sandbox_plant(org.client_id, externalPlantId="AGAIN")
        _, new = await read_plant(api, again["id"])

        assert new != old
        stale = await patch_plant(api, again["id"], {"name": "x"}, if_match=old)
        assert (stale.status_code, stale.json()) == (412, precondition_failed(new))


class TestIfMatch:
    async def test_a_matching_tag_or_a_star_applies_the_patch(self, api: Api) -> None:
        org = await api.enabled_org()
        plant = await api.create_sandbox_plant(org.client_id)
        _, etag = await read_plant(api, plant["id"])

        first = await patch_plant(api, plant["id"], {"name": "First"}, if_match=etag)
        assert first.status_code == 200, first.text
        # A list of tags matches when one of them does; `*` matches any existing plant.
        listed = f'"nope", W/{first.headers["etag"]}, {first.headers["etag"]}'
        second = await patch_plant(api, plant["id"], {"name": "Second"}, if_match=listed)
        assert second.status_code == 200, second.text
        third = await patch_plant(api, plant["id"], {"name": "Third"}, if_match="*")
        assert third.status_code == 200, third.text
        assert (await read_plant(api, plant["id"]))[0]["name"] == "Third"

    async def test_a_stale_patch_is_412_and_changes_nothing(self, api: Api) -> None:
        org = await api.enabled_org()
        plant = await api.create_sandbox_plant(org.client_id, timeConfigs=SEED_BLOCKS)
        _, opened = await read_plant(api, plant["id"])
        assert (await patch_plant(api, plant["id"], {"name": "Theirs"})).status_code == 200
        stored, current = await read_plant(api, plant["id"])

        stale = await patch_plant(
            api,
            plant["id"],
            {"name": "Mine", "description": "mine", "timeConfigs": WHOLE_DAY},
            if_match=opened,
        )

        assert stale.status_code == 412
        assert stale.json() == precondition_failed(current)
        assert stale.headers["etag"] == current
        assert await read_plant(api, plant["id"]) == (stored, current)
        assert (await config_of(api, org, plant["externalPlantId"]))["version"] == 1

    async def test_a_weak_tag_never_matches(self, api: Api) -> None:
        org = await api.enabled_org()
        plant = await api.create_sandbox_plant(org.client_id)
        stored, etag = await read_plant(api, plant["id"])

        weak = await patch_plant(api, plant["id"], {"name": "Mine"}, if_match=f"W/{etag}")

        assert (weak.status_code, weak.json()) == (412, precondition_failed(etag))
        assert await read_plant(api, plant["id"]) == (stored, etag)

    async def test_a_stale_delete_is_412_and_keeps_the_plant(self, api: Api) -> None:
        org = await api.enabled_org()
        plant = await api.create_sandbox_plant(org.client_id)
        _, opened = await read_plant(api, plant["id"])
        assert (await patch_plant(api, plant["id"], {"name": "Theirs"})).status_code == 200
        stored, current = await read_plant(api, plant["id"])

        stale = await delete_plant(api, plant["id"], if_match=opened)

        assert (stale.status_code, stale.json()) == (412, precondition_failed(current))
        assert await read_plant(api, plant["id"]) == (stored, current)
        fresh = await delete_plant(api, plant["id"], if_match=current)
        assert fresh.status_code == 200, fresh.text
        gone = await api.http.get(f"{ADMIN}/plants/{plant['id']}", headers=api.headers)
        assert (gone.status_code, gone.json()) == (404, PLANT_NOT_FOUND)

    async def test_an_unknown_plant_is_still_not_found(self, api: Api) -> None:
        path = f"{ADMIN}/plants/{uuid.uuid4()}"
        headers = {**api.headers, "If-Match": '"stale"'}
        for method, body in (("PATCH", {"name": "x"}), ("DELETE", None)):
            response = await api.http.request(method, path, json=body, headers=headers)
            assert (response.status_code, response.json()) == (404, PLANT_NOT_FOUND), method

    async def test_concurrent_patches_with_one_tag_let_exactly_one_through(self, api: Api) -> None:
        org = await api.enabled_org()
        plant = await api.create_sandbox_plant(org.client_id, timeConfigs=SEED_BLOCKS)
        _, etag = await read_plant(api, plant["id"])
        schedules = [[{**WHOLE_DAY[0], "pBatMax": 10 + writer}] for writer in range(6)]

        answers = await asyncio.wait_for(
            asyncio.gather(
                *(
                    patch_plant(api, plant["id"], {"timeConfigs": blocks}, if_match=etag)
                    for blocks in schedules
                )
            ),
            timeout=60,
        )

        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [200] + [412] * 5, [answer.text for answer in answers]
        (winner,) = (answer for answer in answers if answer.status_code == 200)
        stored, current = await read_plant(api, plant["id"])
        assert current == winner.headers["etag"]
        assert stored["timeConfigs"] == winner.json()["timeConfigs"]
        assert (await config_of(api, org, plant["externalPlantId"]))["version"] == 2

    async def test_the_412_is_documented_for_patch_and_delete(self, api: Api) -> None:
        schema = (await api.http.get("/openapi.json")).json()
        operations = schema["paths"][f"{ADMIN}/plants/{{id}}"]

        for method in ("patch", "delete"):
            examples = operations[method]["responses"]["412"]["content"]["application/json"]
            assert "PRECONDITION_FAILED" in examples["examples"], method
        assert "412" not in operations["get"]["responses"]


class TestNoOpPatch:
    """A PATCH that changes nothing is not a version (CONTRACT §4)."""

    async def test_the_same_blocks_reordered_keys_and_10_0_are_no_new_version(
        self, api: Api
    ) -> None:
        org = await api.enabled_org()
        plant = await api.create_sandbox_plant(org.client_id, timeConfigs=SEED_BLOCKS)
        stored, etag = await read_plant(api, plant["id"])
        # Numerically equal (10 == 10.0), keys in another order: the same schedule.
        same = [
            {key: float(value) if isinstance(value, int) else value for key, value in block.items()}
            for block in SEED_BLOCKS
        ]
        same = [dict(reversed(list(block.items()))) for block in same]

        response = await patch_plant(api, plant["id"], {"timeConfigs": same}, if_match=etag)

        assert response.status_code == 200, response.text
        assert response.headers["etag"] == etag
        assert response.json()["updatedAt"] == stored["updatedAt"]
        assert await read_plant(api, plant["id"]) == (stored, etag)
        assert (await config_of(api, org, plant["externalPlantId"]))["version"] == 1

    async def test_a_patch_of_equal_values_leaves_updated_at_alone(self, api: Api) -> None:
        org = await api.enabled_org()
        plant = await api.create_sandbox_plant(
            org.client_id, description="d", capacityKwh=150, timeConfigs=SEED_BLOCKS
        )
        stored, etag = await read_plant(api, plant["id"])
        same = {
            "name": stored["name"],
            "description": "d",
            "capacityKwh": 150.0,
            "configEnabled": stored["configEnabled"],
            "timeConfigs": SEED_BLOCKS,
        }

        for body in ({}, same):
            response = await patch_plant(api, plant["id"], body)
            assert response.status_code == 200, response.text
            assert response.json() == stored
            assert response.headers["etag"] == etag
        assert await read_plant(api, plant["id"]) == (stored, etag)
        assert (await config_of(api, org, plant["externalPlantId"]))["version"] == 1

    async def test_other_fields_change_but_equal_blocks_keep_the_version(self, api: Api) -> None:
        org = await api.enabled_org()
        plant = await api.create_sandbox_plant(org.client_id, timeConfigs=SEED_BLOCKS)
        _, etag = await read_plant(api, plant["id"])

        response = await patch_plant(
            api, plant["id"], {"description": "new", "timeConfigs": SEED_BLOCKS}, if_match=etag
        )

        assert response.status_code == 200, response.text
        assert response.json()["description"] == "new"
        assert response.headers["etag"] != etag
        assert (await config_of(api, org, plant["externalPlantId"]))["version"] == 1
        # Blocks in another order are another schedule: a new version.
        swapped = await patch_plant(api, plant["id"], {"timeConfigs": SEED_BLOCKS[::-1]})
        assert swapped.status_code == 200, swapped.text
        config = await config_of(api, org, plant["externalPlantId"])
        assert (config["version"], config["timeConfigs"]) == (2, SEED_BLOCKS[::-1])
