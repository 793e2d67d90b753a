"""The org's simulated clock (CONTRACT §11) and telemetry snapshots over RabbitMQ (§8)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from tests.conftest import AMQP_URL
from tests.factories import SEED_BLOCKS, Api, EnabledOrg, error_body
from tests.live import bound_socket, port_of
from tests.sandbox.admin.test_admin import org_admin_token
from voke_esm.app import app_services, create_app
from voke_esm.core.config import Settings
from voke_esm.core.db import session_scope
from voke_esm.sandbox.model import CONVENTIONS
from voke_esm.sandbox.repositories import org_states as org_states_repository

ADMIN = "/api/v1/voke-esm/admin"
AMQP_PORT = 5672
YEAR_MINUTES = 525_600  # what one clock/advance may add at most

INVALID_UUID = error_body(400, "INVALID_UUID", "Invalid UUID")
ORG_NOT_FOUND = error_body(404, "NOT_FOUND", "Organization not found")
PLANT_NOT_FOUND = error_body(404, "NOT_FOUND", "Voke ESM plant not found")
NO_TOKEN = error_body(401, "UNAUTHORIZED", "Authentication required")
NOT_SUPER_ADMIN = error_body(403, "FORBIDDEN", "SuperAdmin role required")
NEVER_ENABLED = error_body(
    409,
    "CONFLICT",
    "Voke ESM has never been enabled for this organization, so it has no simulated clock:"
    " enable it first",
)
SNAPSHOT_KEYS = {
    "schemaVersion",
    "id",
    "externalPlantId",
    "clientId",
    "orgId",
    "timestamp",
    "soc",
    "pBat",
    "activeBlock",
    # schemaVersion 2 (CONTRACT §12)
    "pPv",
    "pLoad",
    "pGrid",
    "pLoadShed",
    "pPvCurtailed",
    "energy",
    "batteryState",
    "gridStatus",
    "stale",
    "staleSince",
    "alarms",
    "conventions",
}
NO_ENERGY = {
    "batChargedKwh": 0,
    "batDischargedKwh": 0,
    "pvKwh": 0,
    "loadKwh": 0,
    "gridImportKwh": 0,
    "gridExportKwh": 0,
}

# 100 kWh at 50 kW: 50 % an hour. Mornings only discharge, afternoons only charge.
MORNING = {"from": "00:00", "to": "11:59", "pBatMax": 0, "pBatMin": -50, "socMax": 90, "socMin": 20}
AFTERNOON = {
    "from": "12:00",
    "to": "23:59",
    "pBatMax": 50,
    "pBatMin": 0,
    "socMax": 80,
    "socMin": 30,
}


def parse_utc(value: str) -> datetime:
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value)


async def get_clock(api: Api, org_id: str) -> dict[str, Any]:
    response = await api.http.get(f"{ADMIN}/clock", params={"orgId": org_id}, headers=api.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def advance(api: Api, org_id: str, minutes: float) -> dict[str, Any]:
    response = await api.http.post(
        f"{ADMIN}/clock/advance",
        params={"orgId": org_id},
        json={"minutes": minutes},
        headers=api.headers,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def telemetry(api: Api, plant_id: str) -> dict[str, Any]:
    response = await api.http.post(f"{ADMIN}/plants/{plant_id}/telemetry", headers=api.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def default_plant(api: Api, org: EnabledOrg) -> dict[str, Any]:
    (plant,) = await api.sandbox_plants(clientId=org.client_id)
    return plant


async def as_sawtooth(api: Api, plant: dict[str, Any]) -> None:
    response = await api.http.patch(
        f"{ADMIN}/plants/{plant['id']}", json={"simulation": "sawtooth"}, headers=api.headers
    )
    assert response.status_code == 200, response.text


def snapshot_part(answer: dict[str, Any]) -> dict[str, Any]:
    """The HTTP answer without what only the HTTP answer carries: the published message."""
    return {key: value for key, value in answer.items() if key in SNAPSHOT_KEYS}


async def unique_org(api: Api) -> EnabledOrg:
    # RabbitMQ is shared by every test run on the machine: a unique slug, a unique routing key.
    return await api.enabled_org(f"Telemetry {uuid.uuid4().hex[:12]}")


def routing_key_of(org: EnabledOrg) -> str:
    return f"vcp.{org.org['slug']}.event.telemetry"


class TestClock:
    async def test_starts_at_real_time_when_the_org_is_enabled(self, api: Api) -> None:
        org = await api.create_org()
        before = datetime.now(UTC)
        await api.enable(org["id"])
        after = datetime.now(UTC)

        clock = await get_clock(api, org["id"])

        assert set(clock) == {"orgId", "startedAt", "offsetMinutes", "now", "frozen"}
        assert (clock["orgId"], clock["frozen"]) == (org["id"], False)
        assert before <= parse_utc(clock["startedAt"]) <= after
        assert clock["offsetMinutes"] == 0
        assert after <= parse_utc(clock["now"]) <= datetime.now(UTC)

    async def test_advance_moves_it_forward_by_the_minutes(self, api: Api) -> None:
        org = await api.enabled_org()
        start = await get_clock(api, org.id)

        first = await advance(api, org.id, 90)
        second = await advance(api, org.id, 0.5)

        assert first["offsetMinutes"] == 90
        assert second["offsetMinutes"] == 90.5
        assert second["startedAt"] == start["startedAt"]
        moved = parse_utc(second["now"]) - parse_utc(start["now"])
        assert timedelta(minutes=90.5) <= moved < timedelta(minutes=90.5, seconds=30)
        assert (await get_clock(api, org.id))["offsetMinutes"] == 90.5

    async def test_enabling_again_keeps_it(self, api: Api) -> None:
        """§11 as amended (issue 10): the clock starts at the first enable; a rotation keeps it."""
        org = await api.enabled_org()
        advanced = await advance(api, org.id, 600)

        await api.enable(org.id)

        clock = await get_clock(api, org.id)
        assert clock["offsetMinutes"] == 600
        assert clock["startedAt"] == advanced["startedAt"]
        ahead = parse_utc(clock["now"]) - datetime.now(UTC)
        assert timedelta(minutes=600) - timedelta(seconds=30) < ahead <= timedelta(minutes=600)

    async def test_a_disabled_org_keeps_its_clock(self, api: Api) -> None:
        org = await api.enabled_org()
        await advance(api, org.id, 60)
        assert (await api.disable(org.id)).status_code == 200

        assert (await advance(api, org.id, 30))["offsetMinutes"] == 90

    async def test_an_org_never_enabled_has_no_clock(self, api: Api) -> None:
        org = await api.create_org()

        read = await api.http.get(
            f"{ADMIN}/clock", params={"orgId": org["id"]}, headers=api.headers
        )
        moved = await api.http.post(
            f"{ADMIN}/clock/advance",
            params={"orgId": org["id"]},
            json={"minutes": 5},
            headers=api.headers,
        )

        assert (read.status_code, read.json()) == (409, NEVER_ENABLED)
        assert (moved.status_code, moved.json()) == (409, NEVER_ENABLED)

    async def test_org_id_must_name_an_org(self, api: Api) -> None:
        missing = error_body(
            400,
            "VALIDATION_ERROR",
            "Validation error",
            {"errors": [{"field": "orgId", "message": "Field required"}]},
        )
        cases = [({}, missing), ({"orgId": "acme"}, INVALID_UUID)]
        cases.append(({"orgId": str(uuid.uuid4())}, ORG_NOT_FOUND))

        for params, expected in cases:
            read = await api.http.get(f"{ADMIN}/clock", params=params, headers=api.headers)
            moved = await api.http.post(
                f"{ADMIN}/clock/advance", params=params, json={"minutes": 5}, headers=api.headers
            )
            assert (read.status_code, read.json()) == (expected["statusCode"], expected), params
            assert (moved.status_code, moved.json()) == (expected["statusCode"], expected), params

    async def test_minutes_must_be_a_positive_finite_number_up_to_a_year(self, api: Api) -> None:
        org = await api.enabled_org()
        cases = [
            ('{"minutes": 0}', "minutes", "Input should be greater than 0"),
            ('{"minutes": -5}', "minutes", "Input should be greater than 0"),
            ('{"minutes": 525600.5}', "minutes", "Input should be less than or equal to 525600"),
            ('{"minutes": Infinity}', "minutes", "Input should be a finite number"),
            ('{"minutes": NaN}', "minutes", "Input should be a finite number"),
            ('{"minutes": "5"}', "minutes", "Input should be a valid number"),
            ('{"minutes": null}', "minutes", "Input should be a valid number"),
            ("{}", "minutes", "Field required"),
            ('{"minutes": 5, "hours": 1}', "hours", "Extra inputs are not permitted"),
        ]

        for body, field, message in cases:
            response = await api.http.post(
                f"{ADMIN}/clock/advance",
                params={"orgId": org.id},
                content=body,
                headers={**api.headers, "content-type": "application/json"},
            )
            expected = error_body(
                400,
                "VALIDATION_ERROR",
                "Validation error",
                {"errors": [{"field": field, "message": message}]},
            )
            assert (response.status_code, response.json()) == (400, expected), body

        assert (await get_clock(api, org.id))["offsetMinutes"] == 0
        assert (await advance(api, org.id, 525_600))["offsetMinutes"] == 525_600

    async def test_it_runs_at_most_10_years_ahead(self, api: Api, app: FastAPI) -> None:
        org = await api.enabled_org()
        plant = await default_plant(api, org)
        # The sawtooth needs no history: the snapshot ten years ahead is cheap to take.
        await as_sawtooth(api, plant)
        limit = 10 * YEAR_MINUTES
        # As ten clock/advance calls of at most a year each would leave it.
        async with session_scope(app_services(app).sessionmaker) as session:
            state = await org_states_repository.get_org_state(session, uuid.UUID(org.id))
            assert state is not None
            state.clock_offset_minutes = limit - 10

        refused = await api.http.post(
            f"{ADMIN}/clock/advance",
            params={"orgId": org.id},
            json={"minutes": 11},
            headers=api.headers,
        )

        assert (refused.status_code, refused.json()) == (
            400,
            error_body(
                400,
                "VALIDATION_ERROR",
                "Validation error",
                {
                    "errors": [
                        {
                            "field": "minutes",
                            "message": "would move the clock more than 10 years ahead of real time",
                        }
                    ]
                },
            ),
        )
        assert (await get_clock(api, org.id))["offsetMinutes"] == limit - 10
        assert (await advance(api, org.id, 10))["offsetMinutes"] == limit
        ahead = parse_utc((await telemetry(api, plant["id"]))["timestamp"]) - datetime.now(UTC)
        assert timedelta(days=3650) - timedelta(minutes=1) <= ahead <= timedelta(days=3650, hours=1)

    async def test_needs_a_super_admin(self, api: Api) -> None:
        org = await api.enabled_org()
        org_admin = {"Authorization": f"Bearer {await org_admin_token(api, org.id)}"}

        for headers, expected in (({}, NO_TOKEN), (org_admin, NOT_SUPER_ADMIN)):
            read = await api.http.get(f"{ADMIN}/clock", params={"orgId": org.id}, headers=headers)
            moved = await api.http.post(
                f"{ADMIN}/clock/advance",
                params={"orgId": org.id},
                json={"minutes": 5},
                headers=headers,
            )
            assert (read.status_code, read.json()) == (expected["statusCode"], expected)
            assert (moved.status_code, moved.json()) == (expected["statusCode"], expected)
        assert (await get_clock(api, org.id))["offsetMinutes"] == 0


class TestSnapshot:
    async def test_the_default_plant_right_after_enabling(self, api: Api) -> None:
        org = await api.enabled_org()
        plant = await default_plant(api, org)
        # The sawtooth of §8's first version, kept as it was (§12: `simulation: "sawtooth"`).
        await as_sawtooth(api, plant)
        before = datetime.now(UTC)

        answer = await telemetry(api, plant["id"])

        taken = parse_utc(answer["timestamp"])
        assert before <= taken <= datetime.now(UTC)
        # The seed's blocks, read in UTC: 00:00–07:00 then 07:00–23:59 (07:00 is the later's).
        night, day = SEED_BLOCKS
        active = night if taken.time() < datetime.min.time().replace(hour=7) else day
        assert answer == {
            "schemaVersion": 2,
            "id": plant["id"],
            "externalPlantId": org.default_plant_id,
            "clientId": org.client_id,
            "orgId": org.id,
            "timestamp": answer["timestamp"],
            # Starting at 50 %, charging; milliseconds at 25 %/h at most move it by 0.01 %.
            "soc": pytest.approx(50, abs=0.01),
            "pBat": active["pBatMax"],
            "activeBlock": active,
            # Its version 2 fields: a site with no PV and no load, whose grid carries the battery.
            "pPv": 0,
            "pLoad": 0,
            "pGrid": active["pBatMax"],
            "pLoadShed": 0,
            "pPvCurtailed": 0,
            "energy": NO_ENERGY,
            "batteryState": "CHARGING",
            "gridStatus": "ON_GRID",
            "stale": False,
            "staleSince": None,
            "alarms": [],
            "conventions": dict(CONVENTIONS),
            "exchange": "vcp",
            "routingKey": routing_key_of(org),
            "published": False,
            "reason": "AMQP_URL is not set",
        }

    async def test_the_battery_crosses_a_block_boundary_after_clock_advance(self, api: Api) -> None:
        org = await api.enabled_org()
        plant = await api.create_sandbox_plant(
            org.client_id, capacityKwh=100, timeConfigs=[MORNING, AFTERNOON], simulation="sawtooth"
        )
        now = parse_utc((await get_clock(api, org.id))["now"])
        # 11:00 after at least a day: however the day began, the morning has long emptied it.
        eleven = (now + timedelta(days=1)).replace(hour=11, minute=0, second=0, microsecond=0)
        if eleven < now + timedelta(days=1):
            eleven += timedelta(days=1)

        await advance(api, org.id, (eleven - now) / timedelta(minutes=1))
        morning = await telemetry(api, plant["id"])
        await advance(api, org.id, 90)
        afternoon = await telemetry(api, plant["id"])
        await advance(api, org.id, 60)
        later = await telemetry(api, plant["id"])

        assert parse_utc(morning["timestamp"]) - eleven < timedelta(seconds=30)
        assert (morning["soc"], morning["pBat"], morning["activeBlock"]) == (20, 0, MORNING)
        # At 12:00 the afternoon's band lifts it to its socMin, 30 %, then it charges 50 % an hour.
        taken = parse_utc(afternoon["timestamp"])
        in_afternoon = taken - taken.replace(hour=12, minute=0, second=0, microsecond=0)
        expected = 30 + 50 * (in_afternoon / timedelta(hours=1))
        assert (afternoon["soc"], afternoon["pBat"], afternoon["activeBlock"]) == (
            pytest.approx(expected, abs=0.001),
            50,
            AFTERNOON,
        )
        assert 55 <= afternoon["soc"] < 55.5
        # Full at 13:00; with no discharge power it holds there.
        assert (later["soc"], later["pBat"], later["activeBlock"]) == (80, 0, AFTERNOON)

    async def test_a_plant_in_a_gap_of_its_schedule_idles(self, api: Api) -> None:
        org = await api.enabled_org()
        plant = await api.create_sandbox_plant(org.client_id, capacityKwh=100, timeConfigs=[])

        answer = await telemetry(api, plant["id"])

        assert (answer["soc"], answer["pBat"], answer["activeBlock"]) == (50, 0, None)

    async def test_unknown_or_malformed_plant_ids(self, api: Api) -> None:
        unknown = await api.http.post(
            f"{ADMIN}/plants/{uuid.uuid4()}/telemetry", headers=api.headers
        )
        malformed = await api.http.post(f"{ADMIN}/plants/PLANT-1/telemetry", headers=api.headers)

        assert (unknown.status_code, unknown.json()) == (404, PLANT_NOT_FOUND)
        assert (malformed.status_code, malformed.json()) == (400, INVALID_UUID)

    async def test_needs_a_super_admin(self, api: Api) -> None:
        org = await api.enabled_org()
        plant = await default_plant(api, org)
        org_admin = {"Authorization": f"Bearer {await org_admin_token(api, org.id)}"}

        for headers, expected in (({}, NO_TOKEN), (org_admin, NOT_SUPER_ADMIN)):
            response = await api.http.post(
                f"{ADMIN}/plants/{plant['id']}/telemetry", headers=headers
            )
            assert (response.status_code, response.json()) == (expected["statusCode"], expected)


# Publishing -------------------------------------------------------------------------------------


BindQueue = Callable[[str], Awaitable[AbstractQueue]]


@pytest.fixture
async def bind_queue() -> AsyncIterator[BindQueue]:
    """An exclusive queue on the `vcp` exchange bound to a routing key: the seed's consumer."""
    connection = await aio_pika.connect(AMQP_URL, timeout=5)
    channel = await connection.channel()
    exchange = await channel.declare_exchange("vcp", aio_pika.ExchangeType.TOPIC, durable=True)

    async def bind(key: str) -> AbstractQueue:
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key=key)
        return queue

    try:
        yield bind
    finally:
        await connection.close()


