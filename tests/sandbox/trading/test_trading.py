"""The trading endpoints Voke's ESM client calls (CONTRACT §6): token, plant list and config,
config updates, the loopback guard and the rate limit."""

from __future__ import annotations

import asyncio
import base64
import itertools
import logging
import time
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from authlib.deprecate import AuthlibDeprecationWarning
from fastapi import FastAPI

from tests.conftest import http_client
from tests.factories import (
    SEED_BLOCKS,
    WHOLE_DAY,
    Api,
    EnabledOrg,
    bearer,
    error_body,
    validation_error,
)
from voke_esm.core.config import Settings

with warnings.catch_warnings():
    # authlib warns that it runs on httpx rather than its successor httpx2; httpx is what the
    # service and these tests use, and authlib supports it.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

TRADING = "/api/v1/voke-esm/trading"
BEARER_ENDPOINTS = ["plant/list", "plant/config", "plant/config/update"]
ENDPOINTS = ["token", *BEARER_ENDPOINTS]

LOOPBACK_PEERS = ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"]
REMOTE_PEERS = ["10.0.0.5", "192.168.1.2", "::ffff:10.0.0.1", "2001:db8::1"]

INVALID_CLIENT = error_body(401, "INVALID_CLIENT", "Invalid client credentials")
INVALID_TOKEN = error_body(401, "UNAUTHORIZED", "Invalid or expired token")
NO_TOKEN = error_body(401, "UNAUTHORIZED", "Authentication required")
LOOPBACK_ONLY = error_body(403, "LOOPBACK_ONLY", "Trading endpoints accept loopback peers only")
PLANT_NOT_FOUND = error_body(404, "NOT_FOUND", "Voke ESM plant not found")
# CONTRACT §6: the challenges of a refused client authentication and of a trading 401.
BASIC_CHALLENGE = 'Basic realm="voke-esm"'
BEARER_CHALLENGE = 'Bearer error="invalid_token"'

OMIT = object()  # a body field to leave out
_codes = itertools.count(1)


def rate_limited(response: httpx.Response) -> dict[str, Any]:
    """The 429 envelope for the Retry-After the response carries, which must be whole seconds."""
    retry_after = response.headers["Retry-After"]
    assert retry_after.isdigit(), retry_after
    seconds = int(retry_after)
    return error_body(
        429, "RATE_LIMITED", f"Rate limit exceeded; retry in {seconds} s", {"retryAfter": seconds}
    )


def oauth2_error(envelope: dict[str, Any], error: str) -> dict[str, Any]:
    """A §2 envelope as a form token request gets it (CONTRACT §6): RFC 6749 §5.2's `error` and
    `error_description` (the message) in place of §2's `error`, all else as it was."""
    return {**envelope, "error": error, "error_description": envelope["message"]}


FORM_INVALID_CLIENT = oauth2_error(INVALID_CLIENT, "invalid_client")


