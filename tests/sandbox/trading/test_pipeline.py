"""The one trading pipeline (voke_esm.sandbox.trading.pipeline): every trading call passes
loopback, authentication, fault rules, rate limit and journal in that order, and plant/list and
plant/config answer alike whether the trading gate or FastAPI's routes run them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import http_client
from tests.factories import Api, EnabledOrg, bearer
from voke_esm.app import app_services
from voke_esm.sandbox.trading.pipeline import TradingPipeline

TRADING = "/api/v1/voke-esm/trading"
ADMIN = "/api/v1/voke-esm/admin"

# plantId values the route's query model refuses, and the text check before it (NUL).
BAD_PLANT_IDS = [
    pytest.param(None, id="missing"),
    pytest.param("", id="empty"),
    pytest.param("P" * 121, id="121-chars"),
    pytest.param("PLANT\x00", id="nul"),
]


def pipeline_of(app: FastAPI) -> TradingPipeline:
    pipeline: TradingPipeline = app_services(app).trading_pipeline
    return pipeline


@pytest.fixture(params=["gate", "routes"])
def way(request: pytest.FixtureRequest, app: FastAPI) -> str:
    """Who answers plant/list and plant/config: the trading gate, or FastAPI's routes."""
    pipeline_of(app).fast_reads = request.param == "gate"
    return str(request.param)


async def plant_config(api: Api, token: str | None, plant_id: str | None) -> httpx.Response:
    params = {} if plant_id is None else {"plantId": plant_id}
    headers = bearer(token) if token is not None else {}
    return await api.http.get(f"{TRADING}/plant/config", params=params, headers=headers)


async def answers_both_ways(app: FastAPI, call: Any) -> tuple[httpx.Response, httpx.Response]:
    pipeline = pipeline_of(app)
    pipeline.fast_reads = True
    by_gate = await call()
    pipeline.fast_reads = False
    try:
        by_routes = await call()
    finally:
        pipeline.fast_reads = True
    return by_gate, by_routes


async def put_faults(api: Api, org_id: str, rules: list[dict[str, Any]]) -> None:
    response = await api.http.put(
        f"{ADMIN}/faults", params={"orgId": org_id}, json={"rules": rules}, headers=api.headers
    )
    assert response.status_code == 200, response.text


async def journal(api: Api, org_id: str) -> list[tuple[str, int, str | None]]:
    response = await api.http.get(f"{ADMIN}/journal", params={"orgId": org_id}, headers=api.headers)
    assert response.status_code == 200, response.text
    return [
        (entry["path"].removeprefix(TRADING + "/"), entry["status"], entry["plantId"])
        for entry in response.json()
    ]


class TestTheGateAndTheRoutesAnswerAlike:
    @pytest.mark.parametrize("plant_id", BAD_PLANT_IDS)
    @pytest.mark.parametrize("with_token", [True, False], ids=["token", "no-token"])
    async def test_a_refused_plant_id(
        self,
        app: FastAPI,
        api: Api,
        enabled: EnabledOrg,
        trading_token: str,
        plant_id: str | None,
        with_token: bool,
    ) -> None:
        token = trading_token if with_token else None

        by_gate, by_routes = await answers_both_ways(
            app, lambda: plant_config(api, token, plant_id)
        )

        assert by_gate.status_code in (400, 401)
        assert (by_gate.status_code, by_gate.json(), by_gate.headers.get("www-authenticate")) == (
            by_routes.status_code,
            by_routes.json(),
            by_routes.headers.get("www-authenticate"),
        )

    @pytest.mark.parametrize("plant_id", ["PLANT-NOPE", None], ids=["unknown", "the-default"])
    async def test_a_plant_config_and_the_list(
        self, app: FastAPI, api: Api, enabled: EnabledOrg, trading_token: str, plant_id: str | None
    ) -> None:
        wanted = plant_id or enabled.default_plant_id

        config = await answers_both_ways(app, lambda: plant_config(api, trading_token, wanted))
        listed = await answers_both_ways(
            app, lambda: api.http.get(f"{TRADING}/plant/list", headers=bearer(trading_token))
        )

        for by_gate, by_routes in (config, listed):
            assert (by_gate.status_code, by_gate.content) == (
                by_routes.status_code,
                by_routes.content,
            )

    async def test_with_fast_reads_off_the_routes_answer(
        self, app: FastAPI, api: Api, enabled: EnabledOrg, trading_token: str
    ) -> None:
        pipeline = pipeline_of(app)
        answered: list[str] = []
        answer_read = pipeline.answer_read

        async def counted(request: Any, endpoint: str) -> Any:
            answered.append(endpoint)
            return await answer_read(request, endpoint)

        pipeline.answer_read = counted  # type: ignore[method-assign]  # a spy on this instance
        await answers_both_ways(
            app, lambda: plant_config(api, trading_token, enabled.default_plant_id)
        )

        assert answered == ["plant/config"]  # the gate's once; the routes' run without it


