"""The last SuperAdmin cannot be deleted (CONTRACT §3), also when deletes race (issue 10): two
SuperAdmins deleting each other at once, or one deleting itself and the other, leave one."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from tests.factories import Api, bearer
from voke_esm.app import app_services

USERS = "/api/v1/users"
PASSWORD = "a long enough password"
ROUNDS = 8


async def super_admin_ids(app: FastAPI) -> set[str]:
    async with app_services(app).sessionmaker() as session:
        rows = await session.scalars(text("SELECT id FROM users WHERE role = 'SUPER_ADMIN'"))
        return {str(uuid.UUID(str(row))) for row in rows}


async def new_super_admin(http: httpx.AsyncClient, token: str) -> tuple[str, str]:
    """A second SuperAdmin, created by the one holding `token`: its id and its token."""
    email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
    created = await http.post(
        USERS,
        json={"email": email, "password": PASSWORD, "role": "SUPER_ADMIN"},
        headers=bearer(token),
    )
    assert created.status_code == 201, created.text
    signed_in = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    return created.json()["id"], signed_in.json()["accessToken"]


async def delete(http: httpx.AsyncClient, token: str, user_id: str) -> int:
    return (await http.delete(f"{USERS}/{user_id}", headers=bearer(token))).status_code


class TestLastSuperAdminUnderConcurrency:
    async def test_two_super_admins_deleting_each_other_leave_one(
        self, app: FastAPI, api: Api
    ) -> None:
        (admin_id,) = await super_admin_ids(app)
        survivor = (admin_id, api.token)
        for round_ in range(ROUNDS):
            other = await new_super_admin(api.http, survivor[1])

            statuses = await asyncio.gather(
                delete(api.http, survivor[1], other[0]), delete(api.http, other[1], survivor[0])
            )

            remaining = await super_admin_ids(app)
            assert len(remaining) == 1, (round_, statuses)
            assert sorted(statuses) in ([200, 401], [200, 409]), (round_, statuses)
            survivor = survivor if survivor[0] in remaining else other

    async def test_one_deleting_itself_and_the_other_at_once_leaves_one(
        self, app: FastAPI, api: Api
    ) -> None:
        (admin_id,) = await super_admin_ids(app)
        deleter = (admin_id, api.token)
        for round_ in range(ROUNDS):
            other = await new_super_admin(api.http, deleter[1])

            statuses = await asyncio.gather(
                delete(api.http, deleter[1], deleter[0]), delete(api.http, deleter[1], other[0])
            )

            remaining = await super_admin_ids(app)
            assert len(remaining) == 1, (round_, statuses)
            assert sorted(statuses) in ([200, 401], [200, 409]), (round_, statuses)
            # Whoever is left deletes next round; if the deleter removed itself, the other.
            deleter = deleter if deleter[0] in remaining else other

    async def test_two_deletes_of_one_super_admin_delete_it_once(
        self, app: FastAPI, api: Api
    ) -> None:
        for round_ in range(ROUNDS // 2):
            target, _token = await new_super_admin(api.http, api.token)
            others = await super_admin_ids(app) - {target}

            statuses = await asyncio.gather(
                delete(api.http, api.token, target), delete(api.http, api.token, target)
            )

            assert sorted(statuses) == [200, 404], (round_, statuses)
            assert await super_admin_ids(app) == others
