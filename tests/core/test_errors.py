"""CONTRACT §2 over HTTP: one error envelope for every failure, and the API documents its errors."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, urlencode

import httpx
import jwt
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from tests.conftest import http_client, make_settings
from tests.factories import Api, error_body, validation_error
from voke_esm.app import app_services, create_app

MIB = 1024 * 1024
TOO_LARGE = error_body(413, "PAYLOAD_TOO_LARGE", "Request body exceeds 1 MiB")
NOT_JSON = error_body(
    400,
    "VALIDATION_ERROR",
    "Validation error",
    {"errors": [{"field": "body", "message": "Request body is not valid JSON"}]},
)
UNAVAILABLE = error_body(503, "SERVICE_UNAVAILABLE", "Database unavailable")


def assert_envelope(response: httpx.Response, expected: dict[str, Any]) -> None:
    assert response.json() == expected
    assert response.status_code == expected["statusCode"]
    assert expected["error"] == HTTPStatus(response.status_code).phrase
    assert response.headers["content-type"] == "application/json"


@pytest.fixture
async def bare_client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The app on a database it never needs to open: for routing, documentation and the like."""
    settings = make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")
    application = create_app(settings)
    async with (
        LifespanManager(application, startup_timeout=60, shutdown_timeout=60),
        http_client(application) as http,
    ):
        yield http


class TestUnknownRoutes:
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/nope"),
            ("POST", "/api/v1/nope"),
            ("GET", "/api/v1/voke-esm/admin/nope"),
            ("DELETE", "/api/v1/voke-esm/trading/nope"),
        ],
    )
    async def test_an_unknown_route_is_404_not_found(
        self, bare_client: httpx.AsyncClient, method: str, path: str
    ) -> None:
        response = await bare_client.request(method, path)
        assert_envelope(response, error_body(404, "NOT_FOUND", "Route not found"))


class TestWrongMethod:
    @pytest.mark.parametrize(
        ("method", "path"),
        [("PUT", "/healthz"), ("DELETE", "/api/v1/orgs"), ("GET", "/api/v1/voke-esm/admin/enable")],
    )
    async def test_a_wrong_method_is_405_in_the_envelope(
        self, bare_client: httpx.AsyncClient, method: str, path: str
    ) -> None:
        response = await bare_client.request(method, path)
        assert_envelope(response, error_body(405, "METHOD_NOT_ALLOWED", "Method not allowed"))

    async def test_405_names_the_allowed_method(self, bare_client: httpx.AsyncClient) -> None:
        response = await bare_client.put("/healthz")
        assert response.headers["allow"] == "GET"

    @pytest.mark.parametrize(
        ("method", "path", "allow"),
        [
            ("DELETE", "/api/v1/orgs", "GET, POST"),
            ("PUT", "/api/v1/voke-esm/admin/plants", "GET, POST"),
            ("POST", f"/api/v1/voke-esm/admin/plants/{uuid.UUID(int=1)}", "DELETE, GET, PATCH"),
        ],
    )
    async def test_405_names_every_method_of_the_path(
        self, bare_client: httpx.AsyncClient, method: str, path: str, allow: str
    ) -> None:
        """A path with several routes (one per method) lists them all, not the first one's."""
        response = await bare_client.request(method, path)
        assert response.status_code == 405, response.text
        assert response.headers["allow"] == allow


class TestMalformedJson:
    @pytest.mark.parametrize(
        ("path", "text"),
        [
            ("/api/v1/orgs", b"{"),
            ("/api/v1/orgs", b'{"name": "Acme",}'),
            ("/api/v1/voke-esm/admin/plants", b"not json"),
            ("/api/v1/voke-esm/trading/token", b"{"),
        ],
    )
    async def test_a_body_that_is_not_json_is_400_validation_error_at_body(
        self, api: Api, path: str, text: bytes
    ) -> None:
        headers = {**api.headers, "Content-Type": "application/json"}
        response = await api.http.post(path, content=text, headers=headers)
        assert_envelope(response, NOT_JSON)


# 1,000 levels and one escape: about 2 kB, deeper than Python's JSON parser can go.
NESTED = ("[" * 1000 + '"\\u0041"' + "]" * 1000).encode()
NESTED_PLAIN = ("[" * 1000 + "]" * 1000).encode()
TOO_DEEP = validation_error(("body", "Request body is nested too deeply"))


