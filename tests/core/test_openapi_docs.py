"""/openapi.json as a person reads it in /docs (issue 12): every operation has a summary and an
example of its body and of each answer; every example fits its own schema; each documented error
is what the service really answers (checked by making the call); clean names, no 422, and the
two ways to authorize. A route added without these fails here, by name."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from tests.conftest import http_client, make_settings
from tests.factories import (
    ADMIN_EMAIL,
    ORGS,
    Api,
    EnabledOrg,
    bearer,
    org_admin_token,
)
from voke_esm.app import create_app
from voke_esm.core.openapi import humanize
from voke_esm.sandbox import examples

ADMIN = "/api/v1/voke-esm/admin"
TRADING = "/api/v1/voke-esm/trading"
METHODS = {"get", "put", "post", "patch", "delete"}
UNKNOWN_UUID = "497f6eca-6276-4993-bfeb-53cbbbba6f08"


def _documented_app() -> FastAPI:
    folder = Path(tempfile.gettempdir())
    unused = f"sqlite+aiosqlite:///{folder / 'voke-esm-openapi-docs-unused.db'}"  # never opened
    return create_app(make_settings(folder, unused))


APP = _documented_app()
DOCUMENT: dict[str, Any] = APP.openapi()
OPERATIONS = [
    (method, path, operation)
    for path, operations in DOCUMENT["paths"].items()
    for method, operation in operations.items()
    if method in METHODS
]
# Every route of the app, those of included routers too, as FastAPI documents them.
ROUTES = [
    route
    for route in iter_route_contexts(APP.routes)
    if isinstance(route.original_route, APIRoute) and route.include_in_schema
]
OPERATION_IDS = [f"{method.upper()} {path}" for method, path, _ in OPERATIONS]


def operation(method: str, path: str) -> dict[str, Any]:
    found: dict[str, Any] = DOCUMENT["paths"][path][method]
    return found


def error_example(method: str, path: str, status: int, name: str) -> dict[str, Any]:
    content = operation(method, path)["responses"][str(status)]["content"]["application/json"]
    value: dict[str, Any] = content["examples"][name]["value"]
    return value


# Every operation ----------------------------------------------------------------------------------


class TestEveryOperation:
    @pytest.mark.parametrize("route", ROUTES, ids=[f"{r.methods} {r.path_format}" for r in ROUTES])
    def test_has_a_summary_written_for_people(self, route: RouteContext) -> None:
        # FastAPI's default is the function's name ("Get Plant Config"): say it in words, with
        # `documented("…")` (voke_esm.core.openapi).
        assert route.summary, f"{route.path_format}: no summary"
        assert route.summary != str(route.name).replace("_", " ").title()

    @pytest.mark.parametrize(("method", "path", "documented"), OPERATIONS, ids=OPERATION_IDS)
    def test_shows_an_example_of_its_parameters_body_and_each_answer(
        self, method: str, path: str, documented: dict[str, Any]
    ) -> None:
        for parameter in documented.get("parameters", []):
            shown = {"example", "examples"} & {*parameter, *parameter.get("schema", {})}
            assert shown, f"parameter {parameter['name']}"
        bodies = documented.get("requestBody", {}).get("content", {})
        for media_type, body in bodies.items():
            assert "example" in body or "examples" in body, f"request body ({media_type})"
        for status, response in documented["responses"].items():
            for media_type, content in response.get("content", {}).items():
                assert "example" in content or "examples" in content, f"{status} {media_type}"

    @pytest.mark.parametrize(("method", "path", "documented"), OPERATIONS, ids=OPERATION_IDS)
    def test_documents_a_500_and_no_422(
        self, method: str, path: str, documented: dict[str, Any]
    ) -> None:
        # CONTRACT §2: a request that fails validation is a 400 envelope, never FastAPI's 422.
        assert "422" not in documented["responses"]
        if path != "/metrics":
            assert "500" in documented["responses"]


# Every example fits its schema --------------------------------------------------------------------


def _examples_with_schemas() -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(where, schema, example) for every example in the document: of bodies, answers,
    parameters, and those the component schemas carry themselves."""
    for method, path, documented in OPERATIONS:
        where = f"{method.upper()} {path}"
        for parameter in documented.get("parameters", []):
            schema = parameter.get("schema", {})
            for index, value in enumerate(schema.get("examples", [])):
                yield f"{where} parameter {parameter['name']}[{index}]", schema, value
            for name, example in parameter.get("examples", {}).items():
                yield f"{where} parameter {parameter['name']} {name!r}", schema, example["value"]
        places = [("request", documented.get("requestBody", {}))]
        places += [(status, answer) for status, answer in documented["responses"].items()]
        for place, described in places:
            for media_type, content in described.get("content", {}).items():
                schema = content.get("schema", {})
                if "example" in content:
                    yield f"{where} {place} {media_type}", schema, content["example"]
                for name, example in content.get("examples", {}).items():
                    yield f"{where} {place} {media_type} {name!r}", schema, example["value"]
    for name, component in DOCUMENT["components"]["schemas"].items():
        yield from _schema_examples(f"component {name}", component)


