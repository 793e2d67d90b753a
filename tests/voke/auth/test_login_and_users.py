"""The Voke side's login and users (CONTRACT §3)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import jwt
from fastapi import FastAPI
from sqlalchemy import text

from tests.factories import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    NO_TOKEN,
    NOT_SUPER_ADMIN,
    USER_PASSWORD,
    USERS,
    Api,
    JsonBody,
    assert_utc_between,
    bearer,
    create_user,
    error_body,
    login,
    org_admin_token,
    without,
)
from voke_esm.app import app_services
from voke_esm.core.config import Settings

WRONG_LOGIN = error_body(401, "UNAUTHORIZED", "Invalid email or password")

TOKEN_REFUSED = error_body(401, "UNAUTHORIZED", "Invalid or expired token")


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

        async with app_services(app).sessionmaker() as session:
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

        requests: tuple[tuple[str, str, JsonBody], ...] = (
            ("GET", USERS, {}),
            ("POST", USERS, {"json": body}),
            ("DELETE", f"{USERS}/{admin_id}", {}),
        )
        for method, path, extra in requests:
            forbidden = await api.http.request(method, path, headers=bearer(token), **extra)
            assert (forbidden.status_code, forbidden.json()) == (403, NOT_SUPER_ADMIN), method
            anonymous = await api.http.request(method, path, **extra)
            assert (anonymous.status_code, anonymous.json()) == (401, NO_TOKEN), method
        emails = {user["email"] for user in (await api.http.get(USERS, headers=api.headers)).json()}
        assert ADMIN_EMAIL in emails
        assert "new@example.com" not in emails