async def next_message(queue: AbstractQueue, *, timeout: float = 5.0) -> AbstractIncomingMessage:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = await queue.get(no_ack=True, fail=False)
        if message is not None:
            return message
        await asyncio.sleep(0.05)
    pytest.fail(f"no message on {queue.name} within {timeout} s")


class TcpProxy:
    """A loopback forwarder to RabbitMQ that a test can cut and restore: a broker outage."""

    def __init__(self) -> None:
        with contextlib.closing(bound_socket()) as probe:
            self.port = port_of(probe)
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in self._writers:
            writer.transport.abort()  # a reset, as when the broker dies
        self._writers.clear()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        broker_reader, broker_writer = await asyncio.open_connection("127.0.0.1", AMQP_PORT)
        self._writers += [writer, broker_writer]
        for source, target in ((reader, broker_writer), (broker_reader, writer)):
            pipe = asyncio.create_task(self._pipe(source, target))
            self._pipes.add(pipe)
            pipe.add_done_callback(self._pipes.discard)

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await source.read(65536):
                target.write(data)
                await target.drain()
        target.transport.abort()


@pytest.mark.rabbitmq
class TestPublishing:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"amqp_url": AMQP_URL}

    async def test_a_consumer_bound_to_the_routing_key_receives_the_snapshot(
        self, api: Api, bind_queue: BindQueue
    ) -> None:
        org = await unique_org(api)
        plant = await default_plant(api, org)
        queue = await bind_queue(routing_key_of(org))

        answer = await telemetry(api, plant["id"])
        message = await next_message(queue)

        assert (answer["published"], answer["reason"]) == (True, None)
        assert answer["routingKey"] == routing_key_of(org)
        assert message.exchange == "vcp"
        assert message.routing_key == routing_key_of(org)
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert message.content_type == "application/json"
        assert json.loads(message.body) == snapshot_part(answer)
        assert set(json.loads(message.body)) == SNAPSHOT_KEYS
        assert json.loads(message.body)["schemaVersion"] == 2

    async def test_each_org_publishes_under_its_own_slug(
        self, api: Api, bind_queue: BindQueue
    ) -> None:
        mine, other = await unique_org(api), await unique_org(api)
        queue = await bind_queue(routing_key_of(mine))

        await telemetry(api, (await default_plant(api, other))["id"])
        await telemetry(api, (await default_plant(api, mine))["id"])

        message = await next_message(queue)
        assert json.loads(message.body)["orgId"] == mine.id
        await asyncio.sleep(0.2)
        assert await queue.get(no_ack=True, fail=False) is None

    async def test_the_broker_confirms_a_message_no_queue_is_bound_for(self, api: Api) -> None:
        org = await unique_org(api)

        answer = await telemetry(api, (await default_plant(api, org))["id"])

        assert (answer["published"], answer["reason"]) == (True, None)


