"""Builders for the common steps of a test, each going through the HTTP API like a user would."""

from __future__ import annotations

import itertools
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict

import httpx
from fastapi import FastAPI

from voke_esm.core.db import session_scope
from voke_esm.voke.auth import service as auth_service

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "correct horse battery staple"

SEED_BLOCKS: list[dict[str, Any]] = [
    {"from": "00:00", "to": "07:00", "pBatMax": 10, "pBatMin": -10, "socMax": 95, "socMin": 20},
    {"from": "07:00", "to": "23:59", "pBatMax": 50, "pBatMin": -50, "socMax": 90, "socMin": 30},
]
WHOLE_DAY = [
    {"from": "00:00", "to": "23:59", "pBatMax": 50, "pBatMin": -50, "socMax": 90, "socMin": 20}
]

# The simulated site's fields of a plant created without them (CONTRACT §12).
SITE_DEFAULTS: dict[str, Any] = {
    "latitude": 50.08,
    "longitude": 14.42,
    "annualLoadKwh": 4000.0,
    "roundTripEfficiency": 0.9,
    "initialSoc": 50.0,
    "simulation": "selfConsumption",
}

_counter = itertools.count(1)


async def bootstrap_admin(app: FastAPI) -> None:
    async with session_scope(app.state.sessionmaker) as session:
        await auth_service.ensure_super_admin(session, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)


def error_body(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The exact envelope of CONTRACT §2."""
    from http import HTTPStatus

    return {
        "code": code,
        "details": details or {},
        "error": HTTPStatus(status).phrase,
        "message": message,
        "statusCode": status,
    }


def validation_error(*errors: tuple[str, str]) -> dict[str, Any]:
    """The 400 envelope naming each (field, message) in error."""
    return error_body(
        400,
        "VALIDATION_ERROR",
        "Validation error",
        {"errors": [{"field": field, "message": message} for field, message in errors]},
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class JsonBody(TypedDict, total=False):
    """A JSON body or none, as httpx keyword options (`**body`) in a table of requests."""

    json: Any


class OrgScope(TypedDict):
    """An admin request's org and authorization, as httpx keyword options (`**scope`)."""

    params: dict[str, str]
    headers: dict[str, str]


@dataclass
class EnabledOrg:
    org: dict[str, Any]
    client_id: str
    client_secret: str
    esm_api_url: str
    default_plant_id: str  # the default sandbox plant's externalPlantId

    @property
    def id(self) -> str:
        return str(self.org["id"])


@dataclass
class Api:
    """An HTTP client signed in as a SuperAdmin."""

    http: httpx.AsyncClient
    token: str
    headers: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.headers = {"Authorization": f"Bearer {self.token}"}

    # Voke side ----------------------------------------------------------------------------------

    async def create_org(self, name: str | None = None) -> dict[str, Any]:
        response = await self.http.post(
            "/api/v1/orgs", json={"name": name or f"Org {next(_counter)}"}, headers=self.headers
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def create_voke_plant(self, org_id: str, **fields: Any) -> dict[str, Any]:
        body = {"name": f"Voke plant {next(_counter)}", **fields}
        response = await self.http.post(
            f"/api/v1/orgs/{org_id}/plants", json=body, headers=self.headers
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    # Sandbox admin ------------------------------------------------------------------------------

    async def enable(self, org_id: str) -> dict[str, Any]:
        response = await self.http.post(
            "/api/v1/voke-esm/admin/enable", params={"orgId": org_id}, headers=self.headers
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def disable(self, org_id: str) -> httpx.Response:
        return await self.http.post(
            "/api/v1/voke-esm/admin/disable", params={"orgId": org_id}, headers=self.headers
        )

    async def status(self, org_id: str) -> dict[str, Any]:
        response = await self.http.get(
            "/api/v1/voke-esm/admin/status", params={"orgId": org_id}, headers=self.headers
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def enabled_org(self, name: str | None = None) -> EnabledOrg:
        org = await self.create_org(name)
        credentials = await self.enable(org["id"])
        plants = await self.sandbox_plants(clientId=credentials["clientId"])
        assert len(plants) == 1, plants
        return EnabledOrg(
            org=org,
            client_id=credentials["clientId"],
            client_secret=credentials["clientSecret"],
            esm_api_url=credentials["esmApiUrl"],
            default_plant_id=plants[0]["externalPlantId"],
        )

    async def sandbox_plants(self, **params: Any) -> list[dict[str, Any]]:
        response = await self.http.get(
            "/api/v1/voke-esm/admin/plants", params=params, headers=self.headers
        )
        assert response.status_code == 200, response.text
        return list(response.json())

    async def post_sandbox_plant(self, body: dict[str, Any]) -> httpx.Response:
        return await self.http.post(
            "/api/v1/voke-esm/admin/plants", json=body, headers=self.headers
        )

    async def create_sandbox_plant(self, client_id: str, **fields: Any) -> dict[str, Any]:
        number = next(_counter)
        body = {
            "clientId": client_id,
            "externalPlantId": f"PLANT-{number:04d}",
            "name": f"Site {number}",
            **fields,
        }
        response = await self.post_sandbox_plant(body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    # Trading ------------------------------------------------------------------------------------

    async def trading_token(self, client_id: str, client_secret: str) -> str:
        response = await self.http.post(
            "/api/v1/voke-esm/trading/token",
            json={"clientId": client_id, "clientSecret": client_secret},
        )
        assert response.status_code == 200, response.text
        return str(response.json()["accessToken"])

    async def update_config(
        self,
        trading_token: str,
        plant_id: str,
        time_configs: list[dict[str, Any]],
        *,
        code: str | None = None,
        validate_only: bool = False,
    ) -> httpx.Response:
        body = {
            "plantId": plant_id,
            "configUpdateReqCode": code or f"req-{next(_counter)}",
            "validateOnly": validate_only,
            "timeConfigs": time_configs,
        }
        return await self.http.post(
            "/api/v1/voke-esm/trading/plant/config/update",
            json=body,
            headers={"Authorization": f"Bearer {trading_token}"},
        )

    async def plant_config(self, trading_token: str, plant_id: str) -> httpx.Response:
        return await self.http.get(
            "/api/v1/voke-esm/trading/plant/config",
            params={"plantId": plant_id},
            headers={"Authorization": f"Bearer {trading_token}"},
        )


# The Voke side's users and answers, for the tests under tests/voke/.

LOGIN = "/api/v1/auth/login"
USERS = "/api/v1/users"
ORGS = "/api/v1/orgs"
# The seeds print exactly this body for a malformed id, on every endpoint.
INVALID_UUID = error_body(400, "INVALID_UUID", "Invalid UUID")
NO_TOKEN = error_body(401, "UNAUTHORIZED", "Authentication required")
NOT_SUPER_ADMIN = error_body(403, "FORBIDDEN", "SuperAdmin role required")
ORG_NOT_FOUND = error_body(404, "NOT_FOUND", "Organization not found")
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