def basic(client_id: str, client_secret: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def block(start: str, end: str, **fields: Any) -> dict[str, Any]:
    return {**WHOLE_DAY[0], "from": start, "to": end, **fields}


def consecutive_blocks(count: int, minutes: int) -> list[dict[str, Any]]:
    """`count` valid blocks of `minutes` each, back to back from 00:00."""

    def hh_mm(minute: int) -> str:
        return f"{minute // 60:02d}:{minute % 60:02d}"

    return [block(hh_mm(i * minutes), hh_mm((i + 1) * minutes)) for i in range(count)]


def update_body(plant_id: str, **fields: Any) -> dict[str, Any]:
    body = {
        "plantId": plant_id,
        "configUpdateReqCode": f"req-call-{next(_codes)}",
        "validateOnly": False,
        "timeConfigs": WHOLE_DAY,
        **fields,
    }
    return {key: value for key, value in body.items() if value is not OMIT}


async def call(
    http: httpx.AsyncClient, endpoint: str, org: EnabledOrg, token: str, **kwargs: Any
) -> httpx.Response:
    """One well-formed call of a trading endpoint."""
    if endpoint == "token":
        credentials = {"clientId": org.client_id, "clientSecret": org.client_secret}
        return await http.post(f"{TRADING}/token", json=credentials, **kwargs)
    headers = {**bearer(token), **kwargs.pop("headers", {})}
    if endpoint == "plant/list":
        return await http.get(f"{TRADING}/plant/list", headers=headers, **kwargs)
    if endpoint == "plant/config":
        params = {"plantId": org.default_plant_id}
        return await http.get(f"{TRADING}/plant/config", params=params, headers=headers, **kwargs)
    # A validate-only update: well-formed, and it leaves the plant as it was.
    body = update_body(org.default_plant_id, validateOnly=True)
    return await http.post(f"{TRADING}/plant/config/update", json=body, headers=headers, **kwargs)


def jwt_secret(settings: Settings) -> str:
    """JWT_SECRET itself: both kinds of token are HS256 under it (CONTRACT §1)."""
    assert settings.jwt_secret is not None
    return settings.jwt_secret.get_secret_value()


def forge(
    settings: Settings, *, key: str | None = None, algorithm: str = "HS256", **claims: Any
) -> str:
    now = datetime.now(UTC)
    payload = {"iss": "voke-esm", "iat": now, "exp": now + timedelta(minutes=5), **claims}
    # PyJWT signs alg "none" with no key; its typed signature spells that "" (taken as None).
    secret = "" if algorithm == "none" else key or jwt_secret(settings)
    return jwt.encode(payload, secret, algorithm=algorithm)


@pytest.fixture
async def org(api: Api) -> EnabledOrg:
    return await api.enabled_org()


@pytest.fixture
async def token(api: Api, org: EnabledOrg) -> str:
    return await api.trading_token(org.client_id, org.client_secret)


async def config_of(api: Api, token: str, plant_id: str) -> dict[str, Any]:
    response = await api.plant_config(token, plant_id)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def admin_plant(api: Api, client_id: str, external_plant_id: str) -> dict[str, Any]:
    plants = await api.sandbox_plants(clientId=client_id)
    return next(plant for plant in plants if plant["externalPlantId"] == external_plant_id)


# Token -------------------------------------------------------------------------------------------


class TestToken:
    async def test_json_exchange_issues_a_bearer_jwt_for_the_client(
        self, api: Api, org: EnabledOrg, settings: Settings
    ) -> None:
        response = await api.http.post(
            f"{TRADING}/token", json={"clientId": org.client_id, "clientSecret": org.client_secret}
        )

        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"accessToken", "tokenType", "expiresIn"}
        assert body["tokenType"] == "Bearer"
        assert body["expiresIn"] == 3600
        claims = jwt.decode(
            body["accessToken"], jwt_secret(settings), algorithms=["HS256"], issuer="voke-esm"
        )
        assert claims["sub"] == org.client_id
        assert abs(claims["exp"] - (time.time() + 3600)) < 60

    async def test_oauth2_form_with_basic_credentials_answers_in_oauth2_names(
        self, api: Api, org: EnabledOrg, settings: Settings
    ) -> None:
        response = await api.http.post(
            f"{TRADING}/token",
            data={"grant_type": "client_credentials"},
            auth=(org.client_id, org.client_secret),
        )

        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"access_token", "token_type", "expires_in"}
        assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
        claims = jwt.decode(
            body["access_token"], jwt_secret(settings), algorithms=["HS256"], issuer="voke-esm"
        )
        assert claims["sub"] == org.client_id

    async def test_oauth2_form_with_credentials_in_the_form_gives_a_working_token(
        self, api: Api, org: EnabledOrg
    ) -> None:
        response = await api.http.post(
            f"{TRADING}/token",
            data={
                "grant_type": "client_credentials",
                "client_id": org.client_id,
                "client_secret": org.client_secret,
            },
        )

        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"access_token", "token_type", "expires_in"}
        listed = await api.http.get(f"{TRADING}/plant/list", headers=bearer(body["access_token"]))
        assert listed.status_code == 200

    async def test_oauth2_form_with_another_grant_type_is_400(
        self, api: Api, org: EnabledOrg
    ) -> None:
        response = await api.http.post(
            f"{TRADING}/token", data={"grant_type": "password"}, auth=(org.client_id, "x")
        )

        assert response.status_code == 400
        assert response.json() == oauth2_error(
            validation_error(("grant_type", "Input should be 'client_credentials'")),
            "unsupported_grant_type",
        )

    async def test_unknown_client_and_wrong_secret_get_one_identical_answer(
        self, api: Api, org: EnabledOrg
    ) -> None:
        attempts = [
            {"clientId": "vesm-000000000000000000000000", "clientSecret": org.client_secret},
            {"clientId": org.client_id, "clientSecret": org.client_secret + "x"},
        ]
        for credentials in attempts:
            response = await api.http.post(f"{TRADING}/token", json=credentials)
            assert (response.status_code, response.json()) == (401, INVALID_CLIENT)

        form = await api.http.post(
            f"{TRADING}/token",
            data={"grant_type": "client_credentials"},
            auth=(org.client_id, "wrong"),
        )
        assert (form.status_code, form.json()) == (401, FORM_INVALID_CLIENT)

    async def test_json_of_the_wrong_shape_is_400(self, api: Api) -> None:
        cases: list[tuple[dict[str, Any], list[tuple[str, str]]]] = [
            ({}, [("clientId", "Field required"), ("clientSecret", "Field required")]),
            ({"clientId": "vesm-x"}, [("clientSecret", "Field required")]),
            (
                {"clientId": 5, "clientSecret": "s"},
                [("clientId", "Input should be a valid string")],
            ),
        ]
        for payload, errors in cases:
            response = await api.http.post(f"{TRADING}/token", json=payload)
            assert (response.status_code, response.json()) == (400, validation_error(*errors))

    async def test_malformed_json_is_400(self, api: Api) -> None:
        response = await api.http.post(
            f"{TRADING}/token",
            content=b'{"clientId": ',
            headers={"content-type": "application/json"},
        )

        assert response.status_code == 400
        assert response.json() == validation_error(("body", "Request body is not valid JSON"))

    async def test_oauth2_form_without_credentials_is_400(self, api: Api) -> None:
        response = await api.http.post(
            f"{TRADING}/token", data={"grant_type": "client_credentials"}
        )

        assert response.status_code == 400
        assert response.json() == oauth2_error(
            validation_error(("client_id", "Field required"), ("client_secret", "Field required")),
            "invalid_request",
        )