@pytest.mark.rabbitmq
class TestRefusedLogin:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"amqp_url": "amqp://guest:wrong-password@127.0.0.1:5672/"}

    async def test_a_login_the_broker_refuses_is_not_published(self, api: Api) -> None:
        org = await api.enabled_org()

        answer = await telemetry(api, (await default_plant(api, org))["id"])

        assert (answer["published"], answer["reason"]) == (
            False,
            "broker refused the login of AMQP_URL",
        )


@pytest.mark.rabbitmq
class TestBrokerOutage:
    @pytest.fixture
    async def proxy(self) -> AsyncIterator[TcpProxy]:
        proxy = TcpProxy()
        await proxy.start()
        try:
            yield proxy
        finally:
            await proxy.stop()

    @pytest.fixture
    def settings_overrides(self, proxy: TcpProxy) -> dict[str, Any]:
        return {"amqp_url": f"amqp://guest:guest@127.0.0.1:{proxy.port}/"}

    async def test_publishing_resumes_when_the_broker_is_back(
        self, api: Api, proxy: TcpProxy, bind_queue: BindQueue
    ) -> None:
        org = await unique_org(api)
        plant = await default_plant(api, org)
        queue = await bind_queue(routing_key_of(org))

        before = await telemetry(api, plant["id"])
        await next_message(queue)
        await proxy.stop()
        during = await telemetry(api, plant["id"])
        await proxy.start()
        after = await telemetry(api, plant["id"])

        assert (before["published"], before["reason"]) == (True, None)
        assert (during["published"], during["reason"]) == (False, "broker unreachable")
        assert (after["published"], after["reason"]) == (True, None)
        assert json.loads((await next_message(queue)).body) == snapshot_part(after)


