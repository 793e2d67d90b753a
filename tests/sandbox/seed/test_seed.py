"""Seeding (CONTRACT §13): what is missing is created and enabled, what exists is left alone."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from tests.factories import SEED_BLOCKS, WHOLE_DAY, Api, without
from voke_esm.app import app_services
from voke_esm.core.db import session_scope
from voke_esm.core.errors import ValidationFailed
from voke_esm.sandbox.seed import service as seed_service
from voke_esm.sandbox.seed.schemas import SeedDocument
from voke_esm.sandbox.seed.service import SeededOrg

ADMIN = "/api/v1/voke-esm/admin"
CLOUD = {
    "kind": "cloud",
    "from": "2026-06-21T10:00:00Z",
    "to": "2026-06-21T14:00:00Z",
    "factor": 0.3,
}
SEED: dict[str, Any] = {
    "orgs": [
        {
            "name": "Acme",
            "plants": [
                {
                    "externalPlantId": "ACME-1",
                    "name": "Acme one",
                    "timeConfigs": SEED_BLOCKS,
                    "conditions": [CLOUD],
                },
                {"externalPlantId": "ACME-2", "name": "Acme two", "capacityKwh": 10},
            ],
            "faults": {
                "rules": [{"endpoint": "plant/list", "kind": "error", "status": 503, "count": 1}],
                "tokenTtlSeconds": 60,
            },
            "clock": {"at": "2026-06-21T00:00:00Z", "frozen": True},
        },
        {"name": "Beta"},  # enabled with its default plant
    ]
}


async def seed(app: FastAPI, document: dict[str, Any]) -> list[SeededOrg]:
    services = app_services(app)
    async with session_scope(services.sessionmaker) as session:
        return await seed_service.apply_seed(
            session,
            services.keyring,
            SeedDocument.model_validate(document),
            esm_api_url=services.settings.esm_api_url,
        )


async def state(api: Api) -> dict[str, Any]:
    """Everything a seed may touch, as the API shows it (times and ids included)."""

    async def get(path: str, **params: str) -> Any:
        response = await api.http.get(path, params=params, headers=api.headers)
        assert response.status_code == 200, response.text
        return response.json()

    orgs = await get("/api/v1/orgs")
    every_plant = {"plants": await get(f"{ADMIN}/plants")}  # with their ids and times
    return every_plant | {
        org["name"]: {
            "org": org,
            "status": await get(f"{ADMIN}/status", orgId=org["id"]),
            "connections": await get(f"/api/v1/orgs/{org['id']}/settings/connections"),
            "snapshot": await get(f"{ADMIN}/snapshot", orgId=org["id"]),
            "faults": await get(f"{ADMIN}/faults", orgId=org["id"]),
            # `now` follows real time on a clock that is not frozen: the rest is state.
            "clock": without(await get(f"{ADMIN}/clock", orgId=org["id"]), "now"),
        }
        for org in orgs
    }


class TestApplySeed:
    async def test_creates_and_enables_what_is_missing(self, app: FastAPI, api: Api) -> None:
        outcome = await seed(app, SEED)

        acme, beta = outcome
        assert (acme.name, acme.created, acme.plants_created, acme.faults_set) == (
            "Acme",
            True,
            ["ACME-1", "ACME-2"],
            True,
        )
        assert (beta.name, beta.created, beta.plants_created, beta.faults_set) == (
            "Beta",
            True,
            [],
            False,
        )
        assert acme.credentials is not None
        assert beta.credentials is not None
        seeded = await state(api)
        assert [plant["externalPlantId"] for plant in seeded["Acme"]["snapshot"]["plants"]] == [
            "ACME-1",
            "ACME-2",
        ]  # the seed's plants take the default plant's place
        assert len(seeded["Beta"]["snapshot"]["plants"]) == 1  # Beta's default plant
        assert seeded["Acme"]["faults"]["tokenTtlSeconds"] == 60
        assert seeded["Acme"]["snapshot"]["plants"][0]["conditions"] == [
            CLOUD | {"from": "2026-06-21T10:00:00.000000Z", "to": "2026-06-21T14:00:00.000000Z"}
        ]
        assert seeded["Acme"]["clock"] | {"now": None} == {
            "orgId": seeded["Acme"]["org"]["id"],
            "startedAt": "2026-06-21T00:00:00.000000Z",
            "offsetMinutes": 0.0,
            "frozen": True,
            "now": None,
        }
        assert (acme.clock_set, beta.clock_set) == (True, False)
        assert seeded["Acme"]["status"]["clientId"] == acme.credentials.client_id
        token = await api.trading_token(acme.credentials.client_id, acme.credentials.client_secret)
        assert token

    async def test_a_second_time_changes_nothing(self, app: FastAPI, api: Api) -> None:
        await seed(app, SEED)
        before = await state(api)

        again = await seed(app, SEED)

        assert await state(api) == before
        assert [(org.changed, org.credentials) for org in again] == [(False, None)] * 2

    async def test_leaves_what_exists_alone_and_adds_what_is_missing(
        self, app: FastAPI, api: Api
    ) -> None:
        existing = await api.enabled_org("ACME")  # the same name, another case
        kept = await api.create_sandbox_plant(
            existing.client_id, externalPlantId="ACME-1", name="Mine", timeConfigs=WHOLE_DAY
        )
        before = await state(api)

        (acme, _beta) = await seed(app, SEED)

        after = await state(api)
        assert (acme.created, acme.credentials, acme.plants_created) == (False, None, ["ACME-2"])
        assert after["ACME"]["connections"] == before["ACME"]["connections"]  # credentials kept
        assert after["ACME"]["status"] == before["ACME"]["status"] | {"plantCount": 3}
        plants = {plant["externalPlantId"]: plant for plant in after["ACME"]["snapshot"]["plants"]}
        assert plants["ACME-1"]["name"] == kept["name"] == "Mine"  # not overwritten
        assert plants["ACME-2"]["name"] == "Acme two"
        assert existing.default_plant_id in plants  # the org's own plants stay

    async def test_the_clock_of_an_org_enabled_before_is_left_running(
        self, app: FastAPI, api: Api
    ) -> None:
        org = await api.enabled_org("Acme")
        assert (await api.disable(org.id)).status_code == 200
        before = (await state(api))["Acme"]["clock"]

        (acme, _beta) = await seed(app, SEED)

        assert acme.credentials is not None  # enabled again, but not for the first time
        assert acme.clock_set is False
        assert (await state(api))["Acme"]["clock"] == before

    async def test_faults_go_only_to_an_org_that_has_none(self, app: FastAPI, api: Api) -> None:
        org = await api.enabled_org("Acme")
        mine = {"rules": [], "tokenTtlSeconds": 30, "rateLimit": None}
        response = await api.http.put(
            f"{ADMIN}/faults", params={"orgId": org.id}, json=mine, headers=api.headers
        )
        assert response.status_code == 200

        (acme, _beta) = await seed(app, SEED)

        assert acme.faults_set is False
        assert (await state(api))["Acme"]["faults"] == mine

    async def test_a_disabled_org_is_enabled_again_with_its_plants(
        self, app: FastAPI, api: Api
    ) -> None:
        org = await api.enabled_org("Beta")
        assert (await api.disable(org.id)).status_code == 200

        (_acme, beta) = await seed(app, SEED)

        assert beta.credentials is not None
        plants = (await state(api))["Beta"]["snapshot"]["plants"]
        assert [plant["externalPlantId"] for plant in plants] == [org.default_plant_id]


FIRST = {"name": "First", "plants": [{"externalPlantId": "F-1", "name": "f"}]}


class TestRefusals:
    """Refusals come after `First` would have been created: the whole seed is one unit."""

    @pytest.mark.parametrize(
        ("orgs", "errors"),
        [
            (
                [FIRST, {"name": "A"}, {"name": "a"}],
                [("orgs[2].name", "appears twice in the seed")],
            ),
            (
                [FIRST, {"name": "A", "plants": [
                    {"externalPlantId": "P", "name": "p"}, {"externalPlantId": "P", "name": "q"}
                ]}],
                [("orgs[1].plants[1].externalPlantId", "appears twice in the seed")],
            ),
            (
                [FIRST, {"name": "A", "plants": [
                    {"externalPlantId": "P", "name": "p", "timeConfigs": [
                        {**WHOLE_DAY[0], "socMin": 95}
                    ]}
                ]}],
                [("orgs[1].plants[0].timeConfigs[0].socMin", "must not exceed socMax")],
            ),
            (
                [FIRST, {"name": "A", "faults": {"rules": [
                    {"endpoint": "token", "kind": "error"}
                ]}}],
                [("orgs[1].faults.rules[0].status", "is required for kind error")],
            ),
            (
                [FIRST, {"name": "A", "plants": [{"externalPlantId": "P", "name": "p",
                    "conditions": [{**CLOUD, "to": CLOUD["from"]}]}]}],
                [("orgs[1].plants[0].conditions[0].to", "must be after from")],
            ),
        ],
    )  # fmt: skip
    async def test_a_refused_seed_changes_nothing(
        self,
        app: FastAPI,
        api: Api,
        orgs: list[dict[str, Any]],
        errors: list[tuple[str, str]],
    ) -> None:
        before = await state(api)

        with pytest.raises(ValidationFailed) as refused:
            await seed(app, {"orgs": orgs})

        found = [(error["field"], error["message"]) for error in refused.value.details["errors"]]
        assert found == errors
        assert await state(api) == before
