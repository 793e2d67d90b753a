"""Hypothesis-generated inputs for the admin and trading endpoints (CONTRACT §2, §4, §6, §11).

Each input is valid, valid with one thing broken (a field missing, of the wrong JSON type, too
long, empty, negative, not finite, unknown, a block breaking a §5 rule, a clientId of no org, a
taken externalPlantId), or any JSON at all. The answer must be the contract's for that input,
exactly: its status and envelope, the broken field named. A refused request stores nothing; an
accepted one stores what it answered. config/update has its own in
tests/contract/test_time_configs.py.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.contract.test_time_configs import (
    JSON_VALUES,
    schedules_with_one_broken_rule,
    valid_schedules,
)
from tests.factories import Api, EnabledOrg, error_body

ADMIN = "/api/v1/voke-esm/admin"
TRADING = "/api/v1/voke-esm/trading"
INVALID_UUID = error_body(400, "INVALID_UUID", "Invalid UUID")
VALIDATION_MESSAGES = {"Validation error", "Validation error or unbound clientId"}

GENERATED = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text any database stores (NUL and lone surrogates have their own tests in test_errors.py).
TEXT = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
SHORT_TEXT = st.text(TEXT, min_size=1, max_size=12)
QUANTITY = st.integers(0, 10**6) | st.floats(0, 1e6, allow_nan=False, allow_infinity=False)
NOT_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])
WRONG_TYPE = {
    "text": st.sampled_from([0, 1.5, True, [], {}, ["a"], {"a": 1}]),
    "quantity": st.sampled_from(["1", "", True, False, [], {}, [1]]),
    "bool": st.sampled_from([0, 1, "true", "", 0.0, [], {}]),
    "blocks": st.sampled_from(["", "[]", 0, {}, True, {"from": "00:00"}]),
}


@dataclass(frozen=True)
class Field:
    kind: str  # text, quantity, bool, blocks
    max_length: int | None = None
    required: bool = False
    nullable: bool = False


PLANT_FIELDS = {
    "clientId": Field("text", 120, required=True),
    "externalPlantId": Field("text", 120, required=True),
    "name": Field("text", 255, required=True),
    "description": Field("text", 10_000, nullable=True),
    "fvePeakPowerKwp": Field("quantity"),
    "capacityKwh": Field("quantity"),
    "configEnabled": Field("bool"),
    "plantWithLoad": Field("bool"),
    "esiState": Field("text", 64),
    "timeConfigs": Field("blocks"),
}
PATCHABLE = {
    name: Field(field.kind, field.max_length, nullable=field.nullable)
    for name, field in PLANT_FIELDS.items()
    if name not in ("clientId", "externalPlantId")
}


@dataclass(frozen=True)
class Case:
    """A body and what the contract answers to it: `status`, and for a 400 the field named."""

    body: Any
    status: int | None  # None: any JSON; 400 or a success, which the test then checks
    field: str | None = None
    broken: str = "valid"


def field_value(field: Field) -> st.SearchStrategy[Any]:
    match field.kind:
        case "text":
            text = st.text(TEXT, min_size=1, max_size=12)
            return text | st.none() if field.nullable else text
        case "quantity":
            return QUANTITY
        case "bool":
            return st.booleans()
        case _:
            return valid_schedules(max_blocks=3)


@st.composite
def valid_bodies(
    draw: st.DrawFn, fields: dict[str, Field], fixed: dict[str, Any]
) -> dict[str, Any]:
    body = dict(fixed)
    for name, field in fields.items():
        if name not in body and (field.required or draw(st.booleans())):
            body[name] = draw(field_value(field))
    return body


@st.composite
def broken_bodies(draw: st.DrawFn, fields: dict[str, Field], fixed: dict[str, Any]) -> Case:
    """A valid body with exactly one thing wrong with it; a 400 naming that field."""
    body = draw(valid_bodies(fields, fixed))
    name = draw(st.sampled_from(sorted(fields)))
    field = fields[name]
    ways = ["wrong type", "unknown field"]
    ways += ["missing"] if field.required else []
    ways += ["null"] if not field.nullable else []
    ways += ["empty", "too long"] if field.kind == "text" and name != "description" else []
    ways += ["too long"] if name == "description" else []
    ways += ["negative", "not finite"] if field.kind == "quantity" else []
    ways += ["broken block"] if field.kind == "blocks" else []
    way = draw(st.sampled_from(ways))
    match way:
        case "wrong type":
            body[name] = draw(WRONG_TYPE[field.kind])
        case "unknown field":
            name = draw(st.sampled_from(["unknownField", "plantId", "id", "meters"]))
            body[name] = draw(JSON_VALUES)
        case "missing":
            body.pop(name)
        case "null":
            body[name] = None
        case "empty":
            body[name] = ""
        case "too long":
            assert field.max_length is not None
            body[name] = "x" * (field.max_length + draw(st.integers(1, 5)))
        case "negative":
            body[name] = -draw(st.floats(1e-6, 1e6) | st.integers(1, 10**6))
        case "not finite":
            body[name] = draw(NOT_FINITE)
        case "broken block":
            body[name], name = draw(schedules_with_one_broken_rule())
    return Case(body, 400, name, way)


def any_json() -> st.SearchStrategy[Case]:
    return JSON_VALUES.map(lambda value: Case(value, None, broken="any JSON"))


async def send_json(api: Api, method: str, url: str, body: Any) -> httpx.Response:
    # json.dumps writes NaN and Infinity, which Python servers parse: they must not slip by.
    return await api.http.request(
        method,
        url,
        content=json.dumps(body),
        headers={**api.headers, "Content-Type": "application/json"},
    )


def assert_refused(response: httpx.Response, case: Case, oauth2_error: str | None = None) -> None:
    """The 400 envelope, exactly, naming the broken field; with `oauth2_error`, as an OAuth2
    form request gets it (CONTRACT §6)."""
    answer = response.json()
    assert response.status_code == 400, (case, answer)
    problems = answer["details"].get("errors")
    assert problems, answer
    assert answer["message"] in VALIDATION_MESSAGES, answer
    expected = error_body(400, "VALIDATION_ERROR", answer["message"], {"errors": problems})
    if oauth2_error is not None:
        expected |= {"error": oauth2_error, "error_description": answer["message"]}
    assert answer == expected
    if case.field is not None:
        assert case.field in [problem["field"] for problem in problems], (case, problems)


@pytest.fixture
async def org(api: Api) -> EnabledOrg:
    return await api.enabled_org()


class TestCreatePlant:
    @GENERATED
    @given(data=st.data())
    async def test_answers_its_contract_status_and_stores_only_what_it_created(
        self, api: Api, org: EnabledOrg, data: st.DataObject
    ) -> None:
        fixed = {"clientId": org.client_id, "externalPlantId": f"HYP-{uuid.uuid4().hex[:12]}"}
        case = data.draw(
            valid_bodies(PLANT_FIELDS, fixed).map(lambda body: Case(body, 201))
            | broken_bodies(PLANT_FIELDS, fixed)
            | st.just(Case({**fixed, "name": "x", "clientId": "vesm-of-no-org"}, 400, "clientId"))
            | st.just(Case({**fixed, "name": "x", "externalPlantId": org.default_plant_id}, 409))
            | any_json()
        )
        event(case.broken)
        before = await api.sandbox_plants(orgId=org.id)

        response = await send_json(api, "POST", f"{ADMIN}/plants", case.body)
        after = await api.sandbox_plants(orgId=org.id)

        if case.status == 201:
            created = response.json()
            assert response.status_code == 201, (case, created)
            assert {name: created[name] for name in case.body} == case.body
            assert after == [*before, created]
        elif case.status == 409:
            taken = "externalPlantId is already used by another plant of this clientId"
            assert response.json() == error_body(
                409, "CONFLICT", taken, {"errors": [{"field": "externalPlantId", "message": taken}]}
            )
            assert after == before
        else:
            assert_refused(response, case)
            assert after == before

    @pytest.mark.parametrize(
        "quantity", [1.3176204374758527, 0.1, 123456.78901234567, 5e-324, 1e15 + 0.5]
    )
    async def test_the_list_shows_a_plant_exactly_as_created(
        self, api: Api, org: EnabledOrg, quantity: float
    ) -> None:
        created = await api.create_sandbox_plant(
            org.client_id, capacityKwh=quantity, fvePeakPowerKwp=quantity
        )

        listed = await api.sandbox_plants(clientId=org.client_id)

        assert listed[-1] == created
        assert (listed[-1]["capacityKwh"], listed[-1]["fvePeakPowerKwp"]) == (quantity, quantity)


class TestPatchPlant:
    @GENERATED
    @given(data=st.data())
    async def test_answers_its_contract_status_and_stores_exactly_what_it_answered(
        self, api: Api, org: EnabledOrg, data: st.DataObject
    ) -> None:
        listed = (await api.sandbox_plants(orgId=org.id))[0]
        url = f"{ADMIN}/plants/{listed['id']}"
        plant = (await api.http.get(url, headers=api.headers)).json()
        token = await api.trading_token(org.client_id, org.client_secret)
        case = data.draw(
            valid_bodies(PATCHABLE, {}).map(lambda body: Case(body, 200))
            | broken_bodies(PATCHABLE, {})
            | any_json()
        )
        event(case.broken)
        version = (await api.plant_config(token, org.default_plant_id)).json()["version"]

        response = await send_json(api, "PATCH", url, case.body)
        stored = (await api.http.get(url, headers=api.headers)).json()
        version_after = (await api.plant_config(token, org.default_plant_id)).json()["version"]

        if case.status is None and response.status_code == 200:
            case = Case(case.body, 200)  # any JSON that happens to be a valid PATCH, such as {}
        if case.status == 200:
            answer = response.json()
            assert response.status_code == 200, (case, answer)
            assert {name: answer[name] for name in case.body} == case.body
            assert stored == answer
            assert {k: v for k, v in answer.items() if k not in (*case.body, "updatedAt")} == {
                k: v for k, v in plant.items() if k not in (*case.body, "updatedAt")
            }
            # A PATCH carrying timeConfigs other than the stored ones is a new config version;
            # the same blocks again (numerically equal, keys in any order) are not (§4, amended).
            new_blocks = case.body.get("timeConfigs", plant["timeConfigs"]) != plant["timeConfigs"]
            assert version_after == version + new_blocks
        else:
            assert_refused(response, case)
            assert (stored, version_after) == (plant, version)


def token_cases(org: EnabledOrg) -> st.SearchStrategy[Case]:
    good = {"clientId": org.client_id, "clientSecret": org.client_secret}
    fields = {
        "clientId": Field("text", 120, required=True),
        "clientSecret": Field("text", 512, required=True),
    }
    return (
        st.just(Case(good, 200))
        # Unknown fields are ignored, as a partner API would (trading/schemas.py TokenRequest).
        | st.dictionaries(st.sampled_from(["scope", "grant_type", "extra"]), JSON_VALUES).map(
            lambda extra: Case({**extra, **good}, 200)
        )
        | SHORT_TEXT.map(lambda secret: Case({**good, "clientSecret": secret + "!"}, 401))
        | SHORT_TEXT.map(lambda client: Case({**good, "clientId": "no-" + client}, 401))
        | broken_bodies(fields, good).filter(lambda case: case.broken != "unknown field")
        | any_json()
    )


def contract_answer_to_any_json(body: Any) -> int:
    """A token body of no known shape: 401 if it names a client and a secret, else 400."""
    if not isinstance(body, dict):
        return 400
    client, secret = body.get("clientId"), body.get("clientSecret")
    if isinstance(client, str) and isinstance(secret, str):
        return 401 if 1 <= len(client) <= 120 and 1 <= len(secret) <= 512 else 400
    return 400


class TestTokenExchange:
    @GENERATED
    @given(data=st.data())
    async def test_json_bodies(self, api: Api, org: EnabledOrg, data: st.DataObject) -> None:
        case = data.draw(token_cases(org))

        response = await api.http.post(
            f"{TRADING}/token",
            content=json.dumps(case.body),
            headers={"Content-Type": "application/json"},
        )

        status = case.status or contract_answer_to_any_json(case.body)
        event(f"{case.broken}: {status}")
        if status == 200:
            assert response.status_code == 200, (case, response.text)
            assert set(response.json()) == {"accessToken", "tokenType", "expiresIn"}
        elif status == 401:
            assert (response.status_code, response.json()) == (
                401,
                error_body(401, "INVALID_CLIENT", "Invalid client credentials"),
            ), case
        else:
            assert_refused(response, case)

    @GENERATED
    @given(
        grant=st.sampled_from(["client_credentials", "password", "", None]),
        right_id=st.booleans(),
        right_secret=st.booleans(),
        client=st.text(TEXT, max_size=130) | st.none(),
        secret=st.text(TEXT, max_size=20) | st.none(),
    )
    async def test_oauth2_form_bodies(
        self,
        api: Api,
        org: EnabledOrg,
        grant: str | None,
        right_id: bool,
        right_secret: bool,
        client: str | None,
        secret: str | None,
    ) -> None:
        form = {
            "grant_type": grant,
            "client_id": org.client_id if right_id else client,
            "client_secret": org.client_secret if right_secret else secret,
        }
        sent = {name: value for name, value in form.items() if value is not None}

        response = await api.http.post(f"{TRADING}/token", data=sent)

        well_formed = (
            sent.get("grant_type") == "client_credentials"
            and 1 <= len(sent.get("client_id", "")) <= 120
            and 1 <= len(sent.get("client_secret", "")) <= 512
        )
        if well_formed and right_id and right_secret:
            assert response.status_code == 200, response.text
            assert set(response.json()) == {"access_token", "token_type", "expires_in"}
        elif well_formed:
            refused = error_body(401, "INVALID_CLIENT", "Invalid client credentials")
            assert (response.status_code, response.json()) == (
                401,
                {**refused, "error": "invalid_client", "error_description": refused["message"]},
            )
        elif not sent:
            # httpx sends an empty form as no body and no Content-Type: not a form request, so
            # the answer is §2's envelope as for any body-less request (§6 amended).
            assert response.request.headers.get("content-type") is None
            assert_refused(response, Case(sent, 400))
        else:
            # RFC 6749 §5.2, §3.1: only a grant type actually named can be unsupported.
            named = sent.get("grant_type") not in (None, "", "client_credentials")
            error = "unsupported_grant_type" if named else "invalid_request"
            assert_refused(response, Case(sent, 400), error)


class TestPlantConfigQuery:
    @GENERATED
    @given(data=st.data())
    async def test_any_plant_id_is_200_404_or_400(
        self, api: Api, org: EnabledOrg, data: st.DataObject
    ) -> None:
        other = await api.enabled_org()
        token = await api.trading_token(org.client_id, org.client_secret)
        plant_id = data.draw(
            st.sampled_from([org.default_plant_id, other.default_plant_id, "", "x" * 121])
            | st.text(TEXT, max_size=130)
        )

        response = await api.plant_config(token, plant_id)

        if plant_id == org.default_plant_id:
            assert response.status_code == 200
        elif 1 <= len(plant_id) <= 120:
            # Another client's plant is as absent as a missing one (§6).
            assert (response.status_code, response.json()) == (
                404,
                error_body(404, "NOT_FOUND", "Voke ESM plant not found"),
            ), plant_id
        else:
            assert_refused(response, Case(plant_id, 400, "plantId"))


# Every admin operation that takes an org in its query, with a body it would accept.
ORG_OPERATIONS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/enable", None),
    ("POST", "/disable", None),
    ("GET", "/status", None),
    ("GET", "/journal", None),
    ("DELETE", "/journal", None),
    ("GET", "/faults", None),
    ("PUT", "/faults", {"rules": []}),
    ("DELETE", "/faults", None),
    ("GET", "/snapshot", None),
    ("PUT", "/snapshot", {"plants": []}),
    ("POST", "/reset", None),
    ("GET", "/clock", None),
    ("POST", "/clock/advance", {"minutes": 5}),
]


async def org_state(api: Api, org: EnabledOrg) -> list[Any]:
    """What an admin operation on another org must leave alone."""
    return [
        await api.status(org.id),
        (
            await api.http.get(f"{ADMIN}/snapshot", params={"orgId": org.id}, headers=api.headers)
        ).json(),
        (
            await api.http.get(f"{ADMIN}/faults", params={"orgId": org.id}, headers=api.headers)
        ).json(),
    ]


class TestOrgIdQuery:
    @pytest.mark.parametrize(("method", "path", "body"), ORG_OPERATIONS)
    @settings(GENERATED, max_examples=8)  # 13 operations: enough inputs in all
    @given(org_id=st.text(TEXT, max_size=40) | st.uuids().map(str))
    async def test_not_a_uuid_is_400_no_such_org_is_404_and_nothing_changes(
        self, api: Api, org: EnabledOrg, method: str, path: str, body: Any, org_id: str
    ) -> None:
        before = await org_state(api, org)

        response = await api.http.request(
            method, ADMIN + path, params={"orgId": org_id}, json=body, headers=api.headers
        )

        try:
            uuid.UUID(org_id)
        except ValueError:  # the empty text too: a value that is not a UUID, not a missing one
            assert (response.status_code, response.json()) == (400, INVALID_UUID), org_id
        else:
            assert (response.status_code, response.json()) == (
                404,
                error_body(404, "NOT_FOUND", "Organization not found"),
            )
        assert await org_state(api, org) == before


class TestFaults:
    @GENERATED
    @given(data=st.data())
    async def test_put_stores_what_it_answers_and_a_refusal_changes_nothing(
        self, api: Api, org: EnabledOrg, data: st.DataObject
    ) -> None:
        rule = st.fixed_dictionaries(
            {
                "endpoint": st.sampled_from(["token", "plant/list", "*", "plant", 1]),
                "kind": st.sampled_from(["error", "latency", "drop", "crash"]),
            },
            optional={
                "status": st.integers(300, 600) | JSON_VALUES,
                "latencyMs": st.integers(-1, 10**6) | NOT_FINITE | JSON_VALUES,
                "jitterMs": st.integers(0, 100),
                "probability": st.floats(-0.5, 1.5) | NOT_FINITE,
                "count": st.integers(-1, 3) | st.none(),
                "unknownField": JSON_VALUES,
            },
        )
        body = data.draw(
            st.fixed_dictionaries(
                {"rules": st.lists(rule, max_size=3)},
                optional={
                    "tokenTtlSeconds": st.integers(-1, 100_000) | st.none() | JSON_VALUES,
                    "rateLimit": st.sampled_from(["10/minute", "1/second", "ten", ""])
                    | st.none()
                    | JSON_VALUES,
                },
            )
            | JSON_VALUES
        )
        url, params = f"{ADMIN}/faults", {"orgId": org.id}
        before = (await api.http.get(url, params=params, headers=api.headers)).json()

        response = await api.http.put(
            url,
            params=params,
            content=json.dumps(body),
            headers={**api.headers, "Content-Type": "application/json"},
        )
        after = (await api.http.get(url, params=params, headers=api.headers)).json()
        event(str(response.status_code))

        if response.status_code == 200:
            assert after == response.json()
        else:
            assert_refused(response, Case(body, 400))
            assert after == before


class TestSnapshotRestore:
    @GENERATED
    @given(data=st.data())
    async def test_put_stores_what_it_answers_and_a_refusal_changes_nothing(
        self, api: Api, org: EnabledOrg, data: st.DataObject
    ) -> None:
        url, params = f"{ADMIN}/snapshot", {"orgId": org.id}
        before = (await api.http.get(url, params=params, headers=api.headers)).json()
        fields = {
            "externalPlantId": Field("text", 120, required=True),
            "name": Field("text", 255, required=True),
            "timeConfigs": Field("blocks", required=True),
            "configEnabled": Field("bool", required=True),
            "capacityKwh": Field("quantity", required=True),
        }
        plant = before["plants"][0]
        case = data.draw(
            st.just(Case(before, 200))
            | broken_bodies(fields, plant).map(
                lambda c: Case({"plants": [c.body]}, 400, f"plants[0].{c.field}", c.broken)
            )
            | any_json()
        )

        response = await api.http.put(
            url,
            params=params,
            content=json.dumps(case.body),
            headers={**api.headers, "Content-Type": "application/json"},
        )
        after = (await api.http.get(url, params=params, headers=api.headers)).json()

        event(f"{case.broken}: {response.status_code}")
        if case.status == 200 or (case.status is None and response.status_code == 200):
            assert response.status_code == 200, response.text
            assert after == response.json()
        else:
            assert_refused(response, case)
            assert after == before


class TestClockAdvance:
    @GENERATED
    @given(
        minutes=st.integers(-10, 10**7) | st.floats(allow_nan=True) | JSON_VALUES,
        extra=st.none() | st.just({"unknownField": 1}),
    )
    async def test_moves_the_clock_by_what_it_answers_or_not_at_all(
        self, api: Api, org: EnabledOrg, minutes: Any, extra: dict[str, Any] | None
    ) -> None:
        params = {"orgId": org.id}
        before = (await api.http.get(f"{ADMIN}/clock", params=params, headers=api.headers)).json()

        response = await api.http.post(
            f"{ADMIN}/clock/advance",
            params=params,
            content=json.dumps({"minutes": minutes, **(extra or {})}),
            headers={**api.headers, "Content-Type": "application/json"},
        )
        after = (await api.http.get(f"{ADMIN}/clock", params=params, headers=api.headers)).json()

        if response.status_code == 200:
            assert extra is None
            assert after["offsetMinutes"] == response.json()["offsetMinutes"]
            assert after["offsetMinutes"] == pytest.approx(before["offsetMinutes"] + minutes)
        else:
            assert_refused(response, Case(minutes, 400))
            assert after["offsetMinutes"] == before["offsetMinutes"]