class TestUnreachableBroker:
    @pytest.fixture
    def settings_overrides(self, closed_port: int) -> dict[str, Any]:
        return {"amqp_url": f"amqp://guest:guest@127.0.0.1:{closed_port}/"}

    async def test_a_closed_port_answers_at_once_with_published_false(self, api: Api) -> None:
        org = await api.enabled_org()
        plant = await default_plant(api, org)

        began = time.monotonic()
        answer = await telemetry(api, plant["id"])
        again = await telemetry(api, plant["id"])

        assert time.monotonic() - began < 2.0  # refused at once: no timeout waited out
        assert (answer["published"], answer["reason"]) == (False, "broker unreachable")
        assert (again["published"], again["reason"]) == (False, "broker unreachable")
        assert answer["id"] == plant["id"]


class TestSilentBroker:
    @pytest.fixture
    async def silent_port(self) -> AsyncIterator[int]:
        """A port that accepts connections and never says a word."""
        accepted: list[asyncio.StreamWriter] = []

        async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.append(writer)

        server = await asyncio.start_server(hold, "127.0.0.1", 0)
        try:
            yield int(server.sockets[0].getsockname()[1])
        finally:
            server.close()
            for writer in accepted:
                writer.transport.abort()
            await server.wait_closed()

    @pytest.fixture
    def settings_overrides(self, silent_port: int) -> dict[str, Any]:
        return {"amqp_url": f"amqp://guest:guest@127.0.0.1:{silent_port}/"}

    async def test_the_connect_timeout_bounds_the_wait(self, api: Api) -> None:
        org = await api.enabled_org()
        plant = await default_plant(api, org)

        began = time.monotonic()
        answer = await telemetry(api, plant["id"])

        assert 1.5 <= time.monotonic() - began < 5.0  # the ~2 s connect timeout, no more
        assert (answer["published"], answer["reason"]) == (False, "broker unreachable")


