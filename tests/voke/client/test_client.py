"""Voke's EsmClient (CONTRACT §7) over real TCP: against the live sandbox, and against partner
ESMs of the test's own that fail in the ways a real one does."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tests.factories import SEED_BLOCKS, WHOLE_DAY, Api, EnabledOrg
from tests.live import (
    RecordingTransport,
    bound_socket,
    live_settings,
    serving,
)
from voke_esm.contract.time_configs import TimeConfigJson
from voke_esm.voke.client.http import (
    EsmAuthFailed,
    EsmClient,
    EsmProtocolError,
    EsmRateLimited,
    EsmRequestRefused,
    EsmUnavailable,
    RetryPolicy,
    Timeouts,
)

# Short waits, so that a test of retries takes milliseconds rather than the default backoff.
QUICK_RETRY = RetryPolicy(
    attempts=3, wait_initial=0.01, wait_max=0.05, wait_jitter=0, max_retry_after=5, total_timeout=10
)

# The shared schedule as Voke's client takes it (its blocks' stored shape).
SCHEDULE = cast(list[TimeConfigJson], WHOLE_DAY)


def client_of(org: EnabledOrg, **kwargs: Any) -> EsmClient:
    return EsmClient(org.esm_api_url, org.client_id, org.client_secret, **kwargs)


async def sandbox_plant(api: Api, org: EnabledOrg) -> dict[str, Any]:
    (plant,) = await api.sandbox_plants(clientId=org.client_id)
    return plant


@pytest.fixture
async def org(api: Api, live_sandbox: str, sandbox_url: str) -> EnabledOrg:
    enabled = await api.enabled_org()
    assert enabled.esm_api_url == sandbox_url
    return enabled


# The live sandbox ------------------------------------------------------------------------------


class TestAgainstTheSandbox:
    async def test_list_returns_the_clients_plants(self, api: Api, org: EnabledOrg) -> None:
        plant = await sandbox_plant(api, org)

        async with aclosing(client_of(org)) as client:
            listed = await client.list_plants()

        assert [item.model_dump(by_alias=True) for item in listed] == [
            {
                "plantId": org.default_plant_id,
                "name": plant["name"],
                "descr": plant["description"],
                "fvePeakPowerKwp": plant["fvePeakPowerKwp"],
                "capacityKwh": plant["capacityKwh"],
                "esiState": "PLC_READY",
                "configEnabled": True,
                "plantWithLoad": True,
                "meters": [],
            }
        ]

    async def test_config_returns_version_and_blocks(self, org: EnabledOrg) -> None:
        async with aclosing(client_of(org)) as client:
            config = await client.get_config(org.default_plant_id)

        assert config.model_dump(by_alias=True) == {
            "plantId": org.default_plant_id,
            "version": 1,
            "configEnabled": True,
            "esiState": "PLC_READY",
            "timeConfigs": SEED_BLOCKS,
        }

    async def test_update_applies_a_new_version(self, org: EnabledOrg) -> None:
        async with aclosing(client_of(org)) as client:
            answer = await client.update_config(
                org.default_plant_id, SCHEDULE, config_update_req_code="req-client-1"
            )
            config = await client.get_config(org.default_plant_id)

        assert answer.model_dump(by_alias=True) == {
            "plantId": org.default_plant_id,
            "configUpdateReqCode": "req-client-1",
            "resultCode": "applied_ok",
            "version": 2,
            "errors": [],
        }
        assert (config.version, config.model_dump(by_alias=True)["timeConfigs"]) == (2, WHOLE_DAY)

    async def test_validate_only_update_is_accepted_and_not_stored(self, org: EnabledOrg) -> None:
        async with aclosing(client_of(org)) as client:
            answer = await client.update_config(org.default_plant_id, SCHEDULE, validate_only=True)
            config = await client.get_config(org.default_plant_id)

        assert (answer.result_code, answer.version, answer.errors) == ("cfg_accepted", 1, [])
        assert answer.config_update_req_code  # the client makes one up when none is given
        assert (config.version, config.model_dump(by_alias=True)["timeConfigs"]) == (1, SEED_BLOCKS)

    async def test_a_rejected_schedule_is_an_answer_not_an_exception(self, org: EnabledOrg) -> None:
        backwards: list[TimeConfigJson] = [{**SCHEDULE[0], "from": "08:00", "to": "07:00"}]

        async with aclosing(client_of(org)) as client:
            answer = await client.update_config(org.default_plant_id, backwards)

        assert answer.result_code == "cfg_rejected"
        assert [error.model_dump() for error in answer.errors] == [
            {"field": "timeConfigs[0].to", "message": "must be later than from"}
        ]
        assert answer.version == 1

    async def test_a_plant_of_no_client_is_refused_with_the_sandboxs_404(
        self, org: EnabledOrg
    ) -> None:
        async with aclosing(client_of(org)) as client:
            with pytest.raises(EsmRequestRefused) as refused:
                await client.get_config("PLANT-NOBODY")

        assert (refused.value.status, refused.value.code) == (404, "NOT_FOUND")
        assert str(refused.value) == "ESM answered 404 NOT_FOUND: Voke ESM plant not found"

    async def test_a_wrong_secret_fails_authentication(self, org: EnabledOrg) -> None:
        client = EsmClient(org.esm_api_url, org.client_id, "not-the-secret")
        async with aclosing(client):
            with pytest.raises(EsmAuthFailed) as failed:
                await client.list_plants()

        assert str(failed.value) == "the ESM refused the client credentials (401)"


class TestTokenReuse:
    @pytest.fixture
    def settings_overrides(self, sandbox_url: str) -> dict[str, Any]:
        return live_settings(sandbox_url, voke_esm_rate_limit="3/minute")

    async def test_one_token_serves_every_call(self, org: EnabledOrg) -> None:
        transport = RecordingTransport()
        # Any 429 fails at once: a client fetching a token per call would trip "3/minute".
        no_waiting = RetryPolicy(max_retry_after=0.5)

        async with aclosing(client_of(org, transport=transport, retry=no_waiting)) as client:
            first = await client.token()
            for _ in range(3):
                await client.list_plants()
                await client.get_config(org.default_plant_id)
            assert await client.token() == first

            with pytest.raises(EsmRateLimited):  # the sandbox's limit is really in force
                await client.list_plants()

        assert transport.to("/trading/token") == [("POST", 200)]
        assert transport.to("/trading/plant/list") == [("GET", 200)] * 3 + [("GET", 429)]


class TestTokenExpiry:
    @pytest.fixture
    def settings_overrides(self, sandbox_url: str) -> dict[str, Any]:
        return live_settings(sandbox_url, token_ttl_seconds=2)

    async def test_an_expiring_token_is_renewed_before_it_is_used(self, org: EnabledOrg) -> None:
        transport = RecordingTransport()

        async with aclosing(client_of(org, transport=transport)) as client:
            await client.list_plants()
            await asyncio.sleep(2.1)
            listed = await client.list_plants()

        assert [plant.plant_id for plant in listed] == [org.default_plant_id]
        # Renewed ahead of time: the expired token is never sent, so no 401 is ever seen.
        assert [(method, status) for method, _, status in transport.calls] == [
            ("POST", 200),
            ("GET", 200),
            ("POST", 200),
            ("GET", 200),
        ]


class TestRotation:
    async def test_rotation_fails_the_old_client_and_the_new_credentials_work(
        self, api: Api, org: EnabledOrg
    ) -> None:
        async with aclosing(client_of(org)) as old:
            assert [plant.plant_id for plant in await old.list_plants()] == [org.default_plant_id]

            rotated = await api.enable(org.id)  # CONTRACT §4: old credentials and tokens die

            with pytest.raises(EsmAuthFailed) as failed:
                await old.list_plants()
            assert str(failed.value) == "the ESM refused the client credentials (401)"

        new = EsmClient(rotated["esmApiUrl"], rotated["clientId"], rotated["clientSecret"])
        async with aclosing(new):
            listed = await new.list_plants()

        assert [plant.plant_id for plant in listed] == [org.default_plant_id]

    async def test_disabling_fails_a_client_holding_a_token(
        self, api: Api, org: EnabledOrg
    ) -> None:
        async with aclosing(client_of(org)) as client:
            await client.token()
            assert (await api.disable(org.id)).status_code == 200

            with pytest.raises(EsmAuthFailed):
                await client.get_config(org.default_plant_id)


class TestRateLimitWait:
    @pytest.fixture
    def settings_overrides(self, sandbox_url: str) -> dict[str, Any]:
        return live_settings(sandbox_url, voke_esm_rate_limit="3/3 seconds")

    async def test_the_client_waits_out_retry_after_and_finishes(self, org: EnabledOrg) -> None:
        transport = RecordingTransport()

        async with aclosing(client_of(org, transport=transport)) as client:
            started = time.monotonic()
            configs = [await client.get_config(org.default_plant_id) for _ in range(5)]
            elapsed = time.monotonic() - started

        assert [config.version for config in configs] == [1] * 5
        statuses = [status for _, status in transport.to("/trading/plant/config")]
        assert statuses.count(200) == 5
        assert 429 in statuses
        # The 4th call may go only when the 1st leaves the 3-second window.
        assert 2.9 <= elapsed < 10, elapsed


class TestNoSecretsInLogs:
    async def test_neither_the_secret_nor_the_token_is_logged(
        self, api: Api, org: EnabledOrg, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG, logger="voke_esm")

        async with aclosing(client_of(org)) as client:
            token = await client.token()
            await client.list_plants()
            await client.get_config(org.default_plant_id)
            await client.update_config(org.default_plant_id, SCHEDULE)
            await client.update_config(org.default_plant_id, [], validate_only=True)
            with pytest.raises(EsmRequestRefused):
                await client.get_config("PLANT-NOBODY")
            await api.enable(org.id)
            with pytest.raises(EsmAuthFailed) as failed:
                await client.list_plants()
            description = repr(client)

        assert "/trading/plant/list" in caplog.text  # the calls were logged, at DEBUG
        for secret in (org.client_secret, token):
            assert secret not in caplog.text
            assert secret not in description
            assert secret not in str(failed.value)


# Partner ESMs of the test's own ------------------------------------------------------------------

HANG = object()  # an answer that never comes (until the test ends)
MALFORMED = (200, b'[{"plantId": "P-1", ')
NOT_THE_SHAPE = (200, b'{"plants": []}')


def status(code: int) -> tuple[int, bytes]:
    return code, json.dumps({"code": "BOOM", "message": f"failure {code}"}).encode()


def ok(body: Any) -> tuple[int, bytes]:
    return 200, json.dumps(body).encode()


FAKE_TOKEN = "fake-esm-access-token-0123456789"
FAKE_CONFIG = {
    "plantId": "P-1",
    "version": 7,
    "configEnabled": True,
    "esiState": "PLC_READY",
    "timeConfigs": WHOLE_DAY,
}


@dataclass
class Received:
    method: str
    path: str
    body: bytes
    authorization: str | None


@dataclass
class FakeEsm:
    """A partner ESM: scripted answers per path (then well-formed ones), every request recorded."""

    script: dict[str, list[Any]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    def paths(self) -> list[str]:
        return [f"{item.method} {item.path}" for item in self.received]

    def bodies(self, path: str) -> list[Any]:
        return [json.loads(item.body) for item in self.received if item.path == path]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        body = await request.body()
        path = request.url.path.removeprefix("/esm")
        self.received.append(
            Received(request.method, path, body, request.headers.get("authorization"))
        )
        scripted = self.script.get(path)
        answer = scripted.pop(0) if scripted else self._well_formed(path, body)
        if answer is HANG:
            await asyncio.wait_for(self.release.wait(), timeout=30)
            answer = self._well_formed(path, body)
        code, content = answer
        await Response(content, code, media_type="application/json")(scope, receive, send)

    @staticmethod
    def _well_formed(path: str, body: bytes) -> tuple[int, bytes]:
        if path == "/trading/token":
            return ok({"accessToken": FAKE_TOKEN, "tokenType": "Bearer", "expiresIn": 3600})
        if path == "/trading/plant/list":
            return ok([{"plantId": "P-1", "name": "Fake plant"}])
        if path == "/trading/plant/config":
            return ok(FAKE_CONFIG)
        if path == "/trading/plant/config/update":
            request = json.loads(body)
            return ok(
                {
                    "plantId": request["plantId"],
                    "configUpdateReqCode": request["configUpdateReqCode"],
                    "resultCode": "applied_ok",
                    "version": 8,
                    "errors": [],
                }
            )
        return status(404)


@pytest.fixture
async def fake_esm() -> AsyncIterator[FakeEsm]:
    fake = FakeEsm()
    sock = bound_socket()
    async with serving(fake, sock) as base_url:
        fake.url = f"{base_url}/esm"
        try:
            yield fake
        finally:
            fake.release.set()  # let hanging answers end, so that the server can stop


def fake_client(fake: FakeEsm, **kwargs: Any) -> EsmClient:
    kwargs.setdefault("retry", QUICK_RETRY)
    return EsmClient(fake.url, "fake-client", "fake-secret-0123456789", **kwargs)


class TestFailingPartnerEsm:
    """No sandbox and no database: these run once."""

    async def test_two_5xx_answers_then_success_takes_three_attempts(
        self, fake_esm: FakeEsm
    ) -> None:
        fake_esm.script["/trading/plant/config"] = [status(500), status(500)]

        async with aclosing(fake_client(fake_esm)) as client:
            config = await client.get_config("P-1")

        assert config.model_dump(by_alias=True) == FAKE_CONFIG
        assert fake_esm.paths() == ["POST /trading/token"] + ["GET /trading/plant/config"] * 3

    async def test_5xx_on_every_attempt_is_unavailable(self, fake_esm: FakeEsm) -> None:
        fake_esm.script["/trading/plant/list"] = [status(503)] * 3

        async with aclosing(fake_client(fake_esm)) as client:
            with pytest.raises(EsmUnavailable) as failed:
                await client.list_plants()

        assert str(failed.value) == "GET /trading/plant/list: ESM answered 503"
        assert fake_esm.paths().count("GET /trading/plant/list") == 3

    async def test_a_retried_update_resends_its_configUpdateReqCode(
        self, fake_esm: FakeEsm
    ) -> None:
        fake_esm.script["/trading/plant/config/update"] = [status(502), status(503)]

        async with aclosing(fake_client(fake_esm)) as client:
            answer = await client.update_config("P-1", SCHEDULE)

        bodies = fake_esm.bodies("/trading/plant/config/update")
        assert len(bodies) == 3
        code = bodies[0]["configUpdateReqCode"]
        # The same code in every attempt, so an ESM that applied a lost attempt replays it (§6).
        sent = {"plantId": "P-1", "configUpdateReqCode": code, "validateOnly": False}
        assert bodies == [{**sent, "timeConfigs": WHOLE_DAY}] * 3
        assert (answer.result_code, answer.config_update_req_code) == ("applied_ok", code)

    async def test_a_hanging_esm_is_unavailable_within_the_read_timeout(
        self, fake_esm: FakeEsm
    ) -> None:
        fake_esm.script["/trading/plant/list"] = [HANG, HANG]
        client = fake_client(
            fake_esm,
            timeouts=Timeouts(connect=1, read=0.5),
            retry=RetryPolicy(attempts=2, wait_initial=0.01, wait_max=0.05, wait_jitter=0),
        )

        async with aclosing(client):
            started = time.monotonic()
            with pytest.raises(EsmUnavailable) as failed:
                await client.list_plants()
            elapsed = time.monotonic() - started

        assert str(failed.value) == "GET /trading/plant/list: timed out (ReadTimeout)"
        assert fake_esm.paths().count("GET /trading/plant/list") == 2
        assert 1.0 <= elapsed < 3.0, elapsed

    async def test_a_call_gives_up_at_its_total_timeout_however_long_the_read_timeout(
        self, fake_esm: FakeEsm
    ) -> None:
        """The deadline that bounds a sync, and with it the lease the sync renews (§7)."""
        fake_esm.script["/trading/plant/list"] = [HANG]
        client = fake_client(
            fake_esm,
            timeouts=Timeouts(connect=1, read=20),
            retry=RetryPolicy(attempts=2, wait_initial=0.01, wait_jitter=0, total_timeout=0.5),
        )

        async with aclosing(client):
            started = time.monotonic()
            with pytest.raises(EsmUnavailable) as failed:
                await client.list_plants()
            elapsed = time.monotonic() - started

        assert str(failed.value) == "GET /trading/plant/list: no answer within 0.5 s"
        assert 0.5 <= elapsed < 2.0, elapsed

    @pytest.mark.parametrize("answer", [MALFORMED, NOT_THE_SHAPE], ids=["malformed", "shape"])
    async def test_an_answer_that_is_not_the_contracts_json_is_a_protocol_error(
        self, fake_esm: FakeEsm, answer: tuple[int, bytes]
    ) -> None:
        fake_esm.script["/trading/plant/list"] = [answer]

        async with aclosing(fake_client(fake_esm)) as client:
            with pytest.raises(EsmProtocolError, match="the answer is not the contract's JSON"):
                await client.list_plants()

        assert fake_esm.paths().count("GET /trading/plant/list") == 1  # not worth a retry

    async def test_a_401_gets_one_fresh_token_then_the_call_succeeds(
        self, fake_esm: FakeEsm
    ) -> None:
        fake_esm.script["/trading/plant/list"] = [status(401)]

        async with aclosing(fake_client(fake_esm)) as client:
            listed = await client.list_plants()

        assert [plant.plant_id for plant in listed] == ["P-1"]
        assert fake_esm.paths() == ["POST /trading/token", "GET /trading/plant/list"] * 2

    async def test_a_4xx_is_refused_without_retrying(self, fake_esm: FakeEsm) -> None:
        fake_esm.script["/trading/plant/config"] = [status(404)]

        async with aclosing(fake_client(fake_esm)) as client:
            with pytest.raises(EsmRequestRefused) as refused:
                await client.get_config("P-1")

        assert (refused.value.status, refused.value.code) == (404, "BOOM")
        assert fake_esm.paths().count("GET /trading/plant/config") == 1

    async def test_the_token_goes_as_a_bearer_header_and_the_secret_in_the_exchange(
        self, fake_esm: FakeEsm
    ) -> None:
        async with aclosing(fake_client(fake_esm)) as client:
            await client.list_plants()

        token_call, list_call = fake_esm.received
        assert json.loads(token_call.body) == {
            "clientId": "fake-client",
            "clientSecret": "fake-secret-0123456789",
        }
        assert list_call.authorization == f"Bearer {FAKE_TOKEN}"

    async def test_a_refused_connection_is_unavailable(self, closed_port: int) -> None:
        client = EsmClient(
            f"http://127.0.0.1:{closed_port}/esm", "fake-client", "secret", retry=QUICK_RETRY
        )

        async with aclosing(client):
            with pytest.raises(EsmUnavailable) as failed:
                await client.list_plants()

        assert str(failed.value) == "POST /trading/token: ConnectError"
