"""The org's simulated clock (CONTRACT §11) and telemetry snapshots of its plants (§8)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from voke_esm.contract.time_configs import TimeConfigBlock
from voke_esm.core.db import session_scope
from voke_esm.core.errors import Conflict, ValidationFailed
from voke_esm.core.schemas import utc_now
from voke_esm.sandbox.admin import service as admin_service
from voke_esm.sandbox.models import SandboxOrgState, SandboxPlant
from voke_esm.sandbox.repositories import org_states as org_states_repository
from voke_esm.sandbox.repositories import plants as plants_repository
from voke_esm.sandbox.telemetry.publisher import PublishOutcome, TelemetryPublisher, routing_key
from voke_esm.sandbox.telemetry.schemas import (
    MAX_OFFSET_MINUTES,
    MAX_OFFSET_YEARS,
    TelemetrySnapshot,
)
from voke_esm.sandbox.telemetry.simulator import simulate
from voke_esm.voke.orgs import service as orgs_service

logger = logging.getLogger("voke_esm")

SOC_DECIMALS = 3  # 0.001 % of capacity: finer than any meter, and stable to compare


class ClockNotStarted(Conflict):
    default_message = (
        "Voke ESM has never been enabled for this organization, so it has no simulated clock:"
        " enable it first"
    )


@dataclass(frozen=True, slots=True)
class OrgClock:
    org_id: uuid.UUID
    started_at: datetime
    offset_minutes: float
    now: datetime


@dataclass(frozen=True, slots=True)
class PlantTelemetry:
    snapshot: TelemetrySnapshot
    routing_key: str

    def body(self) -> bytes:
        return self.snapshot.model_dump_json(by_alias=True).encode()


def simulated_now(state: SandboxOrgState, real_now: datetime) -> datetime:
    """The clock follows real time from its start, plus whatever clock/advance added."""
    return real_now + timedelta(minutes=state.clock_offset_minutes)


# Clock ------------------------------------------------------------------------------------------


async def read_clock(session: AsyncSession, org_id: uuid.UUID) -> OrgClock:
    org = await orgs_service.get_org(session, org_id)
    state = await org_states_repository.get_org_state(session, org.id)
    if state is None:
        raise ClockNotStarted()
    return _clock(state)


async def advance_clock(session: AsyncSession, org_id: uuid.UUID, minutes: float) -> OrgClock:
    org = await orgs_service.get_org(session, org_id)
    # Under the row lock two concurrent advances add up rather than one overwriting the other.
    state = await org_states_repository.get_org_state(session, org.id, for_update=True)
    if state is None:
        raise ClockNotStarted()
    if state.clock_offset_minutes + minutes > MAX_OFFSET_MINUTES:
        message = f"would move the clock more than {MAX_OFFSET_YEARS} years ahead of real time"
        raise ValidationFailed([{"field": "minutes", "message": message}])
    await org_states_repository.advance_clock(session, state, minutes)
    return _clock(state)


def _clock(state: SandboxOrgState) -> OrgClock:
    return OrgClock(
        state.org_id,
        state.clock_started_at,
        state.clock_offset_minutes,
        simulated_now(state, utc_now()),
    )


# Telemetry --------------------------------------------------------------------------------------


async def take_snapshot(session: AsyncSession, plant_id: uuid.UUID) -> PlantTelemetry:
    plant = await admin_service.get_plant(session, plant_id)
    org = await orgs_service.get_org(session, plant.org_id)
    state = await org_states_repository.get_org_state(session, org.id)
    if state is None:
        raise ClockNotStarted()
    return snapshot_of(plant, org.slug, state, utc_now())


def snapshot_of(
    plant: SandboxPlant, org_slug: str, state: SandboxOrgState, real_now: datetime
) -> PlantTelemetry:
    at = simulated_now(state, real_now)
    battery = simulate(
        plant.time_configs, plant.capacity_kwh, started_at=state.clock_started_at, at=at
    )
    block = battery.active_block
    snapshot = TelemetrySnapshot(
        id=plant.id,
        external_plant_id=plant.external_plant_id,
        client_id=plant.client_id,
        org_id=plant.org_id,
        timestamp=at,
        soc=round(battery.soc, SOC_DECIMALS),
        p_bat=battery.p_bat,
        active_block=None if block is None else TimeConfigBlock.model_validate(block),
    )
    return PlantTelemetry(snapshot, routing_key(org_slug))


async def publish(publisher: TelemetryPublisher, telemetry: PlantTelemetry) -> PublishOutcome:
    return await publisher.publish(telemetry.routing_key, telemetry.body())


# A round takes an org only if no round (of any instance) has taken it within this share of the
# interval: with several instances, each org is published about once per interval, not once per
# instance.
_ROUND_LEASE_SHARE = 0.9


async def snapshots_of_this_round(session: AsyncSession, interval_s: float) -> list[PlantTelemetry]:
    """The snapshots of the enabled orgs this periodic round takes (see claim_telemetry_round)."""
    now = utc_now()
    since = now - timedelta(seconds=interval_s * _ROUND_LEASE_SHARE)
    claimed = await org_states_repository.claim_telemetry_round(session, now, unless_since=since)
    if not claimed:
        return []
    return [
        snapshot_of(plant, org.slug, state, now)
        for plant, org, state in await plants_repository.plants_of_enabled_orgs(session, claimed)
    ]


async def publish_every(
    interval_s: float,
    sessionmaker: async_sessionmaker[AsyncSession],
    publisher: TelemetryPublisher,
) -> None:
    """TELEMETRY_INTERVAL_S: snapshot and publish every plant of every enabled org, until
    cancelled. A round stops at the first message the broker does not take; the next tries again.
    """
    if not publisher.configured:
        logger.warning("TELEMETRY_INTERVAL_S is set but AMQP_URL is not: no periodic telemetry")
        return
    while True:
        await asyncio.sleep(interval_s)
        try:
            async with session_scope(sessionmaker) as session:
                batch = await snapshots_of_this_round(session, interval_s)
        except Exception:
            logger.exception("periodic telemetry: could not read the plants")
            continue
        for done, telemetry in enumerate(batch):
            outcome = await publish(publisher, telemetry)
            if not outcome.published:
                logger.warning(
                    "periodic telemetry: %d of %d snapshots not published: %s",
                    len(batch) - done,
                    len(batch),
                    outcome.reason,
                )
                break