@pytest.mark.rabbitmq
class TestPeriodicTelemetry:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"amqp_url": AMQP_URL, "telemetry_interval_s": 0.2}

    async def test_every_plant_of_an_enabled_org_is_published_each_period(
        self, api: Api, bind_queue: BindQueue
    ) -> None:
        org = await unique_org(api)
        plant = await default_plant(api, org)
        queue = await bind_queue(routing_key_of(org))

        first = json.loads((await next_message(queue)).body)
        second = json.loads((await next_message(queue)).body)

        assert first["id"] == second["id"] == plant["id"]
        assert parse_utc(first["timestamp"]) < parse_utc(second["timestamp"])

    async def test_a_second_instance_does_not_publish_the_same_round_again(
        self, api: Api, settings: Settings, bind_queue: BindQueue
    ) -> None:
        """Rounds take their orgs with a lease in the database: two instances on one database
        publish each org about once per period between them, never twice at once."""
        org = await unique_org(api)
        queue = await bind_queue(routing_key_of(org))
        second = create_app(settings)
        async with LifespanManager(second, startup_timeout=60, shutdown_timeout=60):
            await asyncio.sleep(1.5)  # about seven periods, each instance running its own rounds
        stamps = []
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            stamps.append(parse_utc(json.loads(message.body)["timestamp"]))

        gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(stamps)]
        assert len(stamps) >= 4, stamps
        assert min(gaps) >= 0.15, gaps  # 0.9 of the 0.2 s period apart, whoever published

    async def test_a_plant_in_comms_loss_is_not_published(
        self, api: Api, bind_queue: BindQueue
    ) -> None:
        """§12: the periodic publisher skips a plant while a commsLoss covers the simulated now,
        and takes it up again when the loss is gone."""
        org = await unique_org(api)
        silent = await default_plant(api, org)
        talking = await api.create_sandbox_plant(org.client_id)
        now = parse_utc((await get_clock(api, org.id))["now"])
        lost = {
            "kind": "commsLoss",
            "from": (now - timedelta(hours=1)).isoformat(),
            "to": (now + timedelta(days=1)).isoformat(),
        }
        conditions = f"{ADMIN}/plants/{silent['id']}/conditions"
        put = await api.http.put(conditions, json={"conditions": [lost]}, headers=api.headers)
        assert put.status_code == 200, put.text
        await asyncio.sleep(0.4)  # a round that read the plants before may still be publishing
        queue = await bind_queue(routing_key_of(org))

        during = [json.loads((await next_message(queue)).body)["id"] for _ in range(4)]
        await api.http.delete(conditions, headers=api.headers)
        after = {json.loads((await next_message(queue)).body)["id"] for _ in range(8)}

        assert set(during) == {talking["id"]}
        assert after == {talking["id"], silent["id"]}

    async def test_a_disabled_org_is_not_published(self, api: Api, bind_queue: BindQueue) -> None:
        org = await unique_org(api)
        assert (await api.disable(org.id)).status_code == 200
        # A round that read the org before the disable may still be publishing what it read.
        await asyncio.sleep(0.4)
        queue = await bind_queue(routing_key_of(org))

        await asyncio.sleep(0.7)  # more than three periods

        assert await queue.get(no_ack=True, fail=False) is None
