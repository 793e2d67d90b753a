"""The org's quirks (CONTRACT §14) as the admin API stores them, and what one org's quirks do to
its own trading calls and no other org's. What each quirk does to a conformance check is
tests/conformance/test_quirks.py's."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import Api, EnabledOrg, bearer, error_body, validation_error
from tests.sandbox.tools.test_tools import NEVER_ENABLED, tool
from voke_esm.sandbox.trading.quirks import QUIRKS

TRADING = "/api/v1/voke-esm/trading"
AVAILABLE = [
    {"name": quirk.name, "check": quirk.check, "description": quirk.description}
    for quirk in QUIRKS.values()
]


def quirks_read(*names: str) -> dict[str, Any]:
    return {"quirks": list(names), "available": AVAILABLE}


@pytest.fixture
async def org(api: Api) -> EnabledOrg:
    return await api.enabled_org("Acme")


async def put_quirks(api: Api, org_id: str, *names: str) -> dict[str, Any]:
    response = await tool(api, "PUT", "quirks", org_id, json={"quirks": list(names)})
    assert response.status_code == 200, response.text
    return dict(response.json())


class TestQuirksDocument:
    async def test_an_org_starts_without_quirks_and_sees_every_one_there_is(
        self, api: Api, org: EnabledOrg
    ) -> None:
        response = await tool(api, "GET", "quirks", org.id)

        assert (response.status_code, response.json()) == (200, quirks_read())
        assert len(AVAILABLE) == 20

    async def test_put_stores_each_once_in_order_and_delete_clears(
        self, api: Api, org: EnabledOrg
    ) -> None:
        stored = await put_quirks(api, org.id, "acceptOverlaps", "tokenShape", "acceptOverlaps")

        assert stored == quirks_read("acceptOverlaps", "tokenShape")
        assert (await tool(api, "GET", "quirks", org.id)).json() == stored
        deleted = await tool(api, "DELETE", "quirks", org.id)
        assert (deleted.status_code, deleted.json()) == (200, {"message": "Quirks of Acme cleared"})
        assert (await tool(api, "GET", "quirks", org.id)).json() == quirks_read()

    async def test_an_unknown_name_is_400_at_its_index_and_changes_nothing(
        self, api: Api, org: EnabledOrg
    ) -> None:
        await put_quirks(api, org.id, "tokenShape")

        response = await tool(api, "PUT", "quirks", org.id, json={"quirks": ["tokenShape", "x"]})

        expected = validation_error(("quirks[1]", "no quirk is called 'x'"))
        assert (response.status_code, response.json()) == (400, expected)
        assert (await tool(api, "GET", "quirks", org.id)).json() == quirks_read("tokenShape")

    @pytest.mark.parametrize("body", [{}, {"quirks": "tokenShape"}, {"quirks": [1]}])
    async def test_a_body_of_the_wrong_shape_is_400(
        self, api: Api, org: EnabledOrg, body: dict[str, Any]
    ) -> None:
        response = await tool(api, "PUT", "quirks", org.id, json=body)

        assert response.status_code == 400
        assert response.json()["code"] == "VALIDATION_ERROR"

    async def test_an_org_never_enabled_has_none_to_set(self, api: Api) -> None:
        org = await api.create_org()

        response = await tool(api, "PUT", "quirks", org["id"], json={"quirks": ["tokenShape"]})

        assert (response.status_code, response.json()) == (409, NEVER_ENABLED)


class TestQuirksOnTrading:
    async def test_they_change_the_orgs_own_calls_only(self, api: Api, org: EnabledOrg) -> None:
        other = await api.enabled_org("Other")
        await put_quirks(api, org.id, "tokenShape")

        mine = await api.http.post(
            f"{TRADING}/token", json={"clientId": org.client_id, "clientSecret": org.client_secret}
        )
        theirs = await api.http.post(
            f"{TRADING}/token",
            json={"clientId": other.client_id, "clientSecret": other.client_secret},
        )

        assert set(mine.json()) == {"accessToken", "expiresIn"}
        assert set(theirs.json()) == {"accessToken", "tokenType", "expiresIn"}

    async def test_a_call_without_a_token_is_the_orgs_whose_plant_it_names(
        self, api: Api, org: EnabledOrg
    ) -> None:
        other = await api.enabled_org("Other")
        await put_quirks(api, org.id, "forbiddenForUnauthorized")

        async def status(plant_id: str, headers: dict[str, str] | None = None) -> int:
            response = await api.http.get(
                f"{TRADING}/plant/config", params={"plantId": plant_id}, headers=headers
            )
            return response.status_code

        assert await status(org.default_plant_id) == 403
        assert await status(org.default_plant_id, bearer("garbage")) == 401  # another quirk's
        assert await status(other.default_plant_id) == 401
        assert await status("no-such-plant") == 401

    async def test_a_plant_id_two_orgs_have_is_nobodys(self, api: Api, org: EnabledOrg) -> None:
        other = await api.enabled_org("Other")
        await api.create_sandbox_plant(org.client_id, externalPlantId="SHARED")
        await api.create_sandbox_plant(other.client_id, externalPlantId="SHARED")
        await put_quirks(api, org.id, "forbiddenForUnauthorized")

        response = await api.http.get(f"{TRADING}/plant/config", params={"plantId": "SHARED"})

        expected = error_body(401, "UNAUTHORIZED", "Authentication required")
        assert (response.status_code, response.json()) == (401, expected)