class TestTokenFormErrors:
    """A refused OAuth2 form request answers RFC 6749 §5.2's `error` and `error_description`
    beside §2's fields; a refused client authentication challenges with Basic (CONTRACT §6)."""

    async def test_wrong_secret_by_basic_is_invalid_client_with_a_basic_challenge(
        self, api: Api, org: EnabledOrg
    ) -> None:
        response = await api.http.post(
            f"{TRADING}/token",
            data={"grant_type": "client_credentials"},
            headers=basic(org.client_id, org.client_secret + "x"),
        )

        assert (response.status_code, response.json()) == (401, FORM_INVALID_CLIENT)
        assert response.headers["WWW-Authenticate"] == BASIC_CHALLENGE

    async def test_wrong_secret_in_the_form_is_invalid_client(
        self, api: Api, org: EnabledOrg
    ) -> None:
        response = await api.http.post(
            f"{TRADING}/token",
            data={
                "grant_type": "client_credentials",
                "client_id": org.client_id,
                "client_secret": org.client_secret + "x",
            },
        )

        assert (response.status_code, response.json()) == (401, FORM_INVALID_CLIENT)
        assert response.headers["WWW-Authenticate"] == BASIC_CHALLENGE

    async def test_unknown_client_is_invalid_client_by_basic_and_by_form(
        self, api: Api, org: EnabledOrg
    ) -> None:
        unknown = "vesm-000000000000000000000000"
        by_basic = await api.http.post(
            f"{TRADING}/token",
            data={"grant_type": "client_credentials"},
            headers=basic(unknown, org.client_secret),
        )
        by_form = await api.http.post(
            f"{TRADING}/token",
            data={
                "grant_type": "client_credentials",
                "client_id": unknown,
                "client_secret": org.client_secret,
            },
        )

        for response in (by_basic, by_form):
            assert (response.status_code, response.json()) == (401, FORM_INVALID_CLIENT)
            assert response.headers["WWW-Authenticate"] == BASIC_CHALLENGE

    async def test_malformed_basic_header_is_invalid_client(self, api: Api) -> None:
        malformed = {
            "not base64": "Basic !!!not-base64!!!",
            "no colon": "Basic " + base64.b64encode(b"vesm-no-colon").decode(),
            "not UTF-8": "Basic " + base64.b64encode(b"\xff\xfe:secret").decode(),
            "empty": "Basic",
        }
        for variant, header in malformed.items():
            response = await api.http.post(
                f"{TRADING}/token",
                data={"grant_type": "client_credentials"},
                headers={"Authorization": header},
            )
            answer = (response.status_code, response.json())
            assert answer == (401, FORM_INVALID_CLIENT), variant
            assert response.headers["WWW-Authenticate"] == BASIC_CHALLENGE, variant

    async def test_another_grant_type_is_unsupported_grant_type(
        self, api: Api, org: EnabledOrg
    ) -> None:
        for grant_type in ("password", "authorization_code", "refresh_token"):
            response = await api.http.post(
                f"{TRADING}/token",
                data={"grant_type": grant_type},
                headers=basic(org.client_id, org.client_secret),
            )

            assert (response.status_code, response.json()) == (
                400,
                oauth2_error(
                    validation_error(("grant_type", "Input should be 'client_credentials'")),
                    "unsupported_grant_type",
                ),
            ), grant_type
            assert "WWW-Authenticate" not in response.headers

    async def test_no_grant_type_is_invalid_request(self, api: Api, org: EnabledOrg) -> None:
        # RFC 6749 §5.2: a missing parameter is invalid_request, and §3.1: a parameter sent
        # without a value is as good as missing.
        missing = await api.http.post(
            f"{TRADING}/token",
            data={"client_id": org.client_id, "client_secret": org.client_secret},
        )
        empty = await api.http.post(
            f"{TRADING}/token",
            data={"grant_type": ""},
            headers=basic(org.client_id, org.client_secret),
        )

        assert (missing.status_code, missing.json()) == (
            400,
            oauth2_error(validation_error(("grant_type", "Field required")), "invalid_request"),
        )
        assert (empty.status_code, empty.json()) == (
            400,
            oauth2_error(
                validation_error(("grant_type", "Input should be 'client_credentials'")),
                "invalid_request",
            ),
        )

    async def test_a_remote_peer_gets_the_form_shape_too(self, app: FastAPI) -> None:
        async with http_client(app, peer="10.0.0.5") as remote:
            response = await remote.post(
                f"{TRADING}/token", data={"grant_type": "client_credentials"}
            )

        assert (response.status_code, response.json()) == (
            403,
            oauth2_error(LOOPBACK_ONLY, "invalid_request"),
        )

    async def test_a_body_over_the_limit_gets_the_form_shape_too(self, api: Api) -> None:
        too_large = error_body(413, "PAYLOAD_TOO_LARGE", "Request body exceeds 1 MiB")
        body = b"grant_type=client_credentials&pad=" + b"x" * (1024 * 1024)
        form = {"content-type": "application/x-www-form-urlencoded"}

        declared = await api.http.post(f"{TRADING}/token", content=body, headers=form)

        async def chunks() -> Any:  # no Content-Length: the limit counts what streams in
            yield body[:1000]
            yield body[1000:]

        streamed = await api.http.post(f"{TRADING}/token", content=chunks(), headers=form)

        for response in (declared, streamed):
            assert (response.status_code, response.json()) == (
                413,
                oauth2_error(too_large, "invalid_request"),
            )

    async def test_the_json_request_keeps_the_section_2_envelope(
        self, api: Api, org: EnabledOrg
    ) -> None:
        wrong = await api.http.post(
            f"{TRADING}/token",
            json={"clientId": org.client_id, "clientSecret": org.client_secret + "x"},
        )
        unknown = await api.http.post(
            f"{TRADING}/token",
            json={"clientId": "vesm-000000000000000000000000", "clientSecret": "s"},
        )
        shapeless = await api.http.post(f"{TRADING}/token", json={"clientId": "vesm-x"})

        for response in (wrong, unknown):
            assert response.json() == {
                "code": "INVALID_CLIENT",
                "details": {},
                "error": "Unauthorized",
                "message": "Invalid client credentials",
                "statusCode": 401,
            }
            assert response.status_code == 401
            # Every 401 names its challenge (RFC 9110 §15.5.2); the body is the seed's as it was.
            assert response.headers["WWW-Authenticate"] == BASIC_CHALLENGE
        assert (shapeless.status_code, shapeless.json()) == (
            400,
            {
                "code": "VALIDATION_ERROR",
                "details": {"errors": [{"field": "clientSecret", "message": "Field required"}]},
                "error": "Bad Request",
                "message": "Validation error",
                "statusCode": 400,
            },
        )


class TestTokenFormErrorsBeyondTheRequest:
    """Refusals that do not judge the request itself keep §2's code, message and details, and
    still speak OAuth2 to a form request."""

    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"voke_esm_rate_limit": "1/minute"}

    async def test_over_the_rate_limit_is_invalid_request_with_retry_after(
        self, api: Api, org: EnabledOrg
    ) -> None:
        form = {"grant_type": "client_credentials"}
        credentials = basic(org.client_id, org.client_secret)
        first = await api.http.post(f"{TRADING}/token", data=form, headers=credentials)
        assert first.status_code == 200, first.text

        response = await api.http.post(f"{TRADING}/token", data=form, headers=credentials)

        assert response.status_code == 429
        assert response.json() == oauth2_error(rate_limited(response), "invalid_request")

    @pytest.mark.parametrize(
        ("status", "error"),
        [
            (400, "invalid_request"),
            (401, "invalid_client"),
            (418, "invalid_request"),
            (500, "server_error"),
            (503, "temporarily_unavailable"),
        ],
    )
    async def test_an_injected_fault_speaks_oauth2_at_its_status(
        self, api: Api, org: EnabledOrg, status: int, error: str
    ) -> None:
        rules = {"rules": [{"endpoint": "token", "kind": "error", "status": status}]}
        put = await api.http.put(
            "/api/v1/voke-esm/admin/faults",
            params={"orgId": org.id},
            json=rules,
            headers=api.headers,
        )
        assert put.status_code == 200, put.text

        response = await api.http.post(
            f"{TRADING}/token",
            data={"grant_type": "client_credentials"},
            headers=basic(org.client_id, org.client_secret),
        )

        message = f"Injected fault: rule 0 answers token with {status}"
        injected = {**error_body(status, "INJECTED_FAULT", message, {"rule": 0})}
        assert (response.status_code, response.json()) == (status, oauth2_error(injected, error))
        if status == 401:
            assert response.headers["WWW-Authenticate"] == BASIC_CHALLENGE


