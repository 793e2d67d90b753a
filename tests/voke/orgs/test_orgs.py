"""Deleting an org, and org names unique without regard to case (CONTRACT §3)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command as alembic_command
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from sqlalchemy import Integer, String, Uuid, bindparam, column, text

from tests.conftest import PG_HOST, PG_PORT, PG_USER, _pg_admin, run_in_thread
from tests.factories import SEED_BLOCKS, Api, OrgScope, bearer, error_body
from voke_esm.app import app_services
from voke_esm.core.db import UtcDateTime, create_engine, session_scope
from voke_esm.migrations import alembic_config
from voke_esm.sandbox.trading.journal import JournalRecorder

ORGS = "/api/v1/orgs"
ADMIN = "/api/v1/voke-esm/admin"
TRADING = "/api/v1/voke-esm/trading"
ORG_NOT_FOUND = error_body(404, "NOT_FOUND", "Organization not found")
INVALID_UUID = error_body(400, "INVALID_UUID", "Invalid UUID")
TOKEN_REFUSED = error_body(401, "UNAUTHORIZED", "Invalid or expired token")
_NAME_TAKEN = "An organization with this name already exists"
NAME_TAKEN = error_body(
    409, "CONFLICT", _NAME_TAKEN, {"errors": [{"field": "name", "message": _NAME_TAKEN}]}
)
# Every table that holds rows of an org, with the column naming it.
ORG_TABLES = {
    "orgs": "id",
    "plants": "org_id",
    "trading_partner_configs": "org_id",
    "voke_esm_clients": "org_id",
    "voke_esm_plants": "org_id",
    "voke_esm_org_states": "org_id",
    "voke_esm_journal": "org_id",
}
ID = bindparam("id", type_=Uuid())
PASSWORD = "a long enough password"


async def rows_of_org(app: FastAPI, org_id: str) -> dict[str, int]:
    counts = {}
    async with session_scope(app_services(app).sessionmaker) as session:
        for table, column in ORG_TABLES.items():
            counts[table] = int(
                await session.scalar(
                    text(f"SELECT count(*) FROM {table} WHERE {column} = :id").bindparams(ID),
                    {"id": uuid.UUID(org_id)},
                )
                or 0
            )
        counts["config_updates"] = int(
            await session.scalar(
                text(
                    "SELECT count(*) FROM voke_esm_config_updates WHERE plant_id IN"
                    " (SELECT id FROM voke_esm_plants WHERE org_id = :id)"
                ).bindparams(ID),
                {"id": uuid.UUID(org_id)},
            )
            or 0
        )
    return counts


async def delete_org(api: Api, org_id: str) -> httpx.Response:
    return await api.http.delete(f"{ORGS}/{org_id}", headers=api.headers)


async def create_user(api: Api, role: str, org_id: str | None) -> dict[str, Any]:
    body = {
        "email": f"user-{uuid.uuid4().hex[:8]}@example.com",
        "password": PASSWORD,
        "role": role,
        "orgId": org_id,
    }
    response = await api.http.post("/api/v1/users", json=body, headers=api.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def login(http: httpx.AsyncClient, email: str) -> str:
    response = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["accessToken"])


class TestDeleteOrg:
    async def test_everything_of_the_org_goes_and_other_orgs_keep_theirs(
        self, app: FastAPI, api: Api
    ) -> None:
        org = await api.enabled_org("Doomed Energy")
        other = await api.enabled_org("Kept Energy")
        token = await api.trading_token(org.client_id, org.client_secret)
        other_token = await api.trading_token(other.client_id, other.client_secret)
        # Some of everything: a Voke plant, a second sandbox plant, a config update (journal and
        # replay record), fault rules, an advanced clock, an ORG_ADMIN and a SuperAdmin of it.
        await api.create_voke_plant(org.id, externalPlantId=org.default_plant_id)
        await api.create_sandbox_plant(org.client_id)
        updated = await api.update_config(token, org.default_plant_id, SEED_BLOCKS)
        assert updated.status_code == 200, updated.text
        faults = await api.http.put(
            f"{ADMIN}/faults",
            params={"orgId": org.id},
            json={"rules": [{"endpoint": "token", "kind": "latency", "latencyMs": 1}]},
            headers=api.headers,
        )
        assert faults.status_code == 200, faults.text
        advanced = await api.http.post(
            f"{ADMIN}/clock/advance",
            params={"orgId": org.id},
            json={"minutes": 30},
            headers=api.headers,
        )
        assert advanced.status_code == 200, advanced.text
        org_admin = await create_user(api, "ORG_ADMIN", org.id)
        org_admin_token = await login(api.http, org_admin["email"])
        super_admin = await create_user(api, "SUPER_ADMIN", org.id)
        journal = await api.http.get(
            f"{ADMIN}/journal", params={"orgId": org.id}, headers=api.headers
        )
        assert journal.status_code == 200, journal.text
        assert journal.json(), journal.text
        before = await rows_of_org(app, org.id)
        assert all(before.values()), before
        other_journal = await api.http.get(
            f"{ADMIN}/journal", params={"orgId": other.id}, headers=api.headers
        )  # also waits until the journal has written what it holds of the other org's calls
        assert other_journal.status_code == 200, other_journal.text
        other_before = await rows_of_org(app, other.id)

        response = await delete_org(api, org.id)

        assert response.status_code == 200, response.text
        assert response.json() == {"message": "Organization Doomed Energy deleted"}
        # Its trading token and its credentials die at once (§4), its users' Voke tokens too.
        listed = await api.http.get(f"{TRADING}/plant/list", headers=bearer(token))
        assert (listed.status_code, listed.json()) == (401, TOKEN_REFUSED)
        exchange = await api.http.post(
            f"{TRADING}/token",
            json={"clientId": org.client_id, "clientSecret": org.client_secret},
        )
        assert (exchange.status_code, exchange.json()["code"]) == (401, "INVALID_CLIENT")
        me = await api.http.get(ORGS, headers=bearer(org_admin_token))
        assert (me.status_code, me.json()) == (401, TOKEN_REFUSED)
        # The org is 404 everywhere, its rows are gone from every table.
        fetched = await api.http.get(f"{ORGS}/{org.id}", headers=api.headers)
        assert (fetched.status_code, fetched.json()) == (404, ORG_NOT_FOUND)
        for method, path in [
            ("GET", f"{ADMIN}/status"),
            ("POST", f"{ADMIN}/enable"),
            ("POST", f"{ADMIN}/disable"),
            ("GET", f"{ADMIN}/journal"),
            ("GET", f"{ADMIN}/faults"),
            ("GET", f"{ADMIN}/clock"),
        ]:
            answer = await api.http.request(
                method, path, params={"orgId": org.id}, headers=api.headers
            )
            assert (answer.status_code, answer.json()) == (404, ORG_NOT_FOUND), path
        voke_plants = await api.http.get(f"{ORGS}/{org.id}/plants", headers=api.headers)
        assert (voke_plants.status_code, voke_plants.json()) == (404, ORG_NOT_FOUND)
        assert await api.sandbox_plants(clientId=org.client_id) == []
        assert all(plant["clientId"] == other.client_id for plant in await api.sandbox_plants())
        assert await rows_of_org(app, org.id) == dict.fromkeys(before, 0)
        # Its ORG_ADMIN is gone; a SuperAdmin that named it stays, bound to no org.
        users = await api.http.get("/api/v1/users", headers=api.headers)
        by_id = {user["id"]: user for user in users.json()}
        assert org_admin["id"] not in by_id
        assert by_id[super_admin["id"]]["orgId"] is None
        # The other org keeps everything.
        assert await rows_of_org(app, other.id) == other_before
        still = await api.http.get(f"{TRADING}/plant/list", headers=bearer(other_token))
        assert still.status_code == 200, still.text
        # The name is free again.
        again = await api.create_org("doomed energy")
        assert again["name"] == "doomed energy"

    async def test_unknown_gone_and_malformed_ids(self, api: Api) -> None:
        org = await api.create_org()
        assert (await delete_org(api, org["id"])).status_code == 200

        twice = await delete_org(api, org["id"])
        unknown = await delete_org(api, str(uuid.uuid4()))
        malformed = await delete_org(api, "acme")

        assert (twice.status_code, twice.json()) == (404, ORG_NOT_FOUND)
        assert (unknown.status_code, unknown.json()) == (404, ORG_NOT_FOUND)
        assert (malformed.status_code, malformed.json()) == (400, INVALID_UUID)
        listed = await api.http.get(ORGS, headers=api.headers)
        assert org["id"] not in {each["id"] for each in listed.json()}

    async def test_only_a_super_admin_may_delete(self, api: Api) -> None:
        org = await api.create_org()
        org_admin = await create_user(api, "ORG_ADMIN", org["id"])
        token = await login(api.http, org_admin["email"])

        anonymous = await api.http.delete(f"{ORGS}/{org['id']}")
        refused = await api.http.delete(f"{ORGS}/{org['id']}", headers=bearer(token))

        assert (anonymous.status_code, anonymous.json()["code"]) == (401, "UNAUTHORIZED")
        assert (refused.status_code, refused.json()["code"]) == (403, "FORBIDDEN")
        assert (await api.http.get(f"{ORGS}/{org['id']}", headers=api.headers)).status_code == 200

    async def test_is_documented_in_openapi(self, client: httpx.AsyncClient) -> None:
        operation = (await client.get("/openapi.json")).json()["paths"]["/api/v1/orgs/{orgId}"][
            "delete"
        ]

        assert {"200", "400", "401", "403", "404"} <= set(operation["responses"])

    async def test_racing_changes_of_the_org_leave_no_orphan_and_no_500(
        self, app: FastAPI, api: Api
    ) -> None:
        for _round in range(3):
            org = await api.enabled_org()
            token = await api.trading_token(org.client_id, org.client_secret)
            voke_plant = await api.create_voke_plant(org.id, externalPlantId=org.default_plant_id)
            plants = await api.sandbox_plants(clientId=org.client_id)
            sandbox_plant = f"{ADMIN}/plants/{plants[0]['id']}"
            voke_plant_path = f"{ORGS}/{org.id}/plants/{voke_plant['id']}"
            by_org: OrgScope = {"params": {"orgId": org.id}, "headers": api.headers}
            snapshot = (await api.http.get(f"{ADMIN}/snapshot", **by_org)).json()
            calls = [
                delete_org(api, org.id),
                api.http.post(f"{ADMIN}/enable", **by_org),
                api.http.post(f"{ADMIN}/disable", **by_org),
                api.http.post(f"{ADMIN}/reset", **by_org),
                api.http.put(f"{ADMIN}/snapshot", json=snapshot, **by_org),
                api.http.put(f"{ADMIN}/faults", json={"rules": []}, **by_org),
                api.http.post(f"{ADMIN}/clock/advance", json={"minutes": 5}, **by_org),
                api.post_sandbox_plant(
                    {"clientId": org.client_id, "externalPlantId": "RACE-1", "name": "Race"}
                ),
                api.http.patch(sandbox_plant, json={"name": "Renamed"}, headers=api.headers),
                api.http.patch(sandbox_plant, json={"timeConfigs": []}, headers=api.headers),
                api.http.delete(sandbox_plant, headers=api.headers),
                api.http.post(f"{sandbox_plant}/telemetry", headers=api.headers),
                api.update_config(token, org.default_plant_id, SEED_BLOCKS),
                api.http.post(f"{ORGS}/{org.id}/plants", json={"name": "R"}, headers=api.headers),
                api.http.patch(voke_plant_path, json={"name": "Renamed"}, headers=api.headers),
                api.http.delete(voke_plant_path, headers=api.headers),
            ]
            answers = await asyncio.wait_for(asyncio.gather(*calls), timeout=60)

            assert answers[0].status_code == 200, answers[0].text
            for answer in answers:
                assert answer.status_code < 500, (answer.request.url, answer.text)
            assert set((await rows_of_org(app, org.id)).values()) == {0}

    async def test_journal_entries_of_other_orgs_survive_a_batch_with_a_deleted_org(
        self, app: FastAPI, api: Api
    ) -> None:
        gone, kept = await api.create_org(), await api.create_org()
        assert (await delete_org(api, gone["id"])).status_code == 200
        recorder = JournalRecorder(app_services(app).sessionmaker, keep=100)

        # A trading call of the org that was in flight while it was deleted is recorded late.
        for org_id in (gone["id"], kept["id"]):
            recorder.record(
                {
                    "org_id": uuid.UUID(org_id),
                    "at": datetime.now(UTC),
                    "client_id": "c",
                    "method": "GET",
                    "path": f"{TRADING}/plant/list",
                    "status": 200,
                    "plant_id": None,
                    "config_update_req_code": None,
                    "result_code": None,
                    "duration_ms": 1.0,
                }
            )
        await recorder.aclose()

        assert (await rows_of_org(app, kept["id"]))["voke_esm_journal"] == 1
        assert (await rows_of_org(app, gone["id"]))["voke_esm_journal"] == 0


class TestOrgNames:
    async def test_a_taken_name_in_another_case_is_a_conflict(self, api: Api) -> None:
        await api.create_org("Acme Energy")

        again = await api.http.post(ORGS, json={"name": "  aCME eNERGY "}, headers=api.headers)
        accented = await api.http.post(ORGS, json={"name": "ÉCLAIR"}, headers=api.headers)
        accented_again = await api.http.post(ORGS, json={"name": "éclair"}, headers=api.headers)

        assert (again.status_code, again.json()) == (409, NAME_TAKEN)
        assert accented.status_code == 201, accented.text
        assert (accented_again.status_code, accented_again.json()) == (409, NAME_TAKEN)
        listed = (await api.http.get(ORGS, headers=api.headers)).json()
        assert sorted(org["name"] for org in listed) == ["Acme Energy", "ÉCLAIR"]

    async def test_create_documents_the_conflict(self, client: httpx.AsyncClient) -> None:
        operation = (await client.get("/openapi.json")).json()["paths"]["/api/v1/orgs"]["post"]

        assert "409" in operation["responses"]

    async def test_parallel_creates_of_one_name_give_one_org_and_conflicts(self, api: Api) -> None:
        names = ["Parallel Energy" if i % 2 else "PARALLEL energy" for i in range(20)]

        answers = await asyncio.wait_for(
            asyncio.gather(
                *(api.http.post(ORGS, json={"name": name}, headers=api.headers) for name in names)
            ),
            timeout=60,
        )

        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [201] + [409] * 19, [answer.text for answer in answers]
        assert all(a.json() == NAME_TAKEN for a in answers if a.status_code == 409)
        listed = (await api.http.get(ORGS, headers=api.headers)).json()
        assert [org["slug"] for org in listed] == ["parallel-energy"]

    async def test_parallel_creates_of_names_with_one_slug_all_succeed(self, api: Api) -> None:
        # Twenty names, distinct even without case, that all slugify to "acme-energy".
        names = [f"Acme{separator * n}Energy" for separator in "-_" for n in range(1, 11)]

        answers = await asyncio.wait_for(
            asyncio.gather(
                *(api.http.post(ORGS, json={"name": name}, headers=api.headers) for name in names)
            ),
            timeout=60,
        )

        assert [answer.status_code for answer in answers] == [201] * 20, [
            answer.text for answer in answers if answer.status_code != 201
        ]
        slugs = [answer.json()["slug"] for answer in answers]
        assert len(set(slugs)) == 20, slugs
        assert all(slug.startswith("acme-energy") for slug in slugs), slugs


class TestNameKeyMigration:
    """The revision that makes names unique renames the clashes it finds, and loses nothing."""

    @pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
    def fresh_url(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
        if request.param == "sqlite":
            yield f"sqlite+aiosqlite:///{tmp_path / 'voke-esm.db'}"
            return
        name = f"voke_esm_migration_{uuid.uuid4().hex[:8]}"
        run_in_thread(lambda: asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"')))
        try:
            yield f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
        finally:
            drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            run_in_thread(lambda: asyncio.run(_pg_admin(drop)))

    def test_clashing_names_are_renamed_by_suffix_and_their_rows_kept(self, fresh_url: str) -> None:
        config = alembic_config(fresh_url)
        revision = ScriptDirectory.from_config(config).get_revision(NAME_KEY_REVISION)
        assert revision is not None
        assert isinstance(revision.down_revision, str)
        alembic_command.upgrade(config, revision.down_revision)
        names = ["Acme", "ACME", "Globex", "acme", "Acme (2)"]
        ids = [uuid.uuid4() for _ in names]
        run_in_thread(lambda: asyncio.run(_insert_orgs_with_a_plant_each(fresh_url, ids, names)))

        alembic_command.upgrade(config, NAME_KEY_REVISION)

        stored = run_in_thread(lambda: asyncio.run(_names_and_plants(fresh_url)))
        # The oldest keeps its name; each later clash takes the first free suffix.
        assert stored == {
            ids[0]: ("Acme", 1),
            ids[1]: ("ACME (3)", 1),
            ids[2]: ("Globex", 1),
            ids[3]: ("acme (4)", 1),
            ids[4]: ("Acme (2)", 1),
        }
        alembic_command.downgrade(config, revision.down_revision)
        alembic_command.upgrade(config, "head")


NAME_KEY_REVISION = "32c090acdad7"


async def _insert_orgs_with_a_plant_each(url: str, ids: list[uuid.UUID], names: list[str]) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for number, (org_id, name) in enumerate(zip(ids, names, strict=True)):
                at = datetime(2026, 1, 1, 0, number, tzinfo=UTC)
                await connection.execute(
                    text(
                        "INSERT INTO orgs (id, name, slug, created_at)"
                        " VALUES (:id, :name, :slug, :at)"
                    ).bindparams(ID, bindparam("at", type_=UtcDateTime())),
                    {"id": org_id, "name": name, "slug": f"org-{number}", "at": at},
                )
                await connection.execute(
                    text(
                        "INSERT INTO plants (id, org_id, name, time_configs, created_at,"
                        " updated_at) VALUES (:plant, :id, 'p', '[]', :at, :at)"
                    ).bindparams(
                        ID,
                        bindparam("plant", type_=Uuid()),
                        bindparam("at", type_=UtcDateTime()),
                    ),
                    {"plant": uuid.uuid4(), "id": org_id, "at": at},
                )
    finally:
        await engine.dispose()


async def _names_and_plants(url: str) -> dict[uuid.UUID, tuple[str, int]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT orgs.id, orgs.name, count(plants.id) FROM orgs"
                    " LEFT JOIN plants ON plants.org_id = orgs.id GROUP BY orgs.id, orgs.name"
                ).columns(column("id", Uuid()), column("name", String()), column("n", Integer()))
            )
            return {row[0]: (row[1], row[2]) for row in rows}
    finally:
        await engine.dispose()
