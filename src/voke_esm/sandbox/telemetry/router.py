"""Telemetry snapshots (CONTRACT §8) and the org's simulated clock (§11); SuperAdmin only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from voke_esm.core.db import end_transaction_before_slow_work
from voke_esm.core.deps import SessionDep
from voke_esm.core.errors import (
    Forbidden,
    InvalidUuid,
    Unauthorized,
    ValidationFailed,
    error_responses,
)
from voke_esm.core.openapi import documented
from voke_esm.core.schemas import OrgIdQuery
from voke_esm.sandbox import examples
from voke_esm.sandbox.admin.schemas import SandboxPlantPathId
from voke_esm.sandbox.admin.service import SandboxPlantNotFound
from voke_esm.sandbox.telemetry import service as telemetry_service
from voke_esm.sandbox.telemetry.publisher import EXCHANGE, TelemetryPublisher
from voke_esm.sandbox.telemetry.schemas import ClockAdvance, ClockRead, TelemetryRead
from voke_esm.sandbox.telemetry.service import ClockNotStarted, OrgClock
from voke_esm.voke.auth.deps import SuperAdmin
from voke_esm.voke.orgs.service import OrgNotFound

router = APIRouter(
    prefix="/api/v1/voke-esm/admin",
    tags=["Voke ESM (Telemetry and clock)"],
    responses=error_responses(Unauthorized, Forbidden),
)


async def _publisher(request: Request) -> TelemetryPublisher:
    publisher: TelemetryPublisher = request.app.state.telemetry_publisher
    return publisher


PublisherDep = Annotated[TelemetryPublisher, Depends(_publisher)]


@router.get(
    "/clock",
    response_model=ClockRead,
    **documented(
        "Read the org's simulated clock",
        ValidationFailed,
        InvalidUuid,
        OrgNotFound,
        ClockNotStarted,
        answer=examples.CLOCK,
    ),
)
async def get_clock(org_id: OrgIdQuery, _: SuperAdmin, session: SessionDep) -> ClockRead:
    """The org's simulated time: real time plus what clock/advance added."""
    return _clock_read(await telemetry_service.read_clock(session, org_id))


@router.post(
    "/clock/advance",
    response_model=ClockRead,
    **documented(
        "Move the org's simulated clock forward",
        ValidationFailed(examples.CLOCK_ADVANCE_ERRORS),
        InvalidUuid,
        OrgNotFound,
        ClockNotStarted,
        request=examples.CLOCK_ADVANCE,
        answer=examples.CLOCK,
    ),
)
async def advance_clock(
    org_id: OrgIdQuery, body: ClockAdvance, _: SuperAdmin, session: SessionDep
) -> ClockRead:
    """Move the org's simulated clock forward, so its batteries live through that time at once."""
    return _clock_read(await telemetry_service.advance_clock(session, org_id, body.minutes))


@router.post(
    "/plants/{id}/telemetry",
    response_model=TelemetryRead,
    **documented(
        "Take a telemetry snapshot of a plant (and publish it)",
        InvalidUuid,
        SandboxPlantNotFound,
        ClockNotStarted,
        answer=examples.TELEMETRY,
    ),
)
async def take_telemetry(
    id: SandboxPlantPathId,
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
    )
