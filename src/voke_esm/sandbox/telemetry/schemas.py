from __future__ import annotations

import uuid
from typing import Annotated, Final

from pydantic import ConfigDict, Field

from voke_esm.contract.time_configs import TimeConfigBlock
from voke_esm.core.schemas import CamelModel, StrictBody, UtcDateTime

SCHEMA_VERSION: Final = 1
MAX_ADVANCE_MINUTES: Final = 525_600  # one year per call
# How far ahead of real time advances may take the clock in all: far enough for any test, and
# far from the year 9999, past which no date can be computed.
MAX_OFFSET_YEARS: Final = 1000
MAX_OFFSET_MINUTES: Final = MAX_OFFSET_YEARS * MAX_ADVANCE_MINUTES

AdvanceMinutes = Annotated[
    float,
    Field(
        gt=0,
        le=MAX_ADVANCE_MINUTES,
        allow_inf_nan=False,
        strict=True,  # a JSON number, not a numeric string
        description="how far to move the clock forward, in minutes (fractions allowed)",
        examples=[90],
    ),
]


class ClockAdvance(StrictBody):
    minutes: AdvanceMinutes


class ClockRead(CamelModel):
    """An org's simulated clock (CONTRACT §11): real time plus how far it has been advanced."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "orgId": "497f6eca-6276-4993-bfeb-53cbbbba6f08",
                    "startedAt": "2026-11-21T22:00:00.000000Z",
                    "offsetMinutes": 90.0,
                    "now": "2026-11-21T23:35:12.345678Z",
                }
            ]
        }
    )

    org_id: uuid.UUID
    started_at: UtcDateTime = Field(description="real time when the org was (last) enabled")
    offset_minutes: float = Field(description="how far clock/advance has moved the clock ahead")
    now: UtcDateTime = Field(description="the org's simulated time now")


class TelemetrySnapshot(CamelModel):
    """The `event.telemetry` message body, as published and as returned (CONTRACT §8)."""

    schema_version: int = Field(default=SCHEMA_VERSION, description="bumped on breaking changes")
    id: uuid.UUID = Field(description="the sandbox plant's id")
    external_plant_id: str = Field(description="the trading API's plantId")
    client_id: str
    org_id: uuid.UUID
    timestamp: UtcDateTime = Field(description="the org's simulated time of the snapshot")
    soc: float = Field(description="state of charge, % of capacityKwh")
    p_bat: float = Field(description="battery power, kW: positive charging, negative discharging")
    active_block: TimeConfigBlock | None = Field(
        description="the time-config block in force at `timestamp` (UTC), or null in a gap"
    )


class TelemetryRead(TelemetrySnapshot):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "schemaVersion": 1,
                    "id": "497f6eca-6276-4993-bfeb-53cbbbba6f08",
                    "externalPlantId": "PLANT-001",
                    "clientId": "vesm-3f9a1c0b7d2e4a6f8b1c2d3e",
                    "orgId": "0b4f8c4e-8a52-4d6c-9d55-3f1f6c1e2a10",
                    "timestamp": "2026-11-21T23:35:12.345678Z",
                    "soc": 62.5,
                    "pBat": 50.0,
                    "activeBlock": {
                        "from": "07:00",
                        "to": "23:59",
                        "pBatMax": 50,
                        "pBatMin": -50,
                        "socMax": 90,
                        "socMin": 30,
                    },
                    "exchange": "vcp",
                    "routingKey": "vcp.acme.event.telemetry",
                    "published": False,
                    "reason": "AMQP_URL is not set",
                }
            ]
        }
    )

    exchange: str
    routing_key: str
    published: bool = Field(description="the broker confirmed the message")
    reason: str | None = Field(description="why it was not published; null when it was")