class TestTokenErrorDocs:
    async def test_openapi_documents_both_error_shapes_of_the_token_endpoint(
        self, api: Api
    ) -> None:
        openapi = (await api.http.get("/openapi.json")).json()
        responses = openapi["paths"][f"{TRADING}/token"]["post"]["responses"]

        refused = responses["401"]["content"]["application/json"]["examples"]
        assert refused["INVALID_CLIENT"]["value"] == INVALID_CLIENT
        assert refused["INVALID_CLIENT (form: invalid_client)"]["value"] == FORM_INVALID_CLIENT
        assert responses["401"]["headers"]["WWW-Authenticate"]["schema"] == {
            "type": "string",
            "example": BASIC_CHALLENGE,
        }
        invalid = responses["400"]["content"]["application/json"]["examples"]
        assert invalid["VALIDATION_ERROR"]["value"]["error"] == "Bad Request"
        assert invalid["VALIDATION_ERROR (form: invalid_request)"]["value"] == oauth2_error(
            invalid["VALIDATION_ERROR"]["value"], "invalid_request"
        )
        # A second example of one code is named by its message too (core.errors.error_responses).
        unsupported = invalid["VALIDATION_ERROR: Validation error (form: unsupported_grant_type)"]
        assert unsupported["value"]["error"] == "unsupported_grant_type"
        limited = responses["429"]["content"]["application/json"]["examples"]
        assert limited["RATE_LIMITED (form: invalid_request)"]["value"]["error"] == (
            "invalid_request"
        )
        for endpoint, method in [
            ("plant/list", "get"),
            ("plant/config", "get"),
            ("plant/config/update", "post"),
        ]:
            challenge = openapi["paths"][f"{TRADING}/{endpoint}"][method]["responses"]["401"]
            assert challenge["headers"]["WWW-Authenticate"]["schema"]["example"] == (
                BEARER_CHALLENGE
            )


class TestOAuth2ClientLibrary:
    """An OAuth2 client no one here wrote (authlib) gets tokens from the sandbox, uses them, and
    reports a refused exchange in OAuth2's own terms."""

    @staticmethod
    def oauth2_client(app: FastAPI, client_id: str, secret: str, method: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=client_id,
            client_secret=secret,
            token_endpoint_auth_method=method,
            # The loopback guard reads the TCP peer: the in-process transport names one.
            transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50_000)),
            base_url="http://testserver",
        )

    @pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
    async def test_fetches_a_token_and_lists_the_plants(
        self, app: FastAPI, org: EnabledOrg, method: str
    ) -> None:
        async with self.oauth2_client(app, org.client_id, org.client_secret, method) as oauth:
            token = await oauth.fetch_token(
                f"http://testserver{TRADING}/token", grant_type="client_credentials"
            )
            listed = await oauth.get(f"{TRADING}/plant/list")

        assert (token["token_type"], token["expires_in"]) == ("Bearer", 3600)
        assert listed.status_code == 200, listed.text
        assert [plant["plantId"] for plant in listed.json()] == [org.default_plant_id]

    @pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
    async def test_a_wrong_secret_is_invalid_client(
        self, app: FastAPI, org: EnabledOrg, method: str
    ) -> None:
        wrong = org.client_secret + "x"
        async with self.oauth2_client(app, org.client_id, wrong, method) as oauth:
            with pytest.raises(OAuthError) as refused:
                await oauth.fetch_token(
                    f"http://testserver{TRADING}/token", grant_type="client_credentials"
                )

        assert (refused.value.error, refused.value.description) == (
            "invalid_client",
            "Invalid client credentials",
        )


# Trading tokens ----------------------------------------------------------------------------------


class TestTradingToken:
    async def test_voke_token_is_refused(self, api: Api, org: EnabledOrg) -> None:
        # §3: a Voke token (iss "voke") never opens a trading endpoint.
        for endpoint in BEARER_ENDPOINTS:
            response = await call(api.http, endpoint, org, api.token)
            assert (response.status_code, response.json()) == (401, INVALID_TOKEN), endpoint

    async def test_missing_token_is_401(self, api: Api, org: EnabledOrg) -> None:
        response = await api.http.get(f"{TRADING}/plant/list")

        assert (response.status_code, response.json()) == (401, NO_TOKEN)

    async def test_forged_token_with_the_right_issuer_and_key_is_accepted(
        self, api: Api, org: EnabledOrg, settings: Settings
    ) -> None:
        # The control for the refusals below: the forger itself makes acceptable tokens.
        response = await call(api.http, "plant/list", org, forge(settings, sub=org.client_id))

        assert response.status_code == 200

    async def test_bad_trading_token_is_401_on_every_endpoint(
        self, api: Api, org: EnabledOrg, settings: Settings
    ) -> None:
        past = datetime.now(UTC) - timedelta(hours=2)
        bad_claims: dict[str, dict[str, Any]] = {
            "wrong issuer": {"iss": "someone-else"},
            "Voke issuer": {"iss": "voke"},
            "other key": {"key": "another-secret-key-" + "z" * 32},
            "unsigned": {"algorithm": "none"},
            "expired": {"iat": past, "exp": past + timedelta(hours=1)},
            "unknown client": {"sub": "vesm-000000000000000000000000"},
        }
        tokens = {
            variant: forge(settings, **{"sub": org.client_id, **claims})
            for variant, claims in bad_claims.items()
        }
        tokens |= {"garbage": "not-a-jwt", "three garbage parts": "a.b.c"}

        for variant, token in tokens.items():
            for endpoint in BEARER_ENDPOINTS:
                response = await call(api.http, endpoint, org, token)
                refused = (response.status_code, response.json())
                assert refused == (401, INVALID_TOKEN), (variant, endpoint)


