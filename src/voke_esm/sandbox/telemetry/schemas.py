from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, ConfigDict, Field, PlainSerializer, StrictBool

from voke_esm.contract.time_configs import TimeConfigBlock
from voke_esm.core.schemas import CamelModel, StrictBody, UtcDateTime, format_utc

SCHEMA_VERSION: Final = 2  # 2: the simulated site's fields (CONTRACT §12)
MAX_CONDITIONS: Final = 100
# Instants a tester may put the clock or a condition at: far enough either way for any test,
# and far from the years past which no date can be computed.
EARLIEST: Final = datetime(1900, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(3000, 1, 1, tzinfo=UTC)


def _instant(value: datetime) -> datetime:
    # A time without a zone is read as UTC, like every time here (CONTRACT: all times are UTC).
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"must be from {EARLIEST.year} up to before {LATEST.year}")
    return value


# An ISO 8601 instant in, UTC with a `Z` out.
Instant = Annotated[
    datetime,
    AfterValidator(_instant),
    PlainSerializer(format_utc, return_type=str, when_used="json-unless-none"),
]
ConditionKind = Literal["cloud", "gridOutage", "commsLoss", "batteryFault"]
BatteryStateName = Literal["CHARGING", "DISCHARGING", "IDLE", "FULL", "EMPTY", "FAULT"]
GridStatusName = Literal["ON_GRID", "OFF_GRID"]
MAX_ADVANCE_MINUTES: Final = 525_600  # one year per call
# How far ahead of real time advances may take the clock in all. The simulated site (§12) is
# computed day by day from the clock's start, once (day starts are cached): ten years cost a few
# seconds the first time, a thousand would cost many minutes of a worker thread. PUT clock {at}
# starts the simulation at any instant at once.
MAX_OFFSET_YEARS: Final = 10
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


class ClockSet(StrictBody):
    """`PUT clock` (CONTRACT §11)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"at": "2026-06-21T00:00:00Z", "frozen": True}]}
    )

    at: Instant | None = Field(
        default=None,
        description="restart the simulation at this instant (startedAt becomes it, "
        "offsetMinutes 0); left out, the clock keeps its time and only `frozen` changes",
    )
    frozen: StrictBool = Field(
        default=False, description="true: simulated time stops following real time until false"
    )


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
                    "frozen": False,
                }
            ]
        }
    )

    org_id: uuid.UUID
    started_at: UtcDateTime = Field(
        description="the simulated instant the simulation started at: real time at the first "
        "enable, or the `at` of the last PUT clock"
    )
    offset_minutes: float = Field(
        description="how far clock/advance has moved the clock ahead since it started"
    )
    now: UtcDateTime = Field(description="the org's simulated time now")
    frozen: bool = Field(description="true while simulated time does not follow real time")


# Conditions (CONTRACT §12) ----------------------------------------------------------------------


class ConditionItem(StrictBody):
    """A condition on the plant's simulated timeline, active from `from` (inclusive) to `to`."""

    kind: ConditionKind
    start: Instant = Field(alias="from", description="ISO 8601 instant of simulated time")
    end: Instant = Field(alias="to", description="ISO 8601 instant, after `from`")
    factor: float | None = Field(
        default=None,
        ge=0,
        le=1,
        strict=True,
        allow_inf_nan=False,
        description="cloud only (and required there): the share of clear-sky irradiance let "
        "through",
    )


class ConditionsWrite(StrictBody):
    """The plant's whole list of conditions; PUT replaces it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "conditions": [
                        {
                            "kind": "cloud",
                            "from": "2026-06-21T10:00:00Z",
                            "to": "2026-06-21T14:00:00Z",
                            "factor": 0.3,
                        },
                        {
                            "kind": "gridOutage",
                            "from": "2026-06-21T18:00:00Z",
                            "to": "2026-06-21T20:00:00Z",
                        },
                    ]
                }
            ]
        }
    )

    conditions: list[ConditionItem] = Field(max_length=MAX_CONDITIONS)


class ConditionsRead(CamelModel):
    plant_id: uuid.UUID = Field(description="the sandbox plant's id")
    conditions: list[ConditionItem] = Field(description="ordered by `from`, then as given")


# The simulated site's state (CONTRACT §12) ------------------------------------------------------


class EnergyRead(CamelModel):
    """kWh since the clock's start, never decreasing."""

    bat_charged_kwh: float
    bat_discharged_kwh: float
    pv_kwh: float
    load_kwh: float
    grid_import_kwh: float
    grid_export_kwh: float


class TimeseriesPoint(CamelModel):
    at: UtcDateTime
    soc: float = Field(description="% of capacityKwh")
    p_bat: float = Field(description="kW, + charging")
    p_pv: float
    p_load: float
    p_grid: float = Field(description="kW, + importing")
    p_load_shed: float
    p_pv_curtailed: float
    battery_state: BatteryStateName
    grid_status: GridStatusName
    active_block: TimeConfigBlock | None


class TimeseriesRead(CamelModel):
    plant_id: uuid.UUID = Field(description="the sandbox plant's id")
    from_: UtcDateTime = Field(alias="from")
    to: UtcDateTime
    step_minutes: int
    points: list[TimeseriesPoint] = Field(
        description="the values at each instant from + k · stepMinutes before `to`"
    )


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
    # Version 2 (CONTRACT §12); signs and units in `conventions`.
    p_pv: float = Field(description="kW of PV used")
    p_load: float = Field(description="kW of load served")
    p_grid: float = Field(description="kW at the grid connection, + importing")
    p_load_shed: float = Field(description="kW of load not served (gridOutage only)")
    p_pv_curtailed: float = Field(description="kW of PV not used (gridOutage only)")
    energy: EnergyRead
    battery_state: BatteryStateName
    grid_status: GridStatusName
    stale: bool = Field(description="true during a commsLoss: the values are the last seen")
    stale_since: UtcDateTime | None = Field(
        description="the start of the commsLoss whose last values these are; null when fresh"
    )
    alarms: list[str] = Field(description="the active batteryFault and gridOutage conditions")
    conventions: dict[str, Any] = Field(description="signs and units of the values")


class TelemetryRead(TelemetrySnapshot):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "schemaVersion": 2,
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
                    "pPv": 80.0,
                    "pLoad": 30.0,
                    "pGrid": 0.0,
                    "pLoadShed": 0.0,
                    "pPvCurtailed": 0.0,
                    "energy": {
                        "batChargedKwh": 12.5,
                        "batDischargedKwh": 3.0,
                        "pvKwh": 40.0,
                        "loadKwh": 25.0,
                        "gridImportKwh": 2.0,
                        "gridExportKwh": 1.5,
                    },
                    "batteryState": "CHARGING",
                    "gridStatus": "ON_GRID",
                    "stale": False,
                    "staleSince": None,
                    "alarms": [],
                    "conventions": {"pBat": "kW; + while charging, - while discharging"},
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