def _schema_examples(
    where: str, schema: dict[str, Any]
) -> Iterator[tuple[str, dict[str, Any], Any]]:
    for index, value in enumerate(schema.get("examples", [])):
        yield f"{where}[{index}]", schema, value
    for name, prop in schema.get("properties", {}).items():
        yield from _schema_examples(f"{where}.{name}", prop)


EXAMPLES = list(_examples_with_schemas())


def test_the_document_has_examples_to_check() -> None:
    assert len(EXAMPLES) > 100


@pytest.mark.parametrize(("where", "schema", "example"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_each_example_fits_its_own_schema(where: str, schema: dict[str, Any], example: Any) -> None:
    # The components ride along, so that the schema's "#/components/schemas/…" resolve.
    rooted = {**schema, "components": DOCUMENT["components"]}
    errors = [
        error.message for error in jsonschema_rs.Draft202012Validator(rooted).iter_errors(example)
    ]
    assert errors == [], where


def test_a_wrong_example_is_caught() -> None:
    # The check above would pass on anything if the schemas did not resolve.
    schema = operation("post", f"{TRADING}/plant/config/update")["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    rooted = {**schema, "components": DOCUMENT["components"]}
    assert not jsonschema_rs.Draft202012Validator(rooted).is_valid({"plantId": 1})


# Names, titles, authorization, the introduction ---------------------------------------------------


def _run_together(word: str) -> bool:
    """`clientId`, `client_id`, `Clientid`: not what a person writes (units such as kWh are)."""
    return word not in {"kWh", "kWp", "SoC", "ETag"} and bool(
        re.search(r"[a-z][A-Z]|_|^(?!Grid$)[A-Z][a-z]+id$", word)
    )


class TestTheDocument:
    def test_no_component_name_carries_a_module_path(self) -> None:
        names = list(DOCUMENT["components"]["schemas"])
        assert [name for name in names if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", name)] == []

    def test_fastapis_422_schemas_are_gone(self) -> None:
        assert "HTTPValidationError" not in DOCUMENT["components"]["schemas"]
        assert "ValidationError" not in DOCUMENT["components"]["schemas"]

    def test_field_titles_read_as_words(self) -> None:
        plant = DOCUMENT["components"]["schemas"]["SandboxPlantRead"]["properties"]
        assert plant["fvePeakPowerKwp"]["title"] == "PV peak power kWp"
        assert plant["clientId"]["title"] == "Client ID"
        block = DOCUMENT["components"]["schemas"]["TimeConfigBlock"]["properties"]
        assert block["socMin"]["title"] == "SoC min"
        run_together = [
            f"{component}.{name}: {prop['title']}"
            for component, schema in DOCUMENT["components"]["schemas"].items()
            for name, prop in schema.get("properties", {}).items()
            if "title" in prop and any(_run_together(word) for word in prop["title"].split())
        ]
        assert run_together == []

    def test_humanize(self) -> None:
        assert humanize("configUpdateReqCode") == "Config update request code"
        assert humanize("esmApiUrl") == humanize("esm_api_url") == "ESM API URL"

    def test_the_token_endpoint_is_an_oauth2_client_credentials_flow(self) -> None:
        schemes = DOCUMENT["components"]["securitySchemes"]
        assert schemes["TradingClient"]["type"] == "oauth2"
        assert schemes["TradingClient"]["flows"] == {
            "clientCredentials": {"scopes": {}, "tokenUrl": f"{TRADING}/token"}
        }
        assert schemes["VokeToken"] == {**schemes["VokeToken"], "type": "http", "scheme": "bearer"}
        for endpoint, method in [
            ("plant/list", "get"),
            ("plant/config", "get"),
            ("plant/config/update", "post"),
        ]:
            security = operation(method, f"{TRADING}/{endpoint}")["security"]
            # Either will do: the flow, or a token pasted.
            assert {"TradingClient": []} in security
            assert {"TradingToken": []} in security

    def test_admin_operations_take_the_super_admins_token(self) -> None:
        admin = [(m, p, o) for m, p, o in OPERATIONS if p.startswith((ADMIN, ORGS))]
        assert admin
        for method, path, documented in admin:
            assert documented["security"] == [{"VokeToken": []}], f"{method} {path}"

    def test_the_introduction_says_how_to_start(self) -> None:
        description = DOCUMENT["info"]["description"]
        assert "](/platform/voke-esm)" in description
        assert "The flow with curl" in description
        assert "Authorize" in description


# Each error example is what the service answers ---------------------------------------------------


def assert_same_answer(documented: dict[str, Any], response: httpx.Response) -> None:
    """The documented envelope is the real one: code, status, reason and message the same, and
    details the same where they are not the moment's (a tag, seconds to wait): then the same
    keys, of the same types."""
    real = response.json()
    assert response.status_code == documented["statusCode"], real
    same = ("code", "error", "message", "statusCode")
    assert {key: real[key] for key in same} == {key: documented[key] for key in same}
    assert set(real) == set(documented)
    if documented["code"] in {"PRECONDITION_FAILED", "RATE_LIMITED"}:
        assert {key: type(value) for key, value in real["details"].items()} == {
            key: type(value) for key, value in documented["details"].items()
        }
    else:
        assert real["details"] == documented["details"]


Call = Callable[[Api, EnabledOrg, str], Awaitable[httpx.Response]]


async def _trading_config_of_unknown_plant(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    return await api.plant_config(token, examples.UNKNOWN_PLANT_ID)


async def _admin_plant_unknown(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    return await api.http.get(f"{ADMIN}/plants/{UNKNOWN_UUID}", headers=api.headers)


async def _admin_plant_not_a_uuid(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    return await api.http.get(f"{ADMIN}/plants/not-a-uuid", headers=api.headers)


async def _org_unknown(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    return await api.http.get(f"{ORGS}/{UNKNOWN_UUID}", headers=api.headers)


async def _status_of_unknown_org(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    params = {"orgId": UNKNOWN_UUID}
    return await api.http.get(f"{ADMIN}/status", params=params, headers=api.headers)


async def _status_without_org(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    return await api.http.get(f"{ADMIN}/status", headers=api.headers)


async def _duplicate_sandbox_plant(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    body = {"clientId": org.client_id, "externalPlantId": org.default_plant_id, "name": "Twin"}
    return await api.post_sandbox_plant(body)


async def _sandbox_plant_with_broken_blocks(
    api: Api, org: EnabledOrg, token: str
) -> httpx.Response:
    body = {
        "clientId": org.client_id,
        "externalPlantId": "PLANT-BROKEN",
        "name": "Broken",
        "timeConfigs": [examples.ONE_BLOCK_WRONG],
    }
    return await api.post_sandbox_plant(body)


async def _sandbox_plant_of_unbound_client(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    body = {"clientId": "vesm-unbound", "externalPlantId": "PLANT-X", "name": "Nobody's"}
    return await api.post_sandbox_plant(body)


async def _duplicate_org(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    return await api.http.post(ORGS, json={"name": org.org["name"].upper()}, headers=api.headers)


async def _org_without_name(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    return await api.http.post(ORGS, json={"name": ""}, headers=api.headers)


async def _stale_if_match(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    (plant,) = await api.sandbox_plants(clientId=org.client_id)
    read = await api.http.get(f"{ADMIN}/plants/{plant['id']}", headers=api.headers)
    url, tag = f"{ADMIN}/plants/{plant['id']}", read.headers["ETag"]
    changed = await api.http.patch(url, json={"name": "First"}, headers=api.headers)
    assert changed.status_code == 200, changed.text
    response = await api.http.patch(
        url, json={"name": "Second"}, headers={**api.headers, "If-Match": tag}
    )
    assert response.headers["ETag"] == changed.headers["ETag"]
    return response


async def _update_without_plant_id(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    body = {"configUpdateReqCode": "req-1", "timeConfigs": []}
    return await api.http.post(f"{TRADING}/plant/config/update", json=body, headers=bearer(token))


async def _config_without_token(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    response = await api.http.get(f"{TRADING}/plant/config", params={"plantId": "PLANT-1"})
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    return response


async def _wrong_secret(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    body = {"clientId": org.client_id, "clientSecret": "wrong"}
    return await api.http.post(f"{TRADING}/token", json=body)


async def _token_without_secret(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    return await api.http.post(f"{TRADING}/token", json={"clientId": org.client_id})


async def _unsupported_grant(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    form = {"grant_type": "password", "client_id": org.client_id, "client_secret": "x"}
    return await api.http.post(f"{TRADING}/token", data=form)


async def _clock_of_never_enabled_org(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    fresh = await api.create_org()
    params = {"orgId": fresh["id"]}
    return await api.http.get(f"{ADMIN}/clock", params=params, headers=api.headers)


async def _advance_backwards(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    url, params = f"{ADMIN}/clock/advance", {"orgId": org.id}
    return await api.http.post(url, params=params, json={"minutes": -1}, headers=api.headers)


async def _wrong_login(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    body = {"email": ADMIN_EMAIL, "password": "not the password"}
    return await api.http.post("/api/v1/auth/login", json=body)


async def _duplicate_email(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    body = {"email": ADMIN_EMAIL, "password": "a long enough password", "role": "SUPER_ADMIN"}
    return await api.http.post("/api/v1/users", json=body, headers=api.headers)


async def _voke_plant_unknown(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    return await api.http.get(f"{ORGS}/{org.id}/plants/{UNKNOWN_UUID}", headers=api.headers)


async def _push_broken_schedule(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    plant = await api.create_voke_plant(org.id, externalPlantId=org.default_plant_id)
    blocks = [{**examples.ONE_BLOCK_WRONG, "socMin": 20}]
    url = f"{ORGS}/{org.id}/plants/{plant['id']}/time-configs"
    return await api.http.put(url, json={"timeConfigs": blocks}, headers=api.headers)


async def _sync_without_credentials(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    fresh = await api.create_org()
    return await api.http.post(f"{ORGS}/{fresh['id']}/trading/sync", headers=api.headers)


async def _delete_the_last_super_admin(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    me = (await api.http.get("/api/v1/auth/me", headers=api.headers)).json()
    return await api.http.delete(f"/api/v1/users/{me['id']}", headers=api.headers)


async def _delete_unknown_user(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    return await api.http.delete(f"/api/v1/users/{UNKNOWN_UUID}", headers=api.headers)


async def _short_password(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    body = {"email": "new@example.com", "password": "short", "role": "SUPER_ADMIN"}
    return await api.http.post("/api/v1/users", json=body, headers=api.headers)


async def _login_without_password(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    return await api.http.post("/api/v1/auth/login", json={"email": ADMIN_EMAIL})


async def _faults_of_never_enabled_org(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    fresh = await api.create_org()
    params = {"orgId": fresh["id"]}
    return await api.http.put(f"{ADMIN}/faults", params=params, json={}, headers=api.headers)


async def _duplicate_voke_plant(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    await api.create_voke_plant(org.id, externalPlantId="PLANT-TWIN")
    body = {"name": "Twin", "externalPlantId": "PLANT-TWIN"}
    return await api.http.post(f"{ORGS}/{org.id}/plants", json=body, headers=api.headers)


async def _push_for_unlinked_plant(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    plant = await api.create_voke_plant(org.id)
    url = f"{ORGS}/{org.id}/plants/{plant['id']}/time-configs"
    return await api.http.put(url, json={"timeConfigs": []}, headers=api.headers)


async def _list_a_page_of_none(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    return await api.http.get(f"{ADMIN}/plants", params={"limit": 0}, headers=api.headers)


async def _patch_broken_blocks(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    (plant,) = await api.sandbox_plants(clientId=org.client_id)
    body = {"timeConfigs": [examples.ONE_BLOCK_WRONG]}
    return await api.http.patch(f"{ADMIN}/plants/{plant['id']}", json=body, headers=api.headers)


async def _as_org_admin(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    return await api.http.get("/api/v1/users", headers=bearer(await org_admin_token(api)))


async def _body_over_a_mebibyte(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    body = {"name": "x" * (1024 * 1024)}
    return await api.http.post(ORGS, json=body, headers=api.headers)


async def _timeseries_backwards(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    (plant,) = await api.sandbox_plants(clientId=org.client_id)
    params = {"from": "2026-06-21T12:00:00Z", "to": "2026-06-21T11:00:00Z"}
    url = f"{ADMIN}/plants/{plant['id']}/timeseries"
    return await api.http.get(url, params=params, headers=api.headers)


async def _condition_backwards(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
    (plant,) = await api.sandbox_plants(clientId=org.client_id)
    condition = {"kind": "gridOutage", "from": "2026-06-21T12:00:00Z", "to": "2026-06-21T11:00:00Z"}
    url = f"{ADMIN}/plants/{plant['id']}/conditions"
    return await api.http.put(url, json={"conditions": [condition]}, headers=api.headers)


def _injected_fault_on(endpoint: str) -> Call:
    """A call of `endpoint` that rule 0, an `error` rule at 503, answers."""

    async def call(api: Api, org: EnabledOrg, token: str) -> httpx.Response:
        rules = {"rules": [{"endpoint": endpoint, "kind": "error", "status": 503}]}
        put = await api.http.put(
            f"{ADMIN}/faults", params={"orgId": org.id}, json=rules, headers=api.headers
        )
        assert put.status_code == 200, put.text
        if endpoint == "token":
            return await _wrong_secret(api, org, token)
        if endpoint == "plant/list":
            return await api.http.get(f"{TRADING}/plant/list", headers=bearer(token))
        if endpoint == "plant/config":
            return await api.plant_config(token, org.default_plant_id)
        return await api.update_config(token, org.default_plant_id, [])

    return call


# (operation, status, example name): the call that answers it.
REAL_ANSWERS: list[tuple[str, str, int, str, Call]] = [
    ("get", f"{TRADING}/plant/config", 404, "NOT_FOUND", _trading_config_of_unknown_plant),
    ("get", f"{TRADING}/plant/config", 401, "UNAUTHORIZED", _config_without_token),
    ("get", f"{TRADING}/plant/list", 503, "INJECTED_FAULT", _injected_fault_on("plant/list")),
    ("post", f"{TRADING}/plant/config/update", 400, "VALIDATION_ERROR", _update_without_plant_id),
    ("post", f"{TRADING}/token", 401, "INVALID_CLIENT", _wrong_secret),
    ("post", f"{TRADING}/token", 400, "VALIDATION_ERROR", _token_without_secret),
    (
        "post",
        f"{TRADING}/token",
        400,
        "VALIDATION_ERROR: Validation error (form: unsupported_grant_type)",
        _unsupported_grant,
    ),
    ("get", f"{ADMIN}/plants/{{id}}", 404, "NOT_FOUND", _admin_plant_unknown),
    ("get", f"{ADMIN}/plants/{{id}}", 400, "INVALID_UUID", _admin_plant_not_a_uuid),
    ("get", f"{ADMIN}/status", 404, "NOT_FOUND", _status_of_unknown_org),
    ("get", f"{ADMIN}/status", 400, "VALIDATION_ERROR", _status_without_org),
    ("post", f"{ADMIN}/plants", 409, "CONFLICT", _duplicate_sandbox_plant),
    ("post", f"{ADMIN}/plants", 400, "VALIDATION_ERROR", _sandbox_plant_with_broken_blocks),
    (
        "post",
        f"{ADMIN}/plants",
        400,
        "VALIDATION_ERROR: Validation error or unbound clientId",
        _sandbox_plant_of_unbound_client,
    ),
    ("patch", f"{ADMIN}/plants/{{id}}", 412, "PRECONDITION_FAILED", _stale_if_match),
    ("get", f"{ADMIN}/clock", 409, "CONFLICT", _clock_of_never_enabled_org),
    ("post", f"{ADMIN}/clock/advance", 400, "VALIDATION_ERROR", _advance_backwards),
    ("get", f"{ORGS}/{{orgId}}", 404, "NOT_FOUND", _org_unknown),
    ("post", ORGS, 409, "CONFLICT", _duplicate_org),
    ("post", ORGS, 400, "VALIDATION_ERROR", _org_without_name),
    ("get", f"{ORGS}/{{orgId}}/plants/{{plantId}}", 404, "NOT_FOUND", _voke_plant_unknown),
    (
        "put",
        f"{ORGS}/{{orgId}}/plants/{{plantId}}/time-configs",
        400,
        "VALIDATION_ERROR",
        _push_broken_schedule,
    ),
    ("post", "/api/v1/auth/login", 401, "UNAUTHORIZED", _wrong_login),
    ("post", "/api/v1/users", 409, "CONFLICT", _duplicate_email),
    ("post", "/api/v1/users", 400, "VALIDATION_ERROR", _short_password),
    ("get", "/api/v1/users", 403, "FORBIDDEN", _as_org_admin),
    ("delete", "/api/v1/users/{userId}", 409, "CONFLICT", _delete_the_last_super_admin),
    ("delete", "/api/v1/users/{userId}", 404, "NOT_FOUND", _delete_unknown_user),
    ("post", "/api/v1/auth/login", 400, "VALIDATION_ERROR", _login_without_password),
    ("post", f"{ORGS}/{{orgId}}/trading/sync", 409, "CONFLICT", _sync_without_credentials),
    ("post", f"{ORGS}/{{orgId}}/plants", 409, "CONFLICT", _duplicate_voke_plant),
    ("post", ORGS, 413, "PAYLOAD_TOO_LARGE", _body_over_a_mebibyte),
    (
        "put",
        f"{ORGS}/{{orgId}}/plants/{{plantId}}/time-configs",
        400,
        "VALIDATION_ERROR: The plant has no externalPlantId",
        _push_for_unlinked_plant,
    ),
    ("put", f"{ADMIN}/faults", 409, "CONFLICT", _faults_of_never_enabled_org),
    ("get", f"{ADMIN}/plants", 400, "VALIDATION_ERROR", _list_a_page_of_none),
    ("patch", f"{ADMIN}/plants/{{id}}", 400, "VALIDATION_ERROR", _patch_broken_blocks),
    ("get", f"{ADMIN}/plants/{{id}}/timeseries", 400, "VALIDATION_ERROR", _timeseries_backwards),
    ("put", f"{ADMIN}/plants/{{id}}/conditions", 400, "VALIDATION_ERROR", _condition_backwards),
    ("post", f"{TRADING}/token", 503, "INJECTED_FAULT", _injected_fault_on("token")),
    ("get", f"{TRADING}/plant/config", 503, "INJECTED_FAULT", _injected_fault_on("plant/config")),
    (
        "post",
        f"{TRADING}/plant/config/update",
        503,
        "INJECTED_FAULT",
        _injected_fault_on("plant/config/update"),
    ),
]
# Answers checked by a test of their own below: a remote peer's, and a 429 (its seconds vary).
CHECKED_APART: list[tuple[str, str, int, str]] = [
    ("get", f"{TRADING}/plant/list", 403, "LOOPBACK_ONLY"),
    ("post", f"{TRADING}/token", 429, "RATE_LIMITED"),
]
# What no test here can make the service answer: an unexpected failure, a database that is gone
# (tests/core/test_errors.py's offline app), a partner ESM that fails, two syncs at once.
NOT_REPRODUCED = {
    ("INTERNAL_SERVER_ERROR", "Internal server error"),
    ("SERVICE_UNAVAILABLE", "Database unavailable"),
    ("ESM_UNAVAILABLE", "The partner ESM call failed"),
    ("CONFLICT", "A trading sync of this organization is already running"),
}


def _answer_key(envelope: dict[str, Any]) -> tuple[str, str, str]:
    return envelope["code"], envelope["message"], repr(envelope["details"])


def test_every_documented_error_is_one_a_test_makes_the_service_answer() -> None:
    # A new error example needs its real call in REAL_ANSWERS (or a word in NOT_REPRODUCED).
    # OAuth2 form twins are left out: they are the JSON answer in RFC 6749's names
    # (tests/sandbox/trading/test_trading.py checks them).
    called = [(method, path, status, name) for method, path, status, name, _ in REAL_ANSWERS]
    covered = {_answer_key(error_example(*answer)) for answer in [*called, *CHECKED_APART]}
    unchecked = sorted(
        {
            f"{method.upper()} {path} {status} {name}"
            for method, path, documented in OPERATIONS
            for status, answer in documented["responses"].items()
            if status[0] in "45"
            for name, example in answer["content"]["application/json"]["examples"].items()
            if "(form: " not in name
            and (example["value"]["code"], example["value"]["message"]) not in NOT_REPRODUCED
            and _answer_key(example["value"]) not in covered
        }
    )
    assert unchecked == []


class TestEachErrorExampleIsARealAnswer:
    async def test_the_service_answers_what_the_docs_show(self, api: Api) -> None:
        # One app for all of them (each call on an org of its own), to keep the suite fast.
        wrong: list[str] = []
        for method, path, status, name, call in REAL_ANSWERS:
            org = await api.enabled_org()
            token = await api.trading_token(org.client_id, org.client_secret)
            response = await call(api, org, token)
            documented = operation(method, path)["responses"][str(status)]
            try:
                assert_same_answer(error_example(method, path, status, name), response)
                for header in documented.get("headers", {}):
                    assert header in response.headers, f"no {header} header"
            except AssertionError as failure:
                wrong.append(f"{method.upper()} {path} {status} {name}: {failure}")
        assert wrong == []

    async def test_a_remote_peer_gets_the_documented_403(
        self, app: FastAPI, enabled: EnabledOrg, trading_token: str
    ) -> None:
        documented = error_example("get", f"{TRADING}/plant/list", 403, "LOOPBACK_ONLY")
        async with http_client(app, peer="10.0.0.5") as remote:
            response = await remote.get(f"{TRADING}/plant/list", headers=bearer(trading_token))

        assert_same_answer(documented, response)


class TestTheRateLimitExample:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"voke_esm_rate_limit": "1/minute"}

    async def test_a_429_is_as_documented_with_retry_after(
        self, api: Api, enabled: EnabledOrg
    ) -> None:
        documented = operation("post", f"{TRADING}/token")["responses"]["429"]
        await api.trading_token(enabled.client_id, enabled.client_secret)

        response = await _wrong_secret(api, enabled, "")

        assert_same_answer(
            {
                **documented["content"]["application/json"]["examples"]["RATE_LIMITED"]["value"],
                "message": response.json()["message"],
            },
            response,
        )
        assert re.fullmatch(r"Rate limit exceeded; retry in \d+ s", response.json()["message"])
        assert response.headers["Retry-After"] == str(response.json()["details"]["retryAfter"])
        assert "Retry-After" in documented["headers"]


class TestConfigUpdateExamples:
    """config/update's request examples, sent for real, answer as its answer examples say."""

    async def test_apply_dry_run_rejected_and_replay(
        self, api: Api, enabled: EnabledOrg, trading_token: str
    ) -> None:
        documented = operation("post", f"{TRADING}/plant/config/update")
        requests = documented["requestBody"]["content"]["application/json"]["examples"]
        answers = documented["responses"]["200"]["content"]["application/json"]["examples"]
        plant = enabled.default_plant_id
        url, headers = f"{TRADING}/plant/config/update", bearer(trading_token)

        async def send(name: str) -> dict[str, Any]:
            body = {**requests[name]["value"], "plantId": plant}
            response = await api.http.post(url, json=body, headers=headers)
            assert response.status_code == 200, response.text
            answer: dict[str, Any] = response.json()
            return answer

        def expected(name: str, version: int) -> dict[str, Any]:
            return {**answers[name]["value"], "plantId": plant, "version": version}

        assert await send("apply") == expected("applied_ok", 2)
        assert await send("dry run") == expected("cfg_accepted", 2)
        assert await send("rejected") == expected("cfg_rejected", 2)
        assert await send("apply") == expected("replay", 2)


class TestDocsPage:
    async def test_docs_keep_their_csp_and_load_nothing_from_elsewhere(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/docs")
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        assert "cdn" not in response.text.lower()
        assert re.findall(r"https?://", response.text) == []