class TestBearerChallenge:
    """Every 401 of a trading endpoint carries `WWW-Authenticate: Bearer error="invalid_token"`
    (CONTRACT §6, RFC 6750 §3), which clients read to fetch a new token."""

    async def test_each_refused_token_on_each_endpoint_carries_the_challenge(
        self, api: Api, org: EnabledOrg, settings: Settings
    ) -> None:
        past = datetime.now(UTC) - timedelta(hours=2)
        revoked = await api.enabled_org()
        revoked_token = await api.trading_token(revoked.client_id, revoked.client_secret)
        assert (await api.disable(revoked.id)).status_code == 200
        tokens = {
            "garbage": ("not-a-jwt", INVALID_TOKEN),
            "expired": (
                forge(settings, sub=org.client_id, iat=past, exp=past + timedelta(hours=1)),
                INVALID_TOKEN,
            ),
            "revoked": (revoked_token, INVALID_TOKEN),
            "missing": (None, NO_TOKEN),
        }

        for variant, (token, body) in tokens.items():
            for endpoint in BEARER_ENDPOINTS:
                if token is not None:
                    response = await call(api.http, endpoint, org, token)
                else:
                    response = await self.call_without_token(api.http, endpoint, org)
                assert (response.status_code, response.json()) == (401, body), (variant, endpoint)
                assert response.headers["WWW-Authenticate"] == BEARER_CHALLENGE, (
                    variant,
                    endpoint,
                )

    async def test_an_injected_401_carries_the_challenge_too(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        for endpoint in BEARER_ENDPOINTS:
            rules = {"rules": [{"endpoint": endpoint, "kind": "error", "status": 401}]}
            put = await api.http.put(
                "/api/v1/voke-esm/admin/faults",
                params={"orgId": org.id},
                json=rules,
                headers=api.headers,
            )
            assert put.status_code == 200, put.text

            response = await call(api.http, endpoint, org, token)

            assert (response.status_code, response.json()["code"]) == (401, "INJECTED_FAULT")
            assert response.headers["WWW-Authenticate"] == BEARER_CHALLENGE, endpoint

    async def test_answers_other_than_401_carry_no_challenge(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        found = await call(api.http, "plant/config", org, token)
        missing = await api.http.get(
            f"{TRADING}/plant/config", params={"plantId": "NOPE"}, headers=bearer(token)
        )

        assert found.status_code == 200
        assert (missing.status_code, missing.json()) == (404, PLANT_NOT_FOUND)
        for response in (found, missing):
            assert "WWW-Authenticate" not in response.headers

    @staticmethod
    async def call_without_token(
        http: httpx.AsyncClient, endpoint: str, org: EnabledOrg
    ) -> httpx.Response:
        if endpoint == "plant/list":
            return await http.get(f"{TRADING}/plant/list")
        if endpoint == "plant/config":
            return await http.get(
                f"{TRADING}/plant/config", params={"plantId": org.default_plant_id}
            )
        body = update_body(org.default_plant_id, validateOnly=True)
        return await http.post(f"{TRADING}/plant/config/update", json=body)


# Plant list --------------------------------------------------------------------------------------


class TestPlantList:
    async def test_lists_each_plant_of_the_client_in_the_seed_shape(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        extra = await api.create_sandbox_plant(
            org.client_id,
            description="Battery storage + PV",
            fvePeakPowerKwp=120.5,
            capacityKwh=200,
            esiState="OFFLINE",
            configEnabled=False,
            plantWithLoad=False,
        )
        default = await admin_plant(api, org.client_id, org.default_plant_id)

        response = await api.http.get(f"{TRADING}/plant/list", headers=bearer(token))

        assert response.status_code == 200
        expected = [
            {
                "plantId": extra["externalPlantId"],
                "name": extra["name"],
                "descr": "Battery storage + PV",
                "fvePeakPowerKwp": 120.5,
                "capacityKwh": 200,
                "esiState": "OFFLINE",
                "configEnabled": False,
                "plantWithLoad": False,
                "meters": [],
            },
            {
                "plantId": org.default_plant_id,
                "name": default["name"],
                "descr": default["description"],
                "fvePeakPowerKwp": default["fvePeakPowerKwp"],
                "capacityKwh": default["capacityKwh"],
                "esiState": default["esiState"],
                "configEnabled": default["configEnabled"],
                "plantWithLoad": default["plantWithLoad"],
                "meters": [],
            },
        ]
        assert sorted(response.json(), key=lambda item: item["plantId"]) == sorted(
            expected, key=lambda item: item["plantId"]
        )

    async def test_lists_only_the_plants_of_the_tokens_client(self, api: Api) -> None:
        ours, theirs = await api.enabled_org(), await api.enabled_org()
        our_extra = await api.create_sandbox_plant(ours.client_id)
        their_extra = await api.create_sandbox_plant(theirs.client_id)

        for org, expected in [
            (ours, {ours.default_plant_id, our_extra["externalPlantId"]}),
            (theirs, {theirs.default_plant_id, their_extra["externalPlantId"]}),
        ]:
            token = await api.trading_token(org.client_id, org.client_secret)
            response = await api.http.get(f"{TRADING}/plant/list", headers=bearer(token))
            assert response.status_code == 200
            plant_ids = [plant["plantId"] for plant in response.json()]
            assert sorted(plant_ids) == sorted(expected)


# Plant config ------------------------------------------------------------------------------------


class TestPlantConfig:
    async def test_returns_the_plants_schedule_at_version_one(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        plant = await api.create_sandbox_plant(
            org.client_id, timeConfigs=SEED_BLOCKS, esiState="OFFLINE", configEnabled=False
        )

        response = await api.plant_config(token, plant["externalPlantId"])

        assert response.status_code == 200
        assert response.json() == {
            "plantId": plant["externalPlantId"],
            "version": 1,
            "configEnabled": False,
            "esiState": "OFFLINE",
            "timeConfigs": SEED_BLOCKS,
        }

    async def test_default_plant_starts_at_version_one(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        default = await admin_plant(api, org.client_id, org.default_plant_id)

        assert await config_of(api, token, org.default_plant_id) == {
            "plantId": org.default_plant_id,
            "version": 1,
            "configEnabled": True,
            "esiState": "PLC_READY",
            "timeConfigs": default["timeConfigs"],
        }

    async def test_plant_of_another_client_is_404(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        other = await api.enabled_org()

        response = await api.plant_config(token, other.default_plant_id)

        assert (response.status_code, response.json()) == (404, PLANT_NOT_FOUND)

    async def test_unknown_plant_is_404(self, api: Api, token: str) -> None:
        response = await api.plant_config(token, "PLANT-NOPE")

        assert (response.status_code, response.json()) == (404, PLANT_NOT_FOUND)

    async def test_missing_plant_id_is_400(self, api: Api, token: str) -> None:
        response = await api.http.get(f"{TRADING}/plant/config", headers=bearer(token))

        assert response.status_code == 400
        assert response.json() == validation_error(("plantId", "Field required"))


# Config update -----------------------------------------------------------------------------------


class TestConfigUpdate:
    async def test_applied_update_is_stored_as_the_next_version(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        first = await api.update_config(token, org.default_plant_id, WHOLE_DAY, code="req-1")
        second = await api.update_config(token, org.default_plant_id, SEED_BLOCKS, code="req-2")

        assert (first.status_code, second.status_code) == (200, 200)
        assert first.json() == {
            "plantId": org.default_plant_id,
            "configUpdateReqCode": "req-1",
            "resultCode": "applied_ok",
            "version": 2,
            "errors": [],
        }
        assert second.json()["resultCode"] == "applied_ok"
        assert second.json()["version"] == 3
        assert await config_of(api, token, org.default_plant_id) == {
            "plantId": org.default_plant_id,
            "version": 3,
            "configEnabled": True,
            "esiState": "PLC_READY",
            "timeConfigs": SEED_BLOCKS,
        }

    async def test_empty_schedule_is_applied(self, api: Api, org: EnabledOrg, token: str) -> None:
        response = await api.update_config(token, org.default_plant_id, [])

        assert response.json()["resultCode"] == "applied_ok"
        config = await config_of(api, token, org.default_plant_id)
        assert (config["version"], config["timeConfigs"]) == (2, [])

    async def test_validate_only_accepts_without_storing(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        before = await config_of(api, token, org.default_plant_id)

        response = await api.update_config(
            token, org.default_plant_id, WHOLE_DAY, code="req-dry", validate_only=True
        )

        assert response.status_code == 200
        assert response.json() == {
            "plantId": org.default_plant_id,
            "configUpdateReqCode": "req-dry",
            "resultCode": "cfg_accepted",
            "version": 1,
            "errors": [],
        }
        assert await config_of(api, token, org.default_plant_id) == before

    @pytest.mark.parametrize(
        ("time_configs", "errors"),
        [
            pytest.param(
                [block("08:00", "08:00")],
                [("timeConfigs[0].to", "must be later than from")],
                id="from-not-before-to",
            ),
            pytest.param(
                [block("00:00", "08:00"), block("07:00", "12:00")],
                [("timeConfigs[1].from", "overlaps block 0")],
                id="overlap",
            ),
            pytest.param(
                consecutive_blocks(97, 14),
                [("timeConfigs", "must hold at most 96 blocks")],
                id="97-blocks",
            ),
            pytest.param(
                [
                    block("24:00", "23:59"),
                    block("00:00", "01:00", pBatMax=-1, pBatMin=1, socMin=80, socMax=70),
                ],
                [
                    ("timeConfigs[0].from", "must be HH:MM between 00:00 and 23:59"),
                    ("timeConfigs[1].pBatMax", "must be >= 0 (charge power is positive)"),
                    ("timeConfigs[1].pBatMin", "must be <= 0 (discharge power is negative)"),
                    ("timeConfigs[1].socMin", "must not exceed socMax"),
                ],
                id="several-rules",
            ),
        ],
    )
    async def test_schedule_breaking_the_rules_is_rejected_listing_each_error(
        self,
        api: Api,
        org: EnabledOrg,
        token: str,
        time_configs: list[dict[str, Any]],
        errors: list[tuple[str, str]],
    ) -> None:
        before = await config_of(api, token, org.default_plant_id)

        response = await api.update_config(
            token, org.default_plant_id, time_configs, code="req-bad"
        )

        assert response.status_code == 200
        assert response.json() == {
            "plantId": org.default_plant_id,
            "configUpdateReqCode": "req-bad",
            "resultCode": "cfg_rejected",
            "version": 1,
            "errors": [{"field": field, "message": message} for field, message in errors],
        }
        assert await config_of(api, token, org.default_plant_id) == before

    async def test_ninety_six_blocks_are_allowed(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        blocks = consecutive_blocks(96, 14)

        response = await api.update_config(token, org.default_plant_id, blocks)

        assert (response.json()["resultCode"], response.json()["errors"]) == ("applied_ok", [])
        config = await config_of(api, token, org.default_plant_id)
        assert config["timeConfigs"] == blocks

    async def test_plant_with_config_disabled_rejects_updates(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        plant = await admin_plant(api, org.client_id, org.default_plant_id)
        patched = await api.http.patch(
            f"/api/v1/voke-esm/admin/plants/{plant['id']}",
            json={"configEnabled": False},
            headers=api.headers,
        )
        assert patched.status_code == 200, patched.text
        before = await config_of(api, token, org.default_plant_id)

        response = await api.update_config(token, org.default_plant_id, WHOLE_DAY, code="req-off")

        assert response.status_code == 200
        assert response.json() == {
            "plantId": org.default_plant_id,
            "configUpdateReqCode": "req-off",
            "resultCode": "cfg_rejected",
            "version": 1,
            "errors": [
                {"field": "configEnabled", "message": "config updates are disabled for this plant"}
            ],
        }
        assert await config_of(api, token, org.default_plant_id) == before

    @pytest.mark.parametrize(
        ("change", "errors"),
        [
            pytest.param({"plantId": OMIT}, [("plantId", "Field required")], id="no-plant-id"),
            pytest.param(
                {"configUpdateReqCode": OMIT},
                [("configUpdateReqCode", "Field required")],
                id="no-code",
            ),
            pytest.param(
                {"timeConfigs": [{**WHOLE_DAY[0], "pBatMax": "50"}]},
                [("timeConfigs[0].pBatMax", "Input should be a valid number")],
                id="string-for-number",
            ),
            pytest.param(
                {"timeConfigs": [{**WHOLE_DAY[0], "socMin": None}]},
                [("timeConfigs[0].socMin", "Input should be a valid number")],
                id="null-field",
            ),
            pytest.param(
                {"timeConfigs": [{k: v for k, v in WHOLE_DAY[0].items() if k != "to"}]},
                [("timeConfigs[0].to", "Field required")],
                id="block-without-to",
            ),
            pytest.param(
                {"validateOnly": "yes"},
                [("validateOnly", "Input should be a valid boolean")],
                id="validate-only-string",
            ),
            pytest.param(
                {"timeConfigs": None},
                [("timeConfigs", "Input should be a valid list")],
                id="null-time-configs",
            ),
        ],
    )
    async def test_body_of_the_wrong_shape_is_400_and_changes_nothing(
        self,
        api: Api,
        org: EnabledOrg,
        token: str,
        change: dict[str, Any],
        errors: list[tuple[str, str]],
    ) -> None:
        body = update_body(org.default_plant_id, **change)

        response = await api.http.post(
            f"{TRADING}/plant/config/update", json=body, headers=bearer(token)
        )

        assert response.status_code == 400
        assert response.json() == validation_error(*errors)
        assert (await config_of(api, token, org.default_plant_id))["version"] == 1

    async def test_malformed_json_is_400(self, api: Api, token: str) -> None:
        response = await api.http.post(
            f"{TRADING}/plant/config/update",
            content=b'{"plantId": ',
            headers={**bearer(token), "content-type": "application/json"},
        )

        assert response.status_code == 400
        assert response.json() == validation_error(("body", "Request body is not valid JSON"))

    async def test_plant_of_another_client_is_404(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        other = await api.enabled_org()
        other_token = await api.trading_token(other.client_id, other.client_secret)

        response = await api.update_config(token, other.default_plant_id, WHOLE_DAY)

        assert (response.status_code, response.json()) == (404, PLANT_NOT_FOUND)
        assert (await config_of(api, other_token, other.default_plant_id))["version"] == 1

    async def test_applied_update_is_logged(
        self, api: Api, org: EnabledOrg, token: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        line = ("voke_esm", logging.INFO, f"Voke ESM: applied config for {org.default_plant_id}")
        with caplog.at_level(logging.INFO, logger="voke_esm"):
            await api.update_config(token, org.default_plant_id, WHOLE_DAY, validate_only=True)
            await api.update_config(token, org.default_plant_id, [block("10:00", "09:00")])
            assert line not in caplog.record_tuples

            await api.update_config(token, org.default_plant_id, WHOLE_DAY)

        assert caplog.record_tuples.count(line) == 1


class TestConfigUpdateIdempotency:
    async def test_repeated_code_returns_the_first_applied_answer_and_changes_nothing(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        first = await api.update_config(token, org.default_plant_id, WHOLE_DAY, code="req-once")
        stored = await config_of(api, token, org.default_plant_id)

        again = await api.update_config(token, org.default_plant_id, SEED_BLOCKS, code="req-once")

        assert first.json()["resultCode"] == "applied_ok"
        assert (again.status_code, again.json()) == (200, first.json())
        assert await config_of(api, token, org.default_plant_id) == stored

    async def test_repeated_code_replays_its_answer_after_later_updates(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        first = await api.update_config(token, org.default_plant_id, WHOLE_DAY, code="req-a")
        await api.update_config(token, org.default_plant_id, SEED_BLOCKS, code="req-b")

        again = await api.update_config(token, org.default_plant_id, WHOLE_DAY, code="req-a")

        # §6: "returns the first answer, whatever it was": version 2, not a new version 4.
        assert (again.status_code, again.json()) == (200, first.json())
        config = await config_of(api, token, org.default_plant_id)
        assert (config["version"], config["timeConfigs"]) == (3, SEED_BLOCKS)

    async def test_repeated_code_returns_the_first_rejection_even_for_a_valid_body(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        bad = [block("09:00", "08:00")]
        first = await api.update_config(token, org.default_plant_id, bad, code="req-no")
        before = await config_of(api, token, org.default_plant_id)

        again = await api.update_config(token, org.default_plant_id, WHOLE_DAY, code="req-no")

        assert first.json()["resultCode"] == "cfg_rejected"
        assert (again.status_code, again.json()) == (200, first.json())
        assert await config_of(api, token, org.default_plant_id) == before

    async def test_repeated_validate_only_code_does_not_apply_later(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        first = await api.update_config(
            token, org.default_plant_id, WHOLE_DAY, code="req-dry", validate_only=True
        )

        again = await api.update_config(token, org.default_plant_id, WHOLE_DAY, code="req-dry")

        assert first.json()["resultCode"] == "cfg_accepted"
        assert (again.status_code, again.json()) == (200, first.json())
        assert (await config_of(api, token, org.default_plant_id))["version"] == 1

    async def test_same_code_on_another_plant_is_a_separate_update(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        other = await api.create_sandbox_plant(org.client_id, timeConfigs=SEED_BLOCKS)
        other_id = other["externalPlantId"]
        await api.update_config(token, org.default_plant_id, WHOLE_DAY, code="req-shared")

        response = await api.update_config(token, other_id, WHOLE_DAY, code="req-shared")

        assert response.json() == {
            "plantId": other_id,
            "configUpdateReqCode": "req-shared",
            "resultCode": "applied_ok",
            "version": 2,
            "errors": [],
        }
        config = await config_of(api, token, other_id)
        assert (config["version"], config["timeConfigs"]) == (2, WHOLE_DAY)


class TestConcurrentConfigUpdates:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"voke_esm_rate_limit": "1000/minute"}

    async def test_fifty_concurrent_updates_each_get_their_own_version(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        schedules = {f"req-{i}": [{**WHOLE_DAY[0], "pBatMax": i}] for i in range(50)}

        responses = await asyncio.gather(
            *(
                api.update_config(token, org.default_plant_id, blocks, code=code)
                for code, blocks in schedules.items()
            )
        )

        assert [response.status_code for response in responses] == [200] * 50
        answers = [response.json() for response in responses]
        assert {answer["resultCode"] for answer in answers} == {"applied_ok"}
        assert sorted(answer["version"] for answer in answers) == list(range(2, 52))
        last = next(answer for answer in answers if answer["version"] == 51)
        config = await config_of(api, token, org.default_plant_id)
        assert config["version"] == 51
        assert config["timeConfigs"] == schedules[last["configUpdateReqCode"]]


# Loopback guard ----------------------------------------------------------------------------------


class TestLoopbackGuard:
    async def test_loopback_peers_are_served(
        self, app: FastAPI, org: EnabledOrg, token: str
    ) -> None:
        for peer in LOOPBACK_PEERS:
            async with http_client(app, peer=peer) as local:
                for endpoint in ENDPOINTS:
                    response = await call(local, endpoint, org, token)
                    assert response.status_code == 200, (peer, endpoint, response.text)

    async def test_remote_peers_are_refused_on_every_endpoint_even_with_a_valid_token(
        self, app: FastAPI, org: EnabledOrg, token: str
    ) -> None:
        for peer in REMOTE_PEERS:
            async with http_client(app, peer=peer) as remote:
                for endpoint in ENDPOINTS:
                    response = await call(remote, endpoint, org, token)
                    refused = (response.status_code, response.json())
                    assert refused == (403, LOOPBACK_ONLY), (peer, endpoint)

    async def test_remote_peer_is_refused_before_the_body_or_token_is_read(
        self, app: FastAPI
    ) -> None:
        json_header = {"content-type": "application/json"}
        async with http_client(app, peer="10.0.0.5") as remote:
            responses = [
                await remote.post(f"{TRADING}/token", content=b"{", headers=json_header),
                await remote.post(
                    f"{TRADING}/plant/config/update", content=b"{", headers=json_header
                ),
                await remote.get(f"{TRADING}/plant/config"),
                await remote.get(f"{TRADING}/plant/list", headers=bearer("garbage")),
            ]
        for response in responses:
            assert (response.status_code, response.json()) == (403, LOOPBACK_ONLY)

    async def test_forwarding_headers_do_not_make_a_remote_peer_loopback(
        self, app: FastAPI, org: EnabledOrg, token: str
    ) -> None:
        spoofed = {
            "X-Forwarded-For": "127.0.0.1",
            "X-Real-IP": "127.0.0.1",
            "Forwarded": "for=127.0.0.1",
        }
        async with http_client(app, peer="10.0.0.5") as remote:
            response = await call(remote, "plant/list", org, token, headers=spoofed)

        assert (response.status_code, response.json()) == (403, LOOPBACK_ONLY)

    async def test_forwarding_headers_do_not_make_a_loopback_peer_remote(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        response = await call(
            api.http, "plant/list", org, token, headers={"X-Forwarded-For": "8.8.8.8"}
        )

        assert response.status_code == 200

    async def test_admin_api_is_not_loopback_only(self, app: FastAPI, api: Api) -> None:
        org = await api.create_org()
        async with http_client(app, peer="10.0.0.5") as remote:
            response = await remote.get(
                "/api/v1/voke-esm/admin/status", params={"orgId": org["id"]}, headers=api.headers
            )

        assert response.status_code == 200


# Rate limit --------------------------------------------------------------------------------------


class TestRateLimit:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"voke_esm_rate_limit": "3/minute"}

    @pytest.mark.parametrize("endpoint", BEARER_ENDPOINTS)
    async def test_fourth_call_in_a_minute_is_429(
        self, api: Api, org: EnabledOrg, token: str, endpoint: str
    ) -> None:
        for _ in range(3):
            assert (await call(api.http, endpoint, org, token)).status_code == 200

        response = await call(api.http, endpoint, org, token)

        assert response.status_code == 429
        assert response.json() == rate_limited(response)
        assert 1 <= int(response.headers["Retry-After"]) <= 60

    async def test_fourth_token_exchange_in_a_minute_is_429(
        self, api: Api, org: EnabledOrg
    ) -> None:
        for _ in range(3):
            await api.trading_token(org.client_id, org.client_secret)

        response = await call(api.http, "token", org, "")

        assert response.status_code == 429
        assert response.json() == rate_limited(response)
        assert 1 <= int(response.headers["Retry-After"]) <= 60

    async def test_failed_token_exchanges_count_against_the_client_id(
        self, api: Api, org: EnabledOrg
    ) -> None:
        wrong = {"clientId": org.client_id, "clientSecret": "guess"}
        for _ in range(3):
            response = await api.http.post(f"{TRADING}/token", json=wrong)
            assert (response.status_code, response.json()) == (401, INVALID_CLIENT)

        response = await call(api.http, "token", org, "")

        assert response.status_code == 429
        assert response.json() == rate_limited(response)

    async def test_limit_is_per_endpoint(self, api: Api, org: EnabledOrg, token: str) -> None:
        for _ in range(3):
            await call(api.http, "plant/list", org, token)
        assert (await call(api.http, "plant/list", org, token)).status_code == 429

        assert (await call(api.http, "plant/config", org, token)).status_code == 200
        assert (await call(api.http, "plant/config/update", org, token)).status_code == 200

    async def test_limit_is_per_client(self, api: Api, org: EnabledOrg, token: str) -> None:
        for _ in range(3):
            await call(api.http, "plant/list", org, token)
        assert (await call(api.http, "plant/list", org, token)).status_code == 429
        for _ in range(3):
            await call(api.http, "token", org, "")
        assert (await call(api.http, "token", org, "")).status_code == 429

        other = await api.enabled_org()
        other_token = await api.trading_token(other.client_id, other.client_secret)

        assert (await call(api.http, "plant/list", other, other_token)).status_code == 200


class TestRateLimitWindow:
    WINDOW_S = 6

    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"voke_esm_rate_limit": f"2/{self.WINDOW_S} seconds"}

    async def test_refused_calls_do_not_count(self, api: Api, org: EnabledOrg, token: str) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(2):
            assert (await call(api.http, "plant/list", org, token)).status_code == 200
        last_success = loop.time()
        await asyncio.sleep(self.WINDOW_S / 2)
        refused = await call(api.http, "plant/list", org, token)
        refused_at = loop.time()
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= self.WINDOW_S

        # Wait until the two successes have left the moving window. The 429, sent half a window
        # later, would still be in it had it counted, leaving room for one call only.
        await asyncio.sleep(max(0.0, last_success + self.WINDOW_S + 0.3 - loop.time()))
        statuses = [(await call(api.http, "plant/list", org, token)).status_code for _ in range(3)]

        assert loop.time() < refused_at + self.WINDOW_S, "too slow to tell: the 429 left too"
        assert statuses == [200, 200, 429]
