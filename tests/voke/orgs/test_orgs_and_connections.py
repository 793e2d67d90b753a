"""The Voke side's orgs, their connections and secrets at rest (CONTRACT §3)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import FastAPI
from sqlalchemy import inspect, text

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
    org_admin_token,
    without,
)
from voke_esm.app import app_services


class TestOrgs:
    async def test_create_returns_the_org_with_a_utc_creation_time(self, api: Api) -> None:
        start = datetime.now(UTC)
        response = await api.http.post(ORGS, json={"name": "Acme"}, headers=api.headers)
        end = datetime.now(UTC)

        assert response.status_code == 201, response.text
        org = response.json()
        assert set(org) == {"id", "name", "slug", "createdAt"}
        uuid.UUID(org["id"])
        # The seed's org "acme" publishes on vcp.acme.event.telemetry (§8).
        assert (org["name"], org["slug"]) == ("Acme", "acme")
        assert_utc_between(org["createdAt"], start, end)

    async def test_two_orgs_of_one_slug_get_distinct_slugs(self, api: Api) -> None:
        # Two orgs can no longer share a name (§3 amended): these two names share a slug.
        first, second = await api.create_org("Acme Energy"), await api.create_org("Acme-Energy")

        assert first["slug"] != second["slug"]

    async def test_list_and_get_return_the_created_orgs(self, api: Api) -> None:
        acme, globex = await api.create_org("Acme"), await api.create_org("Globex")

        listed = await api.http.get(ORGS, headers=api.headers)
        fetched = await api.http.get(f"{ORGS}/{globex['id']}", headers=api.headers)

        assert listed.status_code == 200
        assert sorted(listed.json(), key=lambda org: org["name"]) == [acme, globex]
        assert (fetched.status_code, fetched.json()) == (200, globex)

    async def test_unknown_org_is_not_found_and_a_bad_id_is_invalid_uuid(self, api: Api) -> None:
        unknown = await api.http.get(f"{ORGS}/{uuid.uuid4()}", headers=api.headers)
        malformed = await api.http.get(f"{ORGS}/acme", headers=api.headers)

        assert (unknown.status_code, unknown.json()) == (404, ORG_NOT_FOUND)
        assert (malformed.status_code, malformed.json()) == (400, INVALID_UUID)

    async def test_only_a_super_admin_may_manage_orgs(self, api: Api) -> None:
        org = await api.create_org()
        token = await org_admin_token(api)

        requests: tuple[tuple[str, str, JsonBody], ...] = (
            ("GET", ORGS, {}),
            ("POST", ORGS, {"json": {"name": "Rogue"}}),
            ("GET", f"{ORGS}/{org['id']}", {}),
            ("GET", f"{ORGS}/{org['id']}/settings/connections", {}),
        )
        for method, path, extra in requests:
            forbidden = await api.http.request(method, path, headers=bearer(token), **extra)
            assert (forbidden.status_code, forbidden.json()) == (403, NOT_SUPER_ADMIN), path
            anonymous = await api.http.request(method, path, **extra)
            assert (anonymous.status_code, anonymous.json()) == (401, NO_TOKEN), path
        orgs = (await api.http.get(ORGS, headers=api.headers)).json()
        assert [o["id"] for o in orgs] == [org["id"]]


class TestConnections:
    async def test_an_org_without_credentials_shows_none(self, api: Api) -> None:
        org = await api.create_org()

        response = await api.http.get(
            f"{ORGS}/{org['id']}/settings/connections", headers=api.headers
        )

        assert response.status_code == 200
        assert response.json() == {
            "orgId": org["id"],
            "esmCredentialsSet": False,
            "clientId": None,
            "esmApiUrl": None,
            "credentialsSetAt": None,
        }

    async def test_enabled_org_shows_client_and_url_but_never_the_secret(self, api: Api) -> None:
        org = await api.create_org()
        start = datetime.now(UTC)
        first = await api.enable(org["id"])
        credentials = await api.enable(org["id"])
        end = datetime.now(UTC)

        response = await api.http.get(
            f"{ORGS}/{org['id']}/settings/connections", headers=api.headers
        )

        assert response.status_code == 200
        body = response.json()
        assert without(body, "credentialsSetAt") == {
            "orgId": org["id"],
            "esmCredentialsSet": True,
            "clientId": credentials["clientId"],
            "esmApiUrl": credentials["esmApiUrl"],
        }
        assert_utc_between(body["credentialsSetAt"], start, end)
        for secret in (first["clientSecret"], credentials["clientSecret"]):
            assert secret not in response.text

    async def test_unknown_org_is_not_found_and_a_bad_id_is_invalid_uuid(self, api: Api) -> None:
        unknown = await api.http.get(
            f"{ORGS}/{uuid.uuid4()}/settings/connections", headers=api.headers
        )
        malformed = await api.http.get(f"{ORGS}/acme/settings/connections", headers=api.headers)

        assert (unknown.status_code, unknown.json()) == (404, ORG_NOT_FOUND)
        assert (malformed.status_code, malformed.json()) == (400, INVALID_UUID)


class TestSecretsAtRest:
    async def test_no_table_holds_a_client_secret_in_plaintext(
        self, api: Api, app: FastAPI
    ) -> None:
        org = await api.create_org()
        rotated_away = await api.enable(org["id"])
        credentials = await api.enable(org["id"])
        # The stored (encrypted) secret must still work for Voke: the token exchange accepts it.
        await api.trading_token(credentials["clientId"], credentials["clientSecret"])

        dump: list[str] = []
        async with app_services(app).sessionmaker() as session:
            connection = await session.connection()
            tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
            for table in tables:
                rows = await session.execute(text(f'SELECT * FROM "{table}"'))
                dump.extend(str(value) for row in rows for value in row)
        everything = "\n".join(dump)

        # The dump does read the data: the client id and the org are in it.
        assert credentials["clientId"] in everything
        assert org["slug"] in everything
        assert credentials["clientSecret"] not in everything
        assert rotated_away["clientSecret"] not in everything