def assert_nothing_logged_as_an_error(caplog: pytest.LogCaptureFixture) -> None:
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert not errors, [record.getMessage() for record in errors]


class TestDeeplyNestedJson:
    """A body nested deeper than the JSON parser goes is ignored by a route that takes no body,
    and a 400 at `body` on one that takes a body; never a 500, never a traceback in the log."""

    def test_the_body_is_deeper_than_the_parser_goes(self) -> None:
        assert len(NESTED) < 2100
        with pytest.raises(RecursionError):
            json.loads(NESTED)

    @pytest.mark.parametrize("body", [NESTED, NESTED_PLAIN], ids=["escape", "plain"])
    @pytest.mark.parametrize(
        ("path", "status", "signed_in"),
        [
            ("/healthz", 200, False),
            ("/readyz", 200, False),
            ("/metrics", 200, False),
            ("/platform/voke-esm", 200, False),
            ("/api/v1/orgs", 401, False),
            ("/api/v1/orgs", 200, True),
            ("/api/v1/voke-esm/trading/plant/list", 401, False),
        ],
    )
    async def test_a_route_without_a_body_ignores_it(
        self,
        api: Api,
        caplog: pytest.LogCaptureFixture,
        body: bytes,
        path: str,
        status: int,
        signed_in: bool,
    ) -> None:
        headers = {"Content-Type": "application/json", **(api.headers if signed_in else {})}

        response = await api.http.request("GET", path, content=body, headers=headers)

        assert response.status_code == status, response.text
        assert_nothing_logged_as_an_error(caplog)

    @pytest.mark.parametrize("body", [NESTED, NESTED_PLAIN], ids=["escape", "plain"])
    @pytest.mark.parametrize(
        "path",
        [
            "/api/v1/voke-esm/trading/token",
            "/api/v1/orgs",
            "/api/v1/voke-esm/admin/plants",
            "/api/v1/voke-esm/trading/plant/config/update",
        ],
    )
    async def test_a_route_with_a_body_answers_400_at_body(
        self, api: Api, caplog: pytest.LogCaptureFixture, body: bytes, path: str
    ) -> None:
        headers = {**api.headers, "Content-Type": "application/json"}
        if path.endswith("/update"):  # a trading call needs a trading token
            org = await api.enabled_org()
            token = await api.trading_token(org.client_id, org.client_secret)
            headers["Authorization"] = f"Bearer {token}"

        response = await api.http.post(path, content=body, headers=headers)

        assert_envelope(response, TOO_DEEP)
        assert_nothing_logged_as_an_error(caplog)

    async def test_the_token_form_takes_it_as_text(
        self, api: Api, caplog: pytest.LogCaptureFixture
    ) -> None:
        response = await api.http.post(
            "/api/v1/voke-esm/trading/token",
            content=urlencode(
                {"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"}
            ).encode()
            + b"&scope="
            + quote_plus(NESTED).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

        assert response.status_code == 401, response.text
        assert response.json()["code"] == "INVALID_CLIENT"
        assert_nothing_logged_as_an_error(caplog)

    async def test_a_recursion_error_elsewhere_is_still_a_500(
        self, app: FastAPI, caplog: pytest.LogCaptureFixture
    ) -> None:
        @app.get("/test-only/recursion")
        async def recurse() -> None:
            raise RecursionError("not the body's")

        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            response = await http.get("/test-only/recursion")

        assert_envelope(response, error_body(500, "INTERNAL_SERVER_ERROR", "Internal server error"))
        assert any(record.levelno >= logging.ERROR for record in caplog.records)


UNSTORABLE_MESSAGE = "must not contain NUL characters or unpaired surrogates"


def unstorable(*fields: str) -> dict[str, Any]:
    return validation_error(*((field, UNSTORABLE_MESSAGE) for field in fields))


class TestTextNoDatabaseCanStore:
    """JSON can carry NUL (\\u0000) and lone surrogates (\\ud800); PostgreSQL refuses the first and
    no driver can encode the second. Both are a 400 at their field, on every route, and nothing
    is stored."""

    @pytest.mark.parametrize("escape", [rb"\u0000", rb"\ud800"], ids=["nul", "lone-surrogate"])
    async def test_in_a_body_it_is_a_400_at_its_field_and_nothing_is_stored(
        self, api: Api, escape: bytes
    ) -> None:
        before = (await api.http.get("/api/v1/orgs", headers=api.headers)).json()
        headers = {**api.headers, "Content-Type": "application/json"}
        body = b'{"name": "Acme ' + escape + b' Energy"}'
        response = await api.http.post("/api/v1/orgs", content=body, headers=headers)
        assert_envelope(response, unstorable("name"))
        assert (await api.http.get("/api/v1/orgs", headers=api.headers)).json() == before

    async def test_in_a_query_it_is_a_400_at_its_parameter(self, api: Api) -> None:
        enabled = await api.enabled_org()
        token = await api.trading_token(enabled.client_id, enabled.client_secret)
        response = await api.plant_config(token, "PLANT\x00-001")
        assert_envelope(response, unstorable("plantId"))


def padded_org_body(size: int) -> bytes:
    """A valid org body of exactly `size` bytes (JSON allows trailing whitespace)."""
    body = b'{"name": "Padded Org"}'
    return body + b" " * (size - len(body))


async def chunks(body: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


class TestBodyLimit:
    async def test_a_declared_body_over_1_mib_is_413(self, api: Api) -> None:
        response = await api.http.post(
            "/api/v1/orgs",
            content=padded_org_body(MIB + 1),
            headers={**api.headers, "Content-Type": "application/json"},
        )
        assert response.request.headers["content-length"] == str(MIB + 1)
        assert_envelope(response, TOO_LARGE)

    async def test_a_streamed_body_over_1_mib_without_length_is_413(self, api: Api) -> None:
        response = await api.http.post(
            "/api/v1/orgs",
            content=chunks(padded_org_body(MIB + 1)),
            headers={**api.headers, "Content-Type": "application/json"},
        )
        assert "content-length" not in response.request.headers
        assert response.request.headers["transfer-encoding"] == "chunked"
        assert_envelope(response, TOO_LARGE)

    async def test_an_oversized_trading_update_is_413(self, api: Api) -> None:
        response = await api.http.post(
            "/api/v1/voke-esm/trading/plant/config/update",
            content=chunks(b"[" + b" " * MIB + b"]"),
            headers={"Content-Type": "application/json"},
        )
        assert_envelope(response, TOO_LARGE)

    @pytest.mark.parametrize("streamed", [False, True], ids=["declared", "streamed"])
    async def test_a_body_of_exactly_1_mib_is_accepted(self, api: Api, streamed: bool) -> None:
        body = padded_org_body(MIB)
        response = await api.http.post(
            "/api/v1/orgs",
            content=chunks(body) if streamed else body,
            headers={**api.headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 201, response.text
        assert response.json()["name"] == "Padded Org"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def unreachable_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return "postgresql+asyncpg://postgres@127.0.0.1:1/x"  # port 1: nothing listens there
    blocker = tmp_path / "a-regular-file"
    blocker.write_text("")
    # A directory under a regular file can never be created, so the database can never open.
    return f"sqlite+aiosqlite:///{blocker}/var/voke-esm.db"


@pytest.fixture
async def offline_app(tmp_path: Path, unreachable_database_url: str) -> AsyncIterator[FastAPI]:
    application = create_app(make_settings(tmp_path, unreachable_database_url))
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        yield application
    # aiosqlite stops the worker thread of a failed connect without waiting for it; let it
    # finish while this test's event loop still runs, or it reports into a closed loop.
    await asyncio.sleep(0.2)


def super_admin_token(app: FastAPI) -> str:
    """A well-signed SuperAdmin token: only the database can tell whether its user exists."""
    now = datetime.now(UTC)
    claims = {
        "iss": "voke",
        "sub": str(uuid.uuid4()),
        "role": "SUPER_ADMIN",
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    secret = app_services(app).settings.jwt_secret
    assert secret is not None
    return jwt.encode(claims, secret.get_secret_value(), algorithm="HS256")


class TestDatabaseUnavailable:
    async def test_healthz_stays_200(self, offline_app: FastAPI) -> None:
        async with http_client(offline_app) as http:
            response = await http.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"message": "ok"}

    async def test_readyz_is_503(self, offline_app: FastAPI) -> None:
        async with http_client(offline_app) as http:
            assert_envelope(await http.get("/readyz"), UNAVAILABLE)

    async def test_an_admin_endpoint_is_503(self, offline_app: FastAPI) -> None:
        async with http_client(offline_app) as http:
            response = await http.get(
                "/api/v1/voke-esm/admin/status",
                params={"orgId": str(uuid.uuid4())},
                headers={"Authorization": f"Bearer {super_admin_token(offline_app)}"},
            )
        assert_envelope(response, UNAVAILABLE)

    async def test_login_is_503(self, offline_app: FastAPI) -> None:
        async with http_client(offline_app) as http:
            response = await http.post(
                "/api/v1/auth/login", json={"email": "a@example.com", "password": "longpassword1"}
            )
        assert_envelope(response, UNAVAILABLE)


ADMIN = "/api/v1/voke-esm/admin"
TRADING = "/api/v1/voke-esm/trading"
# The seeds' endpoints and the errors each can answer (§2, §4, §6).
SEED_OPERATIONS = [
    ("post", f"{ADMIN}/enable", "200", {400, 401, 403, 404}),
    ("post", f"{ADMIN}/disable", "200", {400, 401, 403, 404}),
    ("get", f"{ADMIN}/status", "200", {400, 401, 403, 404}),
    ("get", f"{ADMIN}/plants", "200", {400, 401, 403}),
    ("post", f"{ADMIN}/plants", "201", {400, 401, 403, 409}),
    ("get", f"{ADMIN}/plants/{{id}}", "200", {400, 401, 403, 404}),
    ("patch", f"{ADMIN}/plants/{{id}}", "200", {400, 401, 403, 404}),
    ("delete", f"{ADMIN}/plants/{{id}}", "200", {400, 401, 403, 404}),
    ("post", f"{TRADING}/token", "200", {400, 401, 403, 429}),
    ("get", f"{TRADING}/plant/list", "200", {401, 403, 429}),
    ("get", f"{TRADING}/plant/config", "200", {400, 401, 403, 404, 429}),
    ("post", f"{TRADING}/plant/config/update", "200", {400, 401, 403, 404, 429}),
]


@pytest.fixture
async def openapi(bare_client: httpx.AsyncClient) -> dict[str, Any]:
    response = await bare_client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


class TestOpenApi:
    @pytest.mark.parametrize(
        ("method", "path", "success", "errors"),
        SEED_OPERATIONS,
        ids=[f"{method} {path}" for method, path, _, _ in SEED_OPERATIONS],
    )
    def test_each_seed_operation_documents_its_errors_as_envelopes(
        self, openapi: dict[str, Any], method: str, path: str, success: str, errors: set[int]
    ) -> None:
        responses = openapi["paths"][path][method]["responses"]
        assert success in responses
        assert {str(status) for status in errors} <= set(responses), sorted(responses)
        for status in errors:
            schema = responses[str(status)]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}

    def test_the_envelope_schema_has_the_five_fields(self, openapi: dict[str, Any]) -> None:
        envelope = openapi["components"]["schemas"]["ErrorEnvelope"]
        fields = {"code", "details", "error", "message", "statusCode"}
        assert set(envelope["properties"]) == fields
        assert set(envelope["required"]) == fields

    def test_no_operation_documents_a_422_the_service_never_sends(
        self, openapi: dict[str, Any]
    ) -> None:
        # §2: a body or query that fails validation is a 400 VALIDATION_ERROR, never a 422.
        documented_422 = [
            f"{method.upper()} {path}"
            for path, operations in openapi["paths"].items()
            for method, operation in operations.items()
            if "422" in operation.get("responses", {})
        ]
        assert documented_422 == []


class TestDocsPages:
    @pytest.mark.parametrize("page", ["/docs", "/redoc"])
    async def test_the_docs_load_nothing_from_another_host(
        self, bare_client: httpx.AsyncClient, page: str
    ) -> None:
        response = await bare_client.get(page)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        html = response.text
        assert re.findall(r"https?:|//[a-z0-9.-]+\.[a-z]{2,}", html, flags=re.IGNORECASE) == []
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert assets, html
        for asset in assets:
            assert asset.startswith("/"), asset
            assert (await bare_client.get(asset)).status_code == 200, asset
