"""Telemetry snapshots (CONTRACT §8) and the org's simulated clock (§11); SuperAdmin only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from voke_esm.core.db import end_transaction_before_slow_work
from voke_esm.core.deps import SessionDep
from voke_esm.core.errors import (
    Conflict,
    Forbidden,
    InvalidUuid,
    NotFound,
    Unauthorized,
    ValidationFailed,
    error_responses,
)
from voke_esm.core.schemas import MessageRead
from voke_esm.sandbox.models import SandboxPlant
from voke_esm.sandbox.telemetry import service as telemetry_service
from voke_esm.sandbox.telemetry.publisher import EXCHANGE, TelemetryPublisher
from voke_esm.sandbox.telemetry.schemas import (
    ClockAdvance,
    ClockRead,
    ClockSet,
    ConditionItem,
    ConditionsRead,
    ConditionsWrite,
    TelemetryRead,
    TimeseriesPoint,
    TimeseriesRead,
)
from voke_esm.sandbox.telemetry.service import OrgClock
from voke_esm.voke.auth.deps import SuperAdmin

router = APIRouter(
    prefix="/api/v1/voke-esm/admin",
    tags=["Voke ESM (Telemetry and clock)"],
    responses=error_responses(Unauthorized, Forbidden),
)

OrgIdQuery = Annotated[uuid.UUID, Query(alias="orgId", description="the organization's UUID")]
PlantId = Annotated[uuid.UUID, "the sandbox plant's UUID"]


async def _publisher(request: Request) -> TelemetryPublisher:
    publisher: TelemetryPublisher = request.app.state.telemetry_publisher
    return publisher


PublisherDep = Annotated[TelemetryPublisher, Depends(_publisher)]


@router.get(
    "/clock",
    response_model=ClockRead,
    responses=error_responses(ValidationFailed, InvalidUuid, NotFound, Conflict),
)
async def get_clock(org_id: OrgIdQuery, _: SuperAdmin, session: SessionDep) -> ClockRead:
    """The org's simulated time: real time plus what clock/advance added."""
    return _clock_read(await telemetry_service.read_clock(session, org_id))


@router.post(
    "/clock/advance",
    response_model=ClockRead,
    responses=error_responses(ValidationFailed, InvalidUuid, NotFound, Conflict),
)
async def advance_clock(
    org_id: OrgIdQuery, body: ClockAdvance, _: SuperAdmin, session: SessionDep
) -> ClockRead:
    """Move the org's simulated clock forward, so its batteries live through that time at once."""
    return _clock_read(await telemetry_service.advance_clock(session, org_id, body.minutes))


@router.put(
    "/clock",
    response_model=ClockRead,
    responses=error_responses(ValidationFailed, InvalidUuid, NotFound, Conflict),
)
async def set_clock(
    org_id: OrgIdQuery, body: ClockSet, _: SuperAdmin, session: SessionDep
) -> ClockRead:
    """Restart the simulation at `at` (the batteries start again from their initial state),
    and with `frozen: true` stop simulated time from following real time."""
    clock = await telemetry_service.set_clock(session, org_id, at=body.at, frozen=body.frozen)
    return _clock_read(clock)


@router.get(
    "/plants/{id}/timeseries",
    response_model=TimeseriesRead,
    responses=error_responses(ValidationFailed, InvalidUuid, NotFound, Conflict),
)
async def get_timeseries(
    id: PlantId,
    _: SuperAdmin,
    session: SessionDep,
    start: Annotated[
        datetime | None,
        Query(alias="from", description="ISO 8601; default: the simulated UTC day's start"),
    ] = None,
    end: Annotated[
        datetime | None, Query(alias="to", description="ISO 8601, exclusive; default: from + 1 day")
    ] = None,
    step_minutes: Annotated[int, Query(alias="stepMinutes", ge=1, le=1440)] = 15,
) -> TimeseriesRead:
    """The plant's simulated day (or any span of up to 31 days and 2,000 points): the values at
    each instant `from + k · stepMinutes` before `to` (CONTRACT §12)."""
    series = await telemetry_service.plant_timeseries(
        session, id, start=_utc(start), end=_utc(end), step_minutes=step_minutes
    )
    return TimeseriesRead(
        plant_id=series.plant.id,
        from_=series.start,
        to=series.end,
        step_minutes=series.step_minutes,
        points=[
            TimeseriesPoint.model_validate(
                {key: value for key, value in point.to_dict().items() if key in _POINT_KEYS}
            )
            for point in series.points
        ],
    )


_POINT_KEYS = frozenset(field.alias or name for name, field in TimeseriesPoint.model_fields.items())


@router.get(
    "/plants/{id}/conditions",
    response_model=ConditionsRead,
    responses=error_responses(InvalidUuid, NotFound),
)
async def get_conditions(id: PlantId, _: SuperAdmin, session: SessionDep) -> ConditionsRead:
    """The plant's conditions on the simulated timeline."""
    return _conditions_read(await telemetry_service.get_conditions(session, id))


@router.put(
    "/plants/{id}/conditions",
    response_model=ConditionsRead,
    responses=error_responses(InvalidUuid, ValidationFailed, NotFound),
)
async def put_conditions(
    id: PlantId, body: ConditionsWrite, _: SuperAdmin, session: SessionDep
) -> ConditionsRead:
    """Replace the plant's conditions (cloud, gridOutage, commsLoss, batteryFault)."""
    plant = await telemetry_service.set_conditions(session, id, body.conditions)
    return _conditions_read(plant)


@router.delete(
    "/plants/{id}/conditions",
    response_model=MessageRead,
    responses=error_responses(InvalidUuid, NotFound),
)
async def delete_conditions(id: PlantId, _: SuperAdmin, session: SessionDep) -> MessageRead:
    """Remove every condition of the plant."""
    await telemetry_service.set_conditions(session, id, [])
    return MessageRead(message="Conditions of the plant removed")


@router.post(
    "/plants/{id}/telemetry",
    response_model=TelemetryRead,
    responses=error_responses(InvalidUuid, NotFound, Conflict),
)
async def take_telemetry(
    id: Annotated[uuid.UUID, "the sandbox plant's UUID"],
    _: SuperAdmin,
    session: SessionDep,
    publisher: PublisherDep,
) -> TelemetryRead:
    """Take a telemetry snapshot of the plant now; publish it when AMQP_URL is set."""
    telemetry = await telemetry_service.take_snapshot(session, id)
    await end_transaction_before_slow_work(session)  # publishing may wait on the broker
    outcome = await telemetry_service.publish(publisher, telemetry)
    return TelemetryRead(
        **telemetry.snapshot.model_dump(),
        exchange=EXCHANGE,
        routing_key=telemetry.routing_key,
        published=outcome.published,
        reason=outcome.reason,
    )


def _clock_read(clock: OrgClock) -> ClockRead:
    return ClockRead(
        org_id=clock.org_id,
        started_at=clock.started_at,
        offset_minutes=clock.offset_minutes,
        now=clock.now,
        frozen=clock.frozen,
    )


def _conditions_read(plant: SandboxPlant) -> ConditionsRead:
    return ConditionsRead(
        plant_id=plant.id,
        conditions=[ConditionItem.model_validate(item) for item in plant.conditions],
    )


def _utc(moment: datetime | None) -> datetime | None:
    """A query time without a zone is read as UTC, like every time here."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