class TestOneOrder:
    """loopback, authentication, fault rules, rate limit, journal: on every endpoint."""

    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"voke_esm_rate_limit": "2/minute"}

    async def test_loopback_comes_before_authentication(
        self, app: FastAPI, way: str, enabled: EnabledOrg
    ) -> None:
        async with http_client(app, peer="10.0.0.5") as remote:
            refused = await remote.get(f"{TRADING}/plant/config")  # no token, no plantId

        assert (refused.status_code, refused.json()["code"]) == (403, "LOOPBACK_ONLY")

    async def test_authentication_comes_before_the_fault_rules(
        self, api: Api, way: str, enabled: EnabledOrg
    ) -> None:
        await put_faults(api, enabled.id, [{"endpoint": "*", "kind": "error", "status": 503}])

        refused = await plant_config(api, "not-a-jwt", enabled.default_plant_id)

        assert refused.status_code == 401

    async def test_a_fault_rule_on_token_fires_before_the_rate_limit(
        self, api: Api, enabled: EnabledOrg
    ) -> None:
        await put_faults(
            api, enabled.id, [{"endpoint": "token", "kind": "error", "status": 503, "count": 3}]
        )
        body = {"clientId": enabled.client_id, "clientSecret": enabled.client_secret}

        statuses = [
            (await api.http.post(f"{TRADING}/token", json=body)).status_code for _ in range(6)
        ]

        assert statuses == [503, 503, 503, 200, 200, 429]

    async def test_fault_rules_and_the_limit_come_before_the_query_is_refused(
        self, api: Api, way: str, enabled: EnabledOrg, trading_token: str
    ) -> None:
        """A refused plantId is answered after the guard, as FastAPI answers a query after the
        route's dependencies: a fault answers first, and the refused call counts."""
        await put_faults(
            api,
            enabled.id,
            [{"endpoint": "plant/config", "kind": "error", "status": 502, "count": 1}],
        )

        statuses = [
            (await plant_config(api, trading_token, plant_id)).status_code
            for plant_id in ("", "", enabled.default_plant_id, enabled.default_plant_id)
        ]

        # The token fixture's exchange counts for `token` only: each endpoint has its own limit.
        assert statuses == [502, 400, 200, 429]

    async def test_text_no_database_stores_is_refused_before_authentication(
        self, api: Api, way: str, enabled: EnabledOrg
    ) -> None:
        refused = await plant_config(api, None, "PLANT\x00")

        assert refused.status_code == 400

    async def test_a_429_is_journaled_under_its_org_with_its_plant(
        self, api: Api, way: str, enabled: EnabledOrg, trading_token: str
    ) -> None:
        plant = enabled.default_plant_id
        statuses = [(await plant_config(api, trading_token, plant)).status_code for _ in range(3)]

        assert statuses == [200, 200, 429]
        # Authentication tied the call to its org before the limit refused it.
        assert (await journal(api, enabled.id))[:3] == [
            ("plant/config", 429, plant),
            ("plant/config", 200, plant),
            ("plant/config", 200, plant),
        ]

    async def test_a_refused_plant_id_is_journaled_without_it(
        self, api: Api, way: str, enabled: EnabledOrg, trading_token: str
    ) -> None:
        assert (await plant_config(api, trading_token, "P" * 121)).status_code == 400
        assert (await plant_config(api, trading_token, "PLANT-NOPE")).status_code == 404

        assert (await journal(api, enabled.id))[:2] == [
            ("plant/config", 404, "PLANT-NOPE"),
            ("plant/config", 400, None),
        ]
