"""The sandbox tools of CONTRACT §11: the journal of trading calls, fault injection and token
lifetime, snapshot, restore and reset, and /metrics."""

from __future__ import annotations

import asyncio
import base64
import socket
import time
import uuid
from datetime import datetime
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import http_client
from tests.factories import (
    SEED_BLOCKS,
    SITE_DEFAULTS,
    WHOLE_DAY,
    Api,
    EnabledOrg,
    bearer,
    error_body,
    validation_error,
)
from tests.live import bound_socket, serving

ADMIN = "/api/v1/voke-esm/admin"
TRADING = "/api/v1/voke-esm/trading"

ORG_NOT_FOUND = error_body(404, "NOT_FOUND", "Organization not found")
INVALID_UUID = error_body(400, "INVALID_UUID", "Invalid UUID")
NO_TOKEN = error_body(401, "UNAUTHORIZED", "Authentication required")
TOKEN_REFUSED = error_body(401, "UNAUTHORIZED", "Invalid or expired token")
NOT_SUPER_ADMIN = error_body(403, "FORBIDDEN", "SuperAdmin role required")
INVALID_CLIENT = error_body(401, "INVALID_CLIENT", "Invalid client credentials")
MISSING_ORG_ID = error_body(
    400,
    "VALIDATION_ERROR",
    "Validation error",
    {"errors": [{"field": "orgId", "message": "Field required"}]},
)
NO_FAULTS: dict[str, Any] = {"rules": [], "tokenTtlSeconds": None}
NEVER_ENABLED = error_body(
    409, "CONFLICT", "Voke ESM has never been enabled for this organization: enable it first"
)
TOOL_ENDPOINTS = [
    ("GET", "journal"),
    ("DELETE", "journal"),
    ("GET", "faults"),
    ("PUT", "faults"),
    ("DELETE", "faults"),
    ("GET", "snapshot"),
    ("PUT", "snapshot"),
    ("POST", "reset"),
]
VALID_BODIES: dict[str, Any] = {"faults": {"rules": []}, "snapshot": {"plants": []}}


def rule(endpoint: str, kind: str, **fields: Any) -> dict[str, Any]:
    """A rule as GET faults shows it: every field, defaults filled in."""
    return {
        "endpoint": endpoint,
        "kind": kind,
        "status": None,
        "latencyMs": None,
        "jitterMs": None,
        "probability": 1,
        "count": None,
        **fields,
    }


def injected(status: int, error: str, *, endpoint: str = "plant/list") -> dict[str, Any]:
    """The §2 envelope an `error` rule (the first, rule 0) answers with."""
    return {
        "code": "INJECTED_FAULT",
        "details": {"rule": 0},
        "error": error,
        "message": f"Injected fault: rule 0 answers {endpoint} with {status}",
        "statusCode": status,
    }


async def tool(api: Api, method: str, name: str, org_id: str, **kwargs: Any) -> httpx.Response:
    params = {"orgId": org_id, **kwargs.pop("params", {})}
    headers = {**api.headers, **kwargs.pop("headers", {})}
    return await api.http.request(
        method, f"{ADMIN}/{name}", params=params, headers=headers, **kwargs
    )


