"""The Voke side's plants (CONTRACT §3)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from tests.factories import (
    INVALID_UUID,
    NO_TOKEN,
    NOT_SUPER_ADMIN,
    ORG_NOT_FOUND,
    ORGS,
    Api,
    JsonBody,
    assert_utc_between,
    bearer,
    error_body,
    org_admin_token,
    without,
)

PLANT_NOT_FOUND = error_body(404, "NOT_FOUND", "Plant not found")

_TAKEN = "externalPlantId is already used by another plant of this organization"

EXTERNAL_ID_TAKEN = error_body(
    409, "CONFLICT", _TAKEN, {"errors": [{"field": "externalPlantId", "message": _TAKEN}]}
)


class TestVokePlants:
    async def test_a_new_plant_has_no_schedule_version_or_sync(self, api: Api) -> None:
        org = await api.create_org()
        start = datetime.now(UTC)
        response = await api.http.post(
            f"{ORGS}/{org['id']}/plants",
            json={"name": "Acme Site A", "externalPlantId": "PLANT-001"},
            headers=api.headers,
        )
        end = datetime.now(UTC)

        assert response.status_code == 201, response.text
        plant = response.json()
        assert without(plant, "id", "createdAt", "updatedAt") == {
            "orgId": org["id"],
            "name": "Acme Site A",
            "externalPlantId": "PLANT-001",
            "timeConfigs": [],
            "configVersion": None,
            "syncedAt": None,
        }
        assert_utc_between(plant["createdAt"], start, end)
        assert_utc_between(plant["updatedAt"], start, end)

    async def test_list_get_and_patch(self, api: Api) -> None:
        org = await api.create_org()
        first = await api.create_voke_plant(org["id"])
        second = await api.create_voke_plant(org["id"], externalPlantId="PLANT-002")
        path = f"{ORGS}/{org['id']}/plants/{second['id']}"

        listed = await api.http.get(f"{ORGS}/{org['id']}/plants", headers=api.headers)
        fetched = await api.http.get(path, headers=api.headers)
        patched = await api.http.patch(
            path, json={"name": "Renamed", "externalPlantId": "PLANT-009"}, headers=api.headers
        )

        assert (listed.status_code, listed.json()) == (200, [first, second])
        assert (fetched.status_code, fetched.json()) == (200, second)
        assert patched.status_code == 200, patched.text
        assert without(patched.json(), "updatedAt") == {
            **without(second, "updatedAt"),
            "name": "Renamed",
            "externalPlantId": "PLANT-009",
        }
        assert (await api.http.get(path, headers=api.headers)).json() == patched.json()

    async def test_delete_removes_the_plant(self, api: Api) -> None:
        org = await api.create_org()
        plant = await api.create_voke_plant(org["id"])
        path = f"{ORGS}/{org['id']}/plants/{plant['id']}"

        response = await api.http.delete(path, headers=api.headers)

        assert response.status_code == 200
        assert list(response.json()) == ["message"]
        gone = await api.http.get(path, headers=api.headers)
        assert (gone.status_code, gone.json()) == (404, PLANT_NOT_FOUND)
        listed = await api.http.get(f"{ORGS}/{org['id']}/plants", headers=api.headers)
        assert listed.json() == []

    async def test_external_plant_id_is_unique_within_an_org(self, api: Api) -> None:
        acme, globex = await api.create_org(), await api.create_org()
        taken = await api.create_voke_plant(acme["id"], externalPlantId="PLANT-001")
        other = await api.create_voke_plant(acme["id"], externalPlantId="PLANT-002")

        created = await api.http.post(
            f"{ORGS}/{acme['id']}/plants",
            json={"name": "Again", "externalPlantId": "PLANT-001"},
            headers=api.headers,
        )
        patched = await api.http.patch(
            f"{ORGS}/{acme['id']}/plants/{other['id']}",
            json={"externalPlantId": "PLANT-001"},
            headers=api.headers,
        )

        assert (created.status_code, created.json()) == (409, EXTERNAL_ID_TAKEN)
        assert (patched.status_code, patched.json()) == (409, EXTERNAL_ID_TAKEN)
        listed = await api.http.get(f"{ORGS}/{acme['id']}/plants", headers=api.headers)
        assert listed.json() == [taken, other]
        # Another org may use the same id.
        elsewhere = await api.create_voke_plant(globex["id"], externalPlantId="PLANT-001")
        assert elsewhere["orgId"] == globex["id"]

    async def test_unknown_ids_are_not_found_and_bad_ids_invalid_uuid(self, api: Api) -> None:
        acme, globex = await api.create_org(), await api.create_org()
        plant = await api.create_voke_plant(acme["id"])
        cases = [
            (f"{ORGS}/{uuid.uuid4()}/plants", ORG_NOT_FOUND),
            (f"{ORGS}/{acme['id']}/plants/{uuid.uuid4()}", PLANT_NOT_FOUND),
            # A plant is found only under its own org.
            (f"{ORGS}/{globex['id']}/plants/{plant['id']}", PLANT_NOT_FOUND),
            (f"{ORGS}/acme/plants", INVALID_UUID),
            (f"{ORGS}/{acme['id']}/plants/PLANT-001", INVALID_UUID),
        ]
        for path, expected in cases:
            response = await api.http.get(path, headers=api.headers)
            assert (response.status_code, response.json()) == (expected["statusCode"], expected), (
                path
            )
        for method in ("PATCH", "DELETE"):
            response = await api.http.request(
                method, f"{ORGS}/{globex['id']}/plants/{plant['id']}", json={}, headers=api.headers
            )
            assert (response.status_code, response.json()) == (404, PLANT_NOT_FOUND), method

    async def test_only_a_super_admin_may_manage_plants(self, api: Api) -> None:
        org = await api.create_org()
        plant = await api.create_voke_plant(org["id"])
        token = await org_admin_token(api)
        plants = f"{ORGS}/{org['id']}/plants"

        requests: tuple[tuple[str, str, JsonBody], ...] = (
            ("GET", plants, {}),
            ("POST", plants, {"json": {"name": "Rogue"}}),
            ("GET", f"{plants}/{plant['id']}", {}),
            ("PATCH", f"{plants}/{plant['id']}", {"json": {"name": "Rogue"}}),
            ("DELETE", f"{plants}/{plant['id']}", {}),
        )
        for method, path, extra in requests:
            forbidden = await api.http.request(method, path, headers=bearer(token), **extra)
            assert (forbidden.status_code, forbidden.json()) == (403, NOT_SUPER_ADMIN), method
            anonymous = await api.http.request(method, path, **extra)
            assert (anonymous.status_code, anonymous.json()) == (401, NO_TOKEN), method
        assert (await api.http.get(plants, headers=api.headers)).json() == [plant]
