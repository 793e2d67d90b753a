"""The Voke side (CONTRACT §3): login, users, orgs, Voke plants, connections, secrets at rest."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
from fastapi import FastAPI
from sqlalchemy import inspect, text

from tests.factories import ADMIN_EMAIL, ADMIN_PASSWORD, Api, bearer, error_body
from voke_esm.core.config import Settings

LOGIN = "/api/v1/auth/login"
USERS = "/api/v1/users"
ORGS = "/api/v1/orgs"

# The seeds print exactly this body for a malformed id, on every endpoint.
INVALID_UUID = error_body(400, "INVALID_UUID", "Invalid UUID")
WRONG_LOGIN = error_body(401, "UNAUTHORIZED", "Invalid email or password")
NO_TOKEN = error_body(401, "UNAUTHORIZED", "Authentication required")
TOKEN_REFUSED = error_body(401, "UNAUTHORIZED", "Invalid or expired token")
NOT_SUPER_ADMIN = error_body(403, "FORBIDDEN", "SuperAdmin role required")
ORG_NOT_FOUND = error_body(404, "NOT_FOUND", "Organization not found")
PLANT_NOT_FOUND = error_body(404, "NOT_FOUND", "Plant not found")
_TAKEN = "externalPlantId is already used by another plant of this organization"
EXTERNAL_ID_TAKEN = error_body(
    409, "CONFLICT", _TAKEN, {"errors": [{"field": "externalPlantId", "message": _TAKEN}]}
)
UTC_Z = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")
USER_PASSWORD = "a long enough password"


def assert_utc_between(value: str, start: datetime, end: datetime) -> None:
    assert UTC_Z.fullmatch(value), value
    assert start <= datetime.fromisoformat(value) <= end


def without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key not in keys}


async def login(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await http.post(LOGIN, json={"email": email, "password": password})


async def create_user(api: Api, role: str = "ORG_ADMIN", **fields: Any) -> dict[str, Any]:
    body = {
        "email": f"user-{uuid.uuid4().hex[:8]}@example.com",
        "password": USER_PASSWORD,
        "role": role,
        **fields,
    }
    response = await api.http.post(USERS, json=body, headers=api.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def org_admin_token(api: Api) -> str:
    user = await create_user(api)
    response = await login(api.http, user["email"], USER_PASSWORD)
    assert response.status_code == 200, response.text
    return str(response.json()["accessToken"])


class TestLogin:
    async def test_issues_a_voke_jwt_for_the_user(self, api: Api, settings: Settings) -> None:
        response = await login(api.http, ADMIN_EMAIL, ADMIN_PASSWORD)

        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"accessToken", "tokenType", "expiresIn"}
        assert body["tokenType"] == "Bearer"
        assert isinstance(body["expiresIn"], int)
        assert settings.jwt_secret is not None
        claims = jwt.decode(
            body["accessToken"],
            settings.jwt_secret.get_secret_value(),
            algorithms=["HS256"],
            issuer="voke",
        )
        users = (await api.http.get(USERS, headers=api.headers)).json()
        (admin,) = [user for user in users if user["email"] == ADMIN_EMAIL]
        assert (claims["sub"], claims["role"]) == (admin["id"], "SUPER_ADMIN")
        assert claims["exp"] - claims["iat"] == body["expiresIn"]

    async def test_wrong_password_and_unknown_email_get_the_same_401(
        self, client: httpx.AsyncClient
    ) -> None:
        wrong_password = await login(client, ADMIN_EMAIL, "not the password")
        unknown_email = await login(client, "nobody@example.com", ADMIN_PASSWORD)

        assert (wrong_password.status_code, wrong_password.json()) == (401, WRONG_LOGIN)
        assert (unknown_email.status_code, unknown_email.json()) == (401, WRONG_LOGIN)

    async def test_ten_failures_in_a_minute_lock_that_email_out(self, api: Api) -> None:
        other = await create_user(api)
        for attempt in range(10):
            failed = await login(api.http, ADMIN_EMAIL, f"wrong {attempt}")
            assert failed.status_code == 401, attempt

        locked = await login(api.http, ADMIN_EMAIL, ADMIN_PASSWORD)

        assert locked.status_code == 429
        seconds = int(locked.headers["Retry-After"])
        assert 1 <= seconds <= 60
        assert locked.json() == error_body(
            429,
            "RATE_LIMITED",
            f"Rate limit exceeded; retry in {seconds} s",
            {"retryAfter": seconds},
        )
        # The lock is per email: another user still signs in.
        assert (await login(api.http, other["email"], USER_PASSWORD)).status_code == 200


class TestUsers:
    async def test_create_returns_the_user_and_list_shows_it(self, api: Api) -> None:
        org = await api.create_org()
        start = datetime.now(UTC)
        response = await api.http.post(
            USERS,
            json={
                "email": "ops@example.com",
                "password": USER_PASSWORD,
                "role": "ORG_ADMIN",
                "orgId": org["id"],
            },
            headers=api.headers,
        )
        end = datetime.now(UTC)

        assert response.status_code == 201, response.text
        user = response.json()
        assert without(user, "id", "createdAt") == {
            "email": "ops@example.com",
            "role": "ORG_ADMIN",
            "orgId": org["id"],
        }
        assert_utc_between(user["createdAt"], start, end)
        listed = await api.http.get(USERS, headers=api.headers)
        assert listed.status_code == 200
        assert user in listed.json()
        assert {u["email"] for u in listed.json()} == {ADMIN_EMAIL, "ops@example.com"}

    async def test_a_super_admin_can_be_created_without_an_org(self, api: Api) -> None:
        user = await create_user(api, role="SUPER_ADMIN")

        assert (user["role"], user["orgId"]) == ("SUPER_ADMIN", None)
        token = (await login(api.http, user["email"], USER_PASSWORD)).json()["accessToken"]
        assert (await api.http.get(USERS, headers=bearer(token))).status_code == 200

    async def test_a_taken_email_is_a_conflict(self, api: Api) -> None:
        response = await api.http.post(
            USERS,
            json={"email": ADMIN_EMAIL, "password": USER_PASSWORD, "role": "ORG_ADMIN"},
            headers=api.headers,
        )

        assert (response.status_code, response.json()) == (
            409,
            error_body(
                409,
                "CONFLICT",
                "A user with this email already exists",
                {
                    "errors": [
                        {"field": "email", "message": "A user with this email already exists"}
                    ]
                },
            ),
        )
        users = (await api.http.get(USERS, headers=api.headers)).json()
        assert [user["email"] for user in users] == [ADMIN_EMAIL]

    async def test_the_password_is_stored_only_as_an_argon2_hash(
        self, api: Api, app: FastAPI
    ) -> None:
        user = await create_user(api)

        async with app.state.sessionmaker() as session:
            stored = await session.scalar(
                text("SELECT password_hash FROM users WHERE email = :email"),
                {"email": user["email"]},
            )
        assert stored.startswith("$argon2")
        assert USER_PASSWORD not in stored

    async def test_delete_removes_the_user_and_kills_their_tokens(self, api: Api) -> None:
        user = await create_user(api, role="SUPER_ADMIN")
        token = (await login(api.http, user["email"], USER_PASSWORD)).json()["accessToken"]

        response = await api.http.delete(f"{USERS}/{user['id']}", headers=api.headers)

        assert (response.status_code, response.json()) == (200, {"message": "User deleted"})
        users = (await api.http.get(USERS, headers=api.headers)).json()
        assert user["id"] not in {u["id"] for u in users}
        refused = await api.http.get(USERS, headers=bearer(token))
        assert (refused.status_code, refused.json()) == (401, TOKEN_REFUSED)
        again = await api.http.delete(f"{USERS}/{user['id']}", headers=api.headers)
        assert (again.status_code, again.json()) == (
            404,
            error_body(404, "NOT_FOUND", "User not found"),
        )

    async def test_only_a_super_admin_may_manage_users(self, api: Api) -> None:
        token = await org_admin_token(api)
        admin_id = jwt.decode(api.token, options={"verify_signature": False})["sub"]
        body = {"email": "new@example.com", "password": USER_PASSWORD, "role": "SUPER_ADMIN"}

        for method, path, extra in (
            ("GET", USERS, {}),
            ("POST", USERS, {"json": body}),
            ("DELETE", f"{USERS}/{admin_id}", {}),
        ):
            forbidden = await api.http.request(method, path, headers=bearer(token), **extra)
            assert (forbidden.status_code, forbidden.json()) == (403, NOT_SUPER_ADMIN), method
            anonymous = await api.http.request(method, path, **extra)
            assert (anonymous.status_code, anonymous.json()) == (401, NO_TOKEN), method
        emails = {user["email"] for user in (await api.http.get(USERS, headers=api.headers)).json()}
        assert ADMIN_EMAIL in emails
        assert "new@example.com" not in emails


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

        for method, path, extra in (
            ("GET", ORGS, {}),
            ("POST", ORGS, {"json": {"name": "Rogue"}}),
            ("GET", f"{ORGS}/{org['id']}", {}),
            ("GET", f"{ORGS}/{org['id']}/settings/connections", {}),
        ):
            forbidden = await api.http.request(method, path, headers=bearer(token), **extra)
            assert (forbidden.status_code, forbidden.json()) == (403, NOT_SUPER_ADMIN), path
            anonymous = await api.http.request(method, path, **extra)
            assert (anonymous.status_code, anonymous.json()) == (401, NO_TOKEN), path
        orgs = (await api.http.get(ORGS, headers=api.headers)).json()
        assert [o["id"] for o in orgs] == [org["id"]]


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

        for method, path, extra in (
            ("GET", plants, {}),
            ("POST", plants, {"json": {"name": "Rogue"}}),
            ("GET", f"{plants}/{plant['id']}", {}),
            ("PATCH", f"{plants}/{plant['id']}", {"json": {"name": "Rogue"}}),
            ("DELETE", f"{plants}/{plant['id']}", {}),
        ):
            forbidden = await api.http.request(method, path, headers=bearer(token), **extra)
            assert (forbidden.status_code, forbidden.json()) == (403, NOT_SUPER_ADMIN), method
            anonymous = await api.http.request(method, path, **extra)
            assert (anonymous.status_code, anonymous.json()) == (401, NO_TOKEN), method
        assert (await api.http.get(plants, headers=api.headers)).json() == [plant]


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

        dump = []
        async with app.state.sessionmaker() as session:
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