async def put_faults(api: Api, org_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await tool(api, "PUT", "faults", org_id, json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def journal(api: Api, org_id: str, **params: Any) -> list[dict[str, Any]]:
    response = await tool(api, "GET", "journal", org_id, params=params)
    assert response.status_code == 200, response.text
    return list(response.json())


def calls(entries: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What a journal entry says about a call, without its time and duration."""
    return [
        (
            entry["clientId"],
            entry["method"],
            entry["path"],
            entry["status"],
            entry["plantId"],
            entry["configUpdateReqCode"],
            entry["resultCode"],
        )
        for entry in entries
    ]


async def plant_list(api: Api, token: str) -> httpx.Response:
    return await api.http.get(f"{TRADING}/plant/list", headers=bearer(token))


@pytest.fixture
async def org(api: Api) -> EnabledOrg:
    return await api.enabled_org("Acme")


@pytest.fixture
async def token(api: Api, org: EnabledOrg) -> str:
    return await api.trading_token(org.client_id, org.client_secret)


async def org_admin_token(api: Api, org_id: str) -> str:
    email = f"org-admin-{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": email, "password": "org admin password", "role": "ORG_ADMIN", "orgId": org_id}
    created = await api.http.post("/api/v1/users", json=body, headers=api.headers)
    assert created.status_code == 201, created.text
    login = await api.http.post(
        "/api/v1/auth/login", json={"email": email, "password": "org admin password"}
    )
    assert login.status_code == 200, login.text
    return str(login.json()["accessToken"])


# Journal ------------------------------------------------------------------------------------------


class TestJournal:
    async def test_records_each_trading_call_of_the_org_newest_first(
        self, api: Api, org: EnabledOrg
    ) -> None:
        started = datetime.now().astimezone()
        token = await api.trading_token(org.client_id, org.client_secret)
        assert (await plant_list(api, token)).status_code == 200
        assert (await api.plant_config(token, org.default_plant_id)).status_code == 200
        update = await api.update_config(token, org.default_plant_id, WHOLE_DAY, code="req-1")
        assert update.json()["resultCode"] == "applied_ok"
        assert (await api.plant_config(token, "PLANT-NOPE")).status_code == 404

        entries = await journal(api, org.id)

        cid, plant = org.client_id, org.default_plant_id
        assert calls(entries) == [
            (cid, "GET", f"{TRADING}/plant/config", 404, "PLANT-NOPE", None, None),
            (cid, "POST", f"{TRADING}/plant/config/update", 200, plant, "req-1", "applied_ok"),
            (cid, "GET", f"{TRADING}/plant/config", 200, plant, None, None),
            (cid, "GET", f"{TRADING}/plant/list", 200, None, None, None),
            (cid, "POST", f"{TRADING}/token", 200, None, None, None),
        ]
        assert [set(entry) for entry in entries] == [
            {
                "at",
                "clientId",
                "method",
                "path",
                "status",
                "plantId",
                "configUpdateReqCode",
                "resultCode",
                "durationMs",
            }
        ] * 5
        times = [datetime.fromisoformat(entry["at"]) for entry in entries]
        assert all(entry["at"].endswith("Z") for entry in entries)
        assert times == sorted(times, reverse=True)
        assert started <= times[-1] <= times[0] <= datetime.now().astimezone()
        assert all(0 <= entry["durationMs"] < 10_000 for entry in entries)

    async def test_a_plant_id_the_route_refuses_is_not_written_and_loses_no_entry(
        self, api: Api, org: EnabledOrg
    ) -> None:
        """A plantId longer than the journal's column is refused (400) after the call is tied to
        its org; recording it would fail the whole batch on PostgreSQL, with the calls around it."""
        token = await api.trading_token(org.client_id, org.client_secret)
        too_long = "P" * 121
        assert (await api.plant_config(token, too_long)).status_code == 400
        assert (await plant_list(api, token)).status_code == 200

        entries = await journal(api, org.id)

        cid = org.client_id
        assert calls(entries) == [
            (cid, "GET", f"{TRADING}/plant/list", 200, None, None, None),
            (cid, "GET", f"{TRADING}/plant/config", 400, None, None, None),
            (cid, "POST", f"{TRADING}/token", 200, None, None, None),
        ]

    async def test_never_holds_a_secret_or_a_token(self, api: Api, org: EnabledOrg) -> None:
        token = await api.trading_token(org.client_id, org.client_secret)
        basic = base64.b64encode(f"{org.client_id}:{org.client_secret}".encode()).decode()
        form = await api.http.post(
            f"{TRADING}/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )
        assert form.status_code == 200, form.text
        await plant_list(api, token)
        await api.http.post(
            f"{TRADING}/token", json={"clientId": org.client_id, "clientSecret": "wrong-secret"}
        )

        response = await tool(api, "GET", "journal", org.id)

        assert len(response.json()) == 4
        for secret in (
            org.client_secret,
            token,
            form.json()["access_token"],
            basic,
            "wrong-secret",
        ):
            assert secret not in response.text

    async def test_failed_exchange_for_a_known_client_id_is_recorded_under_its_org(
        self, api: Api, org: EnabledOrg
    ) -> None:
        body = {"clientId": org.client_id, "clientSecret": "wrong"}
        refused = await api.http.post(f"{TRADING}/token", json=body)
        assert (refused.status_code, refused.json()) == (401, INVALID_CLIENT)

        assert calls(await journal(api, org.id)) == [
            (org.client_id, "POST", f"{TRADING}/token", 401, None, None, None)
        ]

    async def test_calls_that_no_org_can_be_tied_to_are_not_recorded(
        self, app: FastAPI, api: Api, org: EnabledOrg, token: str
    ) -> None:
        await tool(api, "DELETE", "journal", org.id)  # the `token` fixture's exchange
        unknown = {"clientId": "vesm-unknown", "clientSecret": org.client_secret}
        assert (await api.http.post(f"{TRADING}/token", json=unknown)).status_code == 401
        assert (await plant_list(api, "not-a-jwt")).status_code == 401
        # A valid token from a remote peer: the loopback guard refuses it before anything.
        async with http_client(app, peer="10.0.0.5") as remote:
            refused = await remote.get(f"{TRADING}/plant/list", headers=bearer(token))
        assert refused.status_code == 403

        assert await journal(api, org.id) == []

    async def test_each_org_sees_only_its_own_calls(self, api: Api, org: EnabledOrg) -> None:
        other = await api.enabled_org("Other")
        await api.trading_token(other.client_id, other.client_secret)

        assert [entry["clientId"] for entry in await journal(api, other.id)] == [other.client_id]
        assert [entry["clientId"] for entry in await journal(api, org.id)] == []

    async def test_concurrent_calls_are_each_recorded(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        await tool(api, "DELETE", "journal", org.id)

        answers = await asyncio.gather(*(plant_list(api, token) for _ in range(20)))

        assert [answer.status_code for answer in answers] == [200] * 20
        entries = await journal(api, org.id)
        assert (
            calls(entries)
            == [(org.client_id, "GET", f"{TRADING}/plant/list", 200, None, None, None)] * 20
        )

    async def test_limit_gives_the_newest_and_since_is_exclusive(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        for code in ("a", "b", "c"):
            await api.update_config(token, org.default_plant_id, WHOLE_DAY, code=code)
        everything = await journal(api, org.id)
        assert [entry["configUpdateReqCode"] for entry in everything] == ["c", "b", "a", None]

        newest = await journal(api, org.id, limit=2)
        after_a = await journal(api, org.id, since=everything[2]["at"])
        after_c = await journal(api, org.id, since=everything[0]["at"])

        assert newest == everything[:2]
        assert after_a == everything[:2]
        assert after_c == []

    @pytest.mark.parametrize(
        ("params", "field", "message"),
        [
            ({"limit": "0"}, "limit", "Input should be greater than or equal to 1"),
            (
                {"since": "yesterday"},
                "since",
                "Input should be a valid datetime or date, input is too short",
            ),
        ],
    )
    async def test_bad_limit_or_since_is_400(
        self, api: Api, org: EnabledOrg, params: dict[str, str], field: str, message: str
    ) -> None:
        response = await tool(api, "GET", "journal", org.id, params=params)

        assert (response.status_code, response.json()) == (
            400,
            validation_error((field, message)),
        )

    async def test_delete_forgets_the_orgs_journal_only(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        other = await api.enabled_org("Other")
        await api.trading_token(other.client_id, other.client_secret)

        response = await tool(api, "DELETE", "journal", org.id)

        assert (response.status_code, response.json()) == (
            200,
            {"message": "Journal of Acme cleared (1 entry)"},
        )
        assert await journal(api, org.id) == []
        assert len(await journal(api, other.id)) == 1
        await plant_list(api, token)
        assert len(await journal(api, org.id)) == 1  # recording goes on


class TestJournalCap:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"voke_esm_journal_max": 5}

    async def test_oldest_entries_go_first_past_the_cap(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        for number in range(1, 8):
            await api.update_config(
                token, org.default_plant_id, WHOLE_DAY, code=f"req-{number}", validate_only=True
            )

        entries = await journal(api, org.id, limit=100)

        assert [entry["configUpdateReqCode"] for entry in entries] == [
            "req-7",
            "req-6",
            "req-5",
            "req-4",
            "req-3",
        ]


# Faults -------------------------------------------------------------------------------------------


# Integers of any size where the tools take one: an answer, never a server error.
ANY_INTEGER = st.integers() | st.sampled_from([2**31, 2**63, 2**64, -(2**63) - 1, 10**300])


class TestIntegersOfAnySize:
    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        field=st.sampled_from(["status", "latencyMs", "jitterMs", "count", "tokenTtlSeconds"]),
        value=ANY_INTEGER,
    )
    async def test_a_fault_setup_is_stored_or_refused_at_its_field(
        self, api: Api, org: EnabledOrg, field: str, value: int
    ) -> None:
        rule: dict[str, Any] = {"endpoint": "plant/list", "kind": "latency", "latencyMs": 0}
        body: dict[str, Any] = {"rules": [rule]}
        if field == "tokenTtlSeconds":
            body[field] = value
        else:
            rule[field] = value
            rule["kind"] = "error" if field == "status" else "latency"

        response = await tool(api, "PUT", "faults", org.id, json=body)

        if response.status_code == 200:
            assert (await tool(api, "GET", "faults", org.id)).json() == response.json()
            return
        assert response.status_code == 400, response.text
        (error,) = response.json()["details"]["errors"]
        assert error["field"] == (field if field == "tokenTtlSeconds" else f"rules[0].{field}")

    @settings(
        max_examples=20,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(value=ANY_INTEGER)
    async def test_journal_limits_are_answered_or_refused(
        self, api: Api, org: EnabledOrg, value: int
    ) -> None:
        response = await tool(api, "GET", "journal", org.id, params={"limit": value})

        assert response.status_code in (200, 400), response.text


class TestFaultsDocument:
    async def test_an_org_starts_without_faults(self, api: Api, org: EnabledOrg) -> None:
        response = await tool(api, "GET", "faults", org.id)

        assert (response.status_code, response.json()) == (200, NO_FAULTS)

    async def test_put_stores_the_rules_with_their_defaults_and_get_shows_them(
        self, api: Api, org: EnabledOrg
    ) -> None:
        body = {
            "rules": [
                {"endpoint": "plant/list", "kind": "error", "status": 503, "count": 2},
                {"endpoint": "*", "kind": "latency", "latencyMs": 250, "jitterMs": 50.5},
                {"endpoint": "token", "kind": "drop", "probability": 0.25},
            ],
            "tokenTtlSeconds": 30,
        }
        expected = {
            "rules": [
                rule("plant/list", "error", status=503, count=2),
                rule("*", "latency", latencyMs=250, jitterMs=50.5),
                rule("token", "drop", probability=0.25),
            ],
            "tokenTtlSeconds": 30,
        }

        assert await put_faults(api, org.id, body) == expected
        assert (await tool(api, "GET", "faults", org.id)).json() == expected

    async def test_put_replaces_everything_and_delete_clears_it(
        self, api: Api, org: EnabledOrg
    ) -> None:
        await put_faults(
            api,
            org.id,
            {"rules": [{"endpoint": "*", "kind": "drop"}], "tokenTtlSeconds": 5},
        )

        assert await put_faults(api, org.id, {"tokenTtlSeconds": 7}) == {
            "rules": [],
            "tokenTtlSeconds": 7,
        }
        await put_faults(api, org.id, {"rules": [{"endpoint": "*", "kind": "drop"}]})
        deleted = await tool(api, "DELETE", "faults", org.id)
        assert (deleted.status_code, deleted.json()) == (
            200,
            {"message": "Faults of Acme cleared; tokens live the default time"},
        )
        assert (await tool(api, "GET", "faults", org.id)).json() == NO_FAULTS

    async def test_an_org_never_enabled_has_no_faults_to_set(self, api: Api) -> None:
        org = await api.create_org()

        response = await tool(api, "PUT", "faults", org["id"], json={"tokenTtlSeconds": 60})

        assert (response.status_code, response.json()) == (409, NEVER_ENABLED)
        assert (await tool(api, "GET", "faults", org["id"])).json() == NO_FAULTS

    async def test_faults_stay_while_the_org_is_disabled(self, api: Api, org: EnabledOrg) -> None:
        await put_faults(api, org.id, {"tokenTtlSeconds": 60})
        await api.disable(org.id)

        stored = await put_faults(api, org.id, {"tokenTtlSeconds": 61})
        await api.enable(org.id)

        assert (await tool(api, "GET", "faults", org.id)).json() == {
            "rules": [],
            "tokenTtlSeconds": 61,
        }
        assert stored["tokenTtlSeconds"] == 61

    @pytest.mark.parametrize(
        ("body", "errors"),
        [
            (
                {"rules": [{"endpoint": "plant/list", "kind": "error", "status": 200}]},
                [("rules[0].status", "must be an HTTP status 400..599")],
            ),
            (
                {"rules": [{"endpoint": "*", "kind": "error", "status": 600}]},
                [("rules[0].status", "must be an HTTP status 400..599")],
            ),
            (
                {"rules": [{"endpoint": "*", "kind": "drop"}, {"endpoint": "*", "kind": "error"}]},
                [("rules[1].status", "is required for kind error")],
            ),
            (
                {"rules": [{"endpoint": "token", "kind": "latency"}]},
                [("rules[0].latencyMs", "is required for kind latency")],
            ),
            (
                {"rules": [{"endpoint": "plant", "kind": "drop"}]},
                [
                    (
                        "rules[0].endpoint",
                        "Input should be 'token', 'plant/list', 'plant/config', "
                        "'plant/config/update' or '*'",
                    )
                ],
            ),
            (
                {"rules": [{"endpoint": "*", "kind": "timeout"}]},
                [("rules[0].kind", "Input should be 'error', 'latency' or 'drop'")],
            ),
            (
                {"rules": [{"endpoint": "*", "kind": "drop", "probability": 1.5}]},
                [("rules[0].probability", "Input should be less than or equal to 1")],
            ),
            (
                {"rules": [{"endpoint": "*", "kind": "drop", "count": -1}]},
                [("rules[0].count", "Input should be greater than or equal to 0")],
            ),
            (
                {"rules": [{"endpoint": "*", "kind": "error", "status": "503"}]},
                [("rules[0].status", "Input should be a valid integer")],
            ),
            (
                {"rules": [{"endpoint": "*", "kind": "latency", "latencyMs": -5}]},
                [("rules[0].latencyMs", "Input should be greater than or equal to 0")],
            ),
            (
                {"rules": [{"endpoint": "*", "kind": "drop", "when": "now"}]},
                [("rules[0].when", "Extra inputs are not permitted")],
            ),
            (
                {"tokenTtlSeconds": 0},
                [("tokenTtlSeconds", "Input should be greater than or equal to 1")],
            ),
            ({"rules": {}}, [("rules", "Input should be a valid list")]),
        ],
    )
    async def test_a_bad_body_is_400_at_the_field_and_changes_nothing(
        self, api: Api, org: EnabledOrg, body: dict[str, Any], errors: list[tuple[str, str]]
    ) -> None:
        response = await tool(api, "PUT", "faults", org.id, json=body)

        assert (response.status_code, response.json()) == (400, validation_error(*errors))
        assert (await tool(api, "GET", "faults", org.id)).json() == NO_FAULTS


class TestErrorFaults:
    async def test_answers_the_rules_status_with_the_envelope_on_its_endpoint_only(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        await put_faults(
            api, org.id, {"rules": [{"endpoint": "plant/list", "kind": "error", "status": 503}]}
        )

        faulted = await plant_list(api, token)
        config = await api.plant_config(token, org.default_plant_id)

        assert (faulted.status_code, faulted.json()) == (503, injected(503, "Service Unavailable"))
        assert config.status_code == 200
        assert [entry["status"] for entry in await journal(api, org.id)][:2] == [200, 503]

    async def test_a_status_without_a_standard_phrase_is_answered_too(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        await put_faults(
            api, org.id, {"rules": [{"endpoint": "*", "kind": "error", "status": 599}]}
        )

        response = await plant_list(api, token)

        assert response.status_code == 599
        assert response.json() == injected(599, "Server Error")

    async def test_on_the_token_endpoint_it_applies_once_the_client_id_is_known(
        self, api: Api, org: EnabledOrg
    ) -> None:
        await put_faults(
            api, org.id, {"rules": [{"endpoint": "token", "kind": "error", "status": 502}]}
        )
        unknown = {"clientId": "vesm-unknown", "clientSecret": "x"}

        faulted = await api.http.post(
            f"{TRADING}/token", json={"clientId": org.client_id, "clientSecret": org.client_secret}
        )
        not_an_orgs = await api.http.post(f"{TRADING}/token", json=unknown)

        assert (faulted.status_code, faulted.json()) == (
            502,
            injected(502, "Bad Gateway", endpoint="token"),
        )
        assert (not_an_orgs.status_code, not_an_orgs.json()) == (401, INVALID_CLIENT)

    async def test_wildcard_rule_applies_to_every_endpoint(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        await put_faults(
            api, org.id, {"rules": [{"endpoint": "*", "kind": "error", "status": 500}]}
        )

        statuses = [
            (await plant_list(api, token)).status_code,
            (await api.plant_config(token, org.default_plant_id)).status_code,
            (await api.update_config(token, org.default_plant_id, WHOLE_DAY)).status_code,
            (
                await api.http.post(
                    f"{TRADING}/token",
                    json={"clientId": org.client_id, "clientSecret": org.client_secret},
                )
            ).status_code,
        ]

        assert statuses == [500, 500, 500, 500]
        config = await tool(api, "GET", "snapshot", org.id)
        assert config.json()["plants"][0]["version"] == 1  # the faulted update changed nothing

    async def test_probability_zero_never_fires_and_one_always_does(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        await put_faults(
            api,
            org.id,
            {
                "rules": [
                    {"endpoint": "plant/list", "kind": "error", "status": 500, "probability": 0},
                    {"endpoint": "plant/config", "kind": "error", "status": 500, "probability": 1},
                ]
            },
        )

        lists = [(await plant_list(api, token)).status_code for _ in range(5)]
        configs = [
            (await api.plant_config(token, org.default_plant_id)).status_code for _ in range(5)
        ]

        assert lists == [200] * 5
        assert configs == [500] * 5

    async def test_count_bounds_the_rule_and_get_shows_what_is_left(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        await put_faults(
            api,
            org.id,
            {"rules": [{"endpoint": "plant/list", "kind": "error", "status": 503, "count": 2}]},
        )

        first = (await plant_list(api, token)).status_code
        left = (await tool(api, "GET", "faults", org.id)).json()["rules"][0]["count"]
        rest = [(await plant_list(api, token)).status_code for _ in range(3)]

        assert (first, left, rest) == (503, 1, [503, 200, 200])
        assert (await tool(api, "GET", "faults", org.id)).json()["rules"] == [
            rule("plant/list", "error", status=503, count=0)
        ]

    async def test_a_rule_with_count_zero_is_spent(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        await put_faults(api, org.id, {"rules": [{"endpoint": "*", "kind": "drop", "count": 0}]})

        assert (await plant_list(api, token)).status_code == 200

    async def test_the_first_error_that_fires_answers(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        await put_faults(
            api,
            org.id,
            {
                "rules": [
                    {"endpoint": "plant/list", "kind": "error", "status": 429, "count": 1},
                    {"endpoint": "*", "kind": "error", "status": 500, "count": 1},
                ]
            },
        )

        statuses = [(await plant_list(api, token)).status_code for _ in range(3)]

        assert statuses == [429, 500, 200]


class TestErrorFaultsAndTheRateLimit:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"voke_esm_rate_limit": "2/minute"}

    async def test_calls_answered_by_a_fault_do_not_count(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        await put_faults(
            api,
            org.id,
            {"rules": [{"endpoint": "plant/list", "kind": "error", "status": 503, "count": 3}]},
        )

        statuses = [(await plant_list(api, token)).status_code for _ in range(6)]

        assert statuses == [503, 503, 503, 200, 200, 429]


class TestLatencyFaults:
    async def test_waits_then_answers_normally(self, api: Api, org: EnabledOrg, token: str) -> None:
        await put_faults(
            api,
            org.id,
            {"rules": [{"endpoint": "plant/list", "kind": "latency", "latencyMs": 400}]},
        )

        started = time.monotonic()
        slow = await plant_list(api, token)
        slow_s = time.monotonic() - started
        started = time.monotonic()
        fast = await api.plant_config(token, org.default_plant_id)
        fast_s = time.monotonic() - started

        assert slow.status_code == 200
        assert [plant["plantId"] for plant in slow.json()] == [org.default_plant_id]
        assert slow_s >= 0.4
        assert fast.status_code == 200
        assert fast_s < 0.4
        (entry,) = [e for e in await journal(api, org.id) if e["path"].endswith("list")]
        assert entry["durationMs"] >= 400

    async def test_jitter_spreads_the_wait_around_the_latency(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        await put_faults(
            api,
            org.id,
            {
                "rules": [
                    {"endpoint": "plant/list", "kind": "latency", "latencyMs": 300, "jitterMs": 200}
                ]
            },
        )

        waits = []
        for _ in range(3):
            started = time.monotonic()
            assert (await plant_list(api, token)).status_code == 200
            waits.append(time.monotonic() - started)

        assert all(wait >= 0.1 for wait in waits)
        assert min(waits) < 0.5 + 0.3  # never the whole latency + jitter plus slack, every time


class TestDropFaults:
    async def test_the_real_server_closes_the_connection_without_an_answer(
        self, app: FastAPI, api: Api, org: EnabledOrg, token: str
    ) -> None:
        await put_faults(
            api, org.id, {"rules": [{"endpoint": "plant/list", "kind": "drop", "count": 1}]}
        )
        sock: socket.socket = bound_socket()
        try:
            async with serving(app, sock) as base_url, httpx.AsyncClient(base_url=base_url) as http:
                with pytest.raises(httpx.RemoteProtocolError, match="without sending"):
                    await http.get(f"{TRADING}/plant/list", headers=bearer(token))
                # The server lives on, and the next call (the rule is spent) is answered.
                again = await http.get(f"{TRADING}/plant/list", headers=bearer(token))
        finally:
            sock.close()

        assert again.status_code == 200
        assert [entry["status"] for entry in await journal(api, org.id)][:2] == [200, 0]


class TestTokenLifetime:
    async def test_token_ttl_sets_expires_in_and_the_jwt_exp(
        self, api: Api, org: EnabledOrg
    ) -> None:
        await put_faults(api, org.id, {"tokenTtlSeconds": 5})
        credentials = {"clientId": org.client_id, "clientSecret": org.client_secret}

        issued = await api.http.post(f"{TRADING}/token", json=credentials)
        form = await api.http.post(
            f"{TRADING}/token",
            data={
                "grant_type": "client_credentials",
                "client_id": org.client_id,
                "client_secret": org.client_secret,
            },
        )

        assert issued.json()["expiresIn"] == 5
        assert form.json()["expires_in"] == 5
        claims = jwt.decode(issued.json()["accessToken"], options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] == 5

    async def test_without_a_ttl_tokens_live_the_default_time(
        self, api: Api, org: EnabledOrg
    ) -> None:
        await put_faults(api, org.id, {"tokenTtlSeconds": 5})
        await tool(api, "DELETE", "faults", org.id)
        other = await api.enabled_org("Other")
        await put_faults(api, other.id, {"tokenTtlSeconds": 9})

        issued = await api.http.post(
            f"{TRADING}/token", json={"clientId": org.client_id, "clientSecret": org.client_secret}
        )

        assert issued.json()["expiresIn"] == 3600


# Snapshot, restore, reset -------------------------------------------------------------------------


def snapshot_plant(external_plant_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "externalPlantId": external_plant_id,
        "name": f"Site {external_plant_id}",
        "description": None,
        "fvePeakPowerKwp": 0.0,
        "capacityKwh": 0.0,
        "configEnabled": True,
        "plantWithLoad": True,
        "esiState": "PLC_READY",
        "version": 1,
        "timeConfigs": [],
        **SITE_DEFAULTS,
        "conditions": [],
        **fields,
    }


class TestSnapshot:
    async def test_holds_the_orgs_plants_ordered_with_configs_and_versions(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        await api.create_sandbox_plant(
            org.client_id, externalPlantId="A-1", name="Site A-1", timeConfigs=SEED_BLOCKS
        )
        await api.create_sandbox_plant(org.client_id, externalPlantId="ZZ-9", name="Site ZZ-9")
        await api.update_config(token, org.default_plant_id, WHOLE_DAY)
        other = await api.enabled_org("Other")  # not in Acme's snapshot

        response = await tool(api, "GET", "snapshot", org.id)

        assert response.status_code == 200
        assert response.json() == {
            "plants": [
                snapshot_plant("A-1", timeConfigs=SEED_BLOCKS),
                snapshot_plant(
                    org.default_plant_id,
                    name="Acme default plant",
                    description="Battery storage + PV (created when Voke ESM was enabled)",
                    fvePeakPowerKwp=120.0,
                    capacityKwh=200.0,
                    version=2,
                    timeConfigs=WHOLE_DAY,
                ),
                snapshot_plant("ZZ-9"),
            ]
        }
        assert other.default_plant_id not in response.text

    async def test_the_same_state_gives_the_same_bytes(self, api: Api, org: EnabledOrg) -> None:
        await api.create_sandbox_plant(org.client_id, externalPlantId="B-2", name="Site B-2")

        first = await tool(api, "GET", "snapshot", org.id)
        second = await tool(api, "GET", "snapshot", org.id)

        assert first.content == second.content

    async def test_restore_after_changes_gives_back_the_identical_document(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        kept = await api.create_sandbox_plant(
            org.client_id, externalPlantId="KEEP", name="Kept", timeConfigs=SEED_BLOCKS
        )
        await api.create_sandbox_plant(org.client_id, externalPlantId="GONE", name="Gone")
        await api.update_config(token, org.default_plant_id, WHOLE_DAY)
        before = await tool(api, "GET", "snapshot", org.id)

        # Change everything a snapshot holds: versions, schedules, fields, which plants exist.
        await api.update_config(token, org.default_plant_id, SEED_BLOCKS)
        await api.update_config(token, "KEEP", WHOLE_DAY, code="after-snapshot")
        await api.http.patch(
            f"{ADMIN}/plants/{kept['id']}",
            json={"name": "Renamed", "configEnabled": False},
            headers=api.headers,
        )
        (gone,) = [
            p for p in await api.sandbox_plants(orgId=org.id) if p["externalPlantId"] == "GONE"
        ]
        await api.http.delete(f"{ADMIN}/plants/{gone['id']}", headers=api.headers)
        await api.create_sandbox_plant(org.client_id, externalPlantId="NEW", name="New")
        assert (await tool(api, "GET", "snapshot", org.id)).content != before.content

        restored = await tool(
            api,
            "PUT",
            "snapshot",
            org.id,
            content=before.content,
            headers={"Content-Type": "application/json"},
        )

        assert restored.status_code == 200
        assert restored.content == before.content
        assert (await tool(api, "GET", "snapshot", org.id)).content == before.content
        # A plant that was kept keeps its id; the trading API sees the restored versions.
        assert kept["id"] in {p["id"] for p in await api.sandbox_plants(orgId=org.id)}
        config = (await api.plant_config(token, "KEEP")).json()
        assert (config["version"], config["timeConfigs"]) == (1, SEED_BLOCKS)
        # The answers remembered after the snapshot are gone with the state they belonged to.
        replay = await api.update_config(token, "KEEP", WHOLE_DAY, code="after-snapshot")
        assert (replay.json()["resultCode"], replay.json()["version"]) == ("applied_ok", 2)

    async def test_restore_into_an_org_creates_its_plants_under_its_client(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        document = {"plants": [snapshot_plant("P-1", version=7, timeConfigs=WHOLE_DAY)]}

        response = await tool(api, "PUT", "snapshot", org.id, json=document)

        assert (response.status_code, response.json()) == (200, document)
        listed = (await plant_list(api, token)).json()
        assert [plant["plantId"] for plant in listed] == ["P-1"]
        assert (await api.plant_config(token, "P-1")).json()["version"] == 7

    @pytest.mark.parametrize(
        ("document", "errors"),
        [
            (
                {"plants": [snapshot_plant("X"), snapshot_plant("X")]},
                [("plants[1].externalPlantId", "appears twice in the snapshot")],
            ),
            (
                {"plants": [snapshot_plant("X", timeConfigs=[{**WHOLE_DAY[0], "socMin": 95}])]},
                [("plants[0].timeConfigs[0].socMin", "must not exceed socMax")],
            ),
            (
                {"plants": [snapshot_plant("X", version=0)]},
                [("plants[0].version", "Input should be greater than or equal to 1")],
            ),
            (
                {"plants": [{k: v for k, v in snapshot_plant("X").items() if k != "name"}]},
                [("plants[0].name", "Field required")],
            ),
            ({"plants": [], "takenAt": "now"}, [("takenAt", "Extra inputs are not permitted")]),
        ],
    )
    async def test_a_bad_document_is_400_and_changes_nothing(
        self,
        api: Api,
        org: EnabledOrg,
        document: dict[str, Any],
        errors: list[tuple[str, str]],
    ) -> None:
        before = await tool(api, "GET", "snapshot", org.id)

        response = await tool(api, "PUT", "snapshot", org.id, json=document)

        assert (response.status_code, response.json()) == (400, validation_error(*errors))
        assert (await tool(api, "GET", "snapshot", org.id)).content == before.content

    async def test_a_plant_restored_at_2_to_the_31_minus_1_takes_further_versions(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        top = 2**31 - 1  # the largest 32-bit integer: versions once overflowed past it
        document = {"plants": [snapshot_plant("P-1", version=top, timeConfigs=SEED_BLOCKS)]}
        assert (await tool(api, "PUT", "snapshot", org.id, json=document)).status_code == 200

        applied = await api.update_config(token, "P-1", WHOLE_DAY)
        (plant,) = await api.sandbox_plants(orgId=org.id)
        patched = await api.http.patch(
            f"{ADMIN}/plants/{plant['id']}", json={"timeConfigs": SEED_BLOCKS}, headers=api.headers
        )

        assert (applied.status_code, applied.json()["version"]) == (200, top + 1)
        assert patched.status_code == 200, patched.text
        assert (await api.plant_config(token, "P-1")).json()["version"] == top + 2
        taken = await tool(api, "GET", "snapshot", org.id)
        assert (taken.status_code, taken.json()["plants"][0]["version"]) == (200, top + 2)

    async def test_a_version_beyond_64_bits_is_400_at_its_field(
        self, api: Api, org: EnabledOrg
    ) -> None:
        before = await tool(api, "GET", "snapshot", org.id)
        document = {"plants": [snapshot_plant("X", version=2**63)]}

        response = await tool(api, "PUT", "snapshot", org.id, json=document)

        assert (response.status_code, response.json()) == (
            400,
            validation_error(
                ("plants[0].version", "Input should be less than or equal to 9223372036854775807")
            ),
        )
        assert (await tool(api, "GET", "snapshot", org.id)).content == before.content

    async def test_a_plant_at_the_largest_version_takes_no_further_one_and_says_so(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        top = 2**63 - 1
        document = {"plants": [snapshot_plant("P-1", version=top, timeConfigs=SEED_BLOCKS)]}
        assert (await tool(api, "PUT", "snapshot", org.id, json=document)).status_code == 200
        (plant,) = await api.sandbox_plants(orgId=org.id)
        spent = (
            "the plant's config version is at its largest value:"
            " restore the plant at a lower version"
        )

        checked = await api.update_config(token, "P-1", WHOLE_DAY, validate_only=True)
        applied = await api.update_config(token, "P-1", WHOLE_DAY)
        patched = await api.http.patch(
            f"{ADMIN}/plants/{plant['id']}", json={"timeConfigs": WHOLE_DAY}, headers=api.headers
        )

        for answer in (checked, applied):
            assert answer.status_code == 200, answer.text
            assert (answer.json()["resultCode"], answer.json()["version"]) == ("cfg_rejected", top)
            assert answer.json()["errors"] == [{"field": "version", "message": spent}]
        assert (patched.status_code, patched.json()) == (
            400,
            validation_error(("timeConfigs", spent)),
        )
        assert (await tool(api, "GET", "snapshot", org.id)).json() == document

    async def test_restore_and_reset_leave_the_credentials_alone(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        await tool(api, "PUT", "snapshot", org.id, json={"plants": []})
        await tool(api, "POST", "reset", org.id)

        assert (await plant_list(api, token)).status_code == 200
        assert (await api.status(org.id))["clientId"] == org.client_id
        assert await api.trading_token(org.client_id, org.client_secret)


class TestReset:
    async def test_deletes_the_orgs_plants_and_creates_the_default_one(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        await api.create_sandbox_plant(org.client_id, externalPlantId="EXTRA")
        await api.update_config(token, org.default_plant_id, WHOLE_DAY)
        other = await api.enabled_org("Other")

        response = await tool(api, "POST", "reset", org.id)

        (plant,) = await api.sandbox_plants(orgId=org.id)
        assert (response.status_code, response.json()) == (
            200,
            {"message": f"Sandbox of Acme reset to its default plant {plant['externalPlantId']}"},
        )
        assert plant["externalPlantId"] != org.default_plant_id
        assert (plant["name"], plant["clientId"], plant["timeConfigs"]) == (
            "Acme default plant",
            org.client_id,
            SEED_BLOCKS,
        )
        assert (await api.plant_config(token, plant["externalPlantId"])).json()["version"] == 1
        assert len(await api.sandbox_plants(orgId=other.id)) == 1

    async def test_a_disabled_org_is_reset_under_its_kept_client_id(
        self, api: Api, org: EnabledOrg
    ) -> None:
        assert (await api.disable(org.id)).status_code == 200

        response = await tool(api, "POST", "reset", org.id)

        assert response.status_code == 200
        (plant,) = await api.sandbox_plants(orgId=org.id)
        assert plant["clientId"] == org.client_id

    async def test_an_org_never_enabled_has_no_client_for_its_plants(self, api: Api) -> None:
        org = await api.create_org()

        reset = await tool(api, "POST", "reset", org["id"])
        restore = await tool(
            api, "PUT", "snapshot", org["id"], json={"plants": [snapshot_plant("P-1")]}
        )

        assert (reset.status_code, reset.json()) == (409, NEVER_ENABLED)
        assert (restore.status_code, restore.json()) == (409, NEVER_ENABLED)


# Auth and org ids on every tool -------------------------------------------------------------------


class TestToolAccess:
    @pytest.mark.parametrize(("method", "name"), TOOL_ENDPOINTS)
    async def test_needs_a_superadmin(
        self, api: Api, org: EnabledOrg, token: str, method: str, name: str
    ) -> None:
        body = VALID_BODIES.get(name) if method == "PUT" else None
        org_admin = await org_admin_token(api, org.id)
        refusals = [
            ({}, 401, NO_TOKEN),
            (bearer("garbage"), 401, TOKEN_REFUSED),
            (bearer(token), 401, TOKEN_REFUSED),  # a trading token is never an admin's
            (bearer(org_admin), 403, NOT_SUPER_ADMIN),
        ]

        for headers, status, expected in refusals:
            response = await api.http.request(
                method, f"{ADMIN}/{name}", params={"orgId": org.id}, headers=headers, json=body
            )
            assert (response.status_code, response.json()) == (status, expected), headers

    @pytest.mark.parametrize(("method", "name"), TOOL_ENDPOINTS)
    async def test_org_id_must_be_a_uuid_of_an_org(self, api: Api, method: str, name: str) -> None:
        body = VALID_BODIES.get(name) if method == "PUT" else None
        cases = [
            ({"orgId": "not-a-uuid"}, 400, INVALID_UUID),
            ({"orgId": str(uuid.uuid4())}, 404, ORG_NOT_FOUND),
            ({}, 400, MISSING_ORG_ID),
        ]

        for params, status, expected in cases:
            response = await api.http.request(
                method, f"{ADMIN}/{name}", params=params, headers=api.headers, json=body
            )
            assert (response.status_code, response.json()) == (status, expected), params


# Metrics ------------------------------------------------------------------------------------------


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    metrics: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return metrics.get((name, frozenset(labels.items())), 0.0)


class TestMetrics:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"voke_esm_rate_limit": "2/minute"}

    async def test_count_what_happened(self, api: Api, org: EnabledOrg, token: str) -> None:
        route = f"{TRADING}/plant/list"
        for _ in range(3):  # the third is over the limit
            await plant_list(api, token)
        await plant_list(api, "not-a-jwt")
        await api.update_config(token, org.default_plant_id, WHOLE_DAY)
        await api.update_config(token, org.default_plant_id, [{**WHOLE_DAY[0], "socMin": 99}])
        await put_faults(
            api, org.id, {"rules": [{"endpoint": "plant/config", "kind": "error", "status": 503}]}
        )
        await api.plant_config(token, org.default_plant_id)

        response = await api.http.get("/metrics")  # no authentication

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain; version=")
        metrics = samples(response.text)
        requests = "voke_esm_http_requests_total"
        assert value(metrics, requests, method="GET", route=route, status="200") == 2
        assert value(metrics, requests, method="GET", route=route, status="429") == 1
        assert value(metrics, requests, method="GET", route=route, status="401") == 1
        assert value(metrics, requests, method="POST", route=f"{TRADING}/token", status="200") == 1
        assert value(metrics, requests, method="PUT", route=f"{ADMIN}/faults", status="200") == 1
        assert (
            value(
                metrics, "voke_esm_http_request_duration_seconds_count", method="GET", route=route
            )
            == 4
        )
        assert (
            value(
                metrics,
                "voke_esm_http_request_duration_seconds_bucket",
                method="GET",
                route=route,
                le="+Inf",
            )
            == 4
        )
        assert (
            value(metrics, "voke_esm_rate_limit_rejections_total", limit="trading/plant/list") == 1
        )
        assert value(metrics, "voke_esm_config_updates_total", result_code="applied_ok") == 1
        assert value(metrics, "voke_esm_config_updates_total", result_code="cfg_rejected") == 1
        assert (
            value(metrics, "voke_esm_injected_faults_total", endpoint="plant/config", kind="error")
            == 1
        )

    async def test_routes_are_labelled_by_their_template(
        self, app: FastAPI, api: Api, org: EnabledOrg
    ) -> None:
        plant = (await api.sandbox_plants(orgId=org.id))[0]
        await api.http.get(f"{ADMIN}/plants/{plant['id']}", headers=api.headers)
        await api.http.get(f"/nowhere/{uuid.uuid4()}")
        async with http_client(app, peer="10.0.0.5") as remote:
            await remote.get(f"{TRADING}/plant/list")

        metrics = samples((await api.http.get("/metrics")).text)

        requests = "voke_esm_http_requests_total"
        assert (
            value(metrics, requests, method="GET", route=f"{ADMIN}/plants/{{id}}", status="200")
            == 1
        )
        assert value(metrics, requests, method="GET", route="unmatched", status="404") == 1
        assert (
            value(metrics, requests, method="GET", route=f"{TRADING}/plant/list", status="403") == 1
        )
        assert not any(plant["id"] in str(labels) for _, labels in metrics)

    async def test_health_probes_need_no_authentication(self, api: Api) -> None:
        health = await api.http.get("/healthz")
        ready = await api.http.get("/readyz")

        assert (health.status_code, health.json()) == (200, {"message": "ok"})
        assert (ready.status_code, ready.json()) == (200, {"message": "ready"})
