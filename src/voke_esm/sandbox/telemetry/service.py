"""The org's simulated clock (CONTRACT §11) and telemetry snapshots of its plants (§8)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from voke_esm.contract.time_configs import TimeConfigBlock
from voke_esm.core.db import conflicts_retried, session_scope
from voke_esm.core.errors import Conflict, ValidationFailed
from voke_esm.core.schemas import FieldError, utc_now
from voke_esm.sandbox import locks
from voke_esm.sandbox import model as site_model
from voke_esm.sandbox.admin import service as admin_service
from voke_esm.sandbox.models import SandboxOrgState, SandboxPlant
from voke_esm.sandbox.repositories import org_states as org_states_repository
from voke_esm.sandbox.repositories import plants as plants_repository
from voke_esm.sandbox.telemetry import site
from voke_esm.sandbox.telemetry.publisher import PublishOutcome, TelemetryPublisher, routing_key
from voke_esm.sandbox.telemetry.schemas import (
    EARLIEST,
    LATEST,
    MAX_OFFSET_MINUTES,
    MAX_OFFSET_YEARS,
    ConditionItem,
    EnergyRead,
    TelemetrySnapshot,
)
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
    frozen: bool


@dataclass(frozen=True, slots=True)
class PlantTelemetry:
    snapshot: TelemetrySnapshot
    routing_key: str

    def body(self) -> bytes:
        return self.snapshot.model_dump_json(by_alias=True).encode()


def simulated_now(state: SandboxOrgState, real_now: datetime) -> datetime:
    """The clock follows real time from its start (standing still while frozen), plus whatever
    clock/advance added (see SandboxOrgState)."""
    real = state.clock_frozen_at or real_now
    return (
        state.clock_started_at
        + (real - state.clock_anchor_at)
        + timedelta(minutes=state.clock_offset_minutes)
    )


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


async def set_clock(
    session: AsyncSession, org_id: uuid.UUID, *, at: datetime | None, frozen: bool
) -> OrgClock:
    """§11's `PUT clock`: restart the simulation at `at` (if given), frozen or following real
    time. Without `at` the simulated time goes on from where it is; only `frozen` changes."""
    org = await orgs_service.get_org(session, org_id)
    state = await org_states_repository.get_org_state(session, org.id, for_update=True)
    if state is None:
        raise ClockNotStarted()
    await org_states_repository.set_clock(session, state, at=at, frozen=frozen, real_now=utc_now())
    return _clock(state)


def _clock(state: SandboxOrgState) -> OrgClock:
    return OrgClock(
        state.org_id,
        state.clock_started_at,
        state.clock_offset_minutes,
        simulated_now(state, utc_now()),
        state.clock_frozen_at is not None,
    )


# Telemetry --------------------------------------------------------------------------------------


async def take_snapshot(session: AsyncSession, plant_id: uuid.UUID) -> PlantTelemetry:
    plant = await admin_service.get_plant(session, plant_id)
    org = await orgs_service.get_org(session, plant.org_id)
    state = await org_states_repository.get_org_state(session, org.id)
    if state is None:
        raise ClockNotStarted()
    # The model's first walk over a long stretch of simulated time takes a while (later ones
    # hit its day cache): never on the event loop. The plant's columns are all loaded.
    return await asyncio.to_thread(snapshot_of, plant, org.slug, state, utc_now())


def snapshot_of(
    plant: SandboxPlant, org_slug: str, state: SandboxOrgState, real_now: datetime
) -> PlantTelemetry:
    """Schema version 2 (CONTRACT §8, §12): during a commsLoss the last values seen, stale."""
    at = simulated_now(state, real_now)
    now = site.reported_state(plant, state.clock_started_at, at)
    block = now.active_block
    snapshot = TelemetrySnapshot(
        id=plant.id,
        external_plant_id=plant.external_plant_id,
        client_id=plant.client_id,
        org_id=plant.org_id,
        timestamp=now.at,
        soc=round(now.soc, SOC_DECIMALS),
        p_bat=now.p_bat,
        active_block=None if block is None else TimeConfigBlock.model_validate(block.to_dict()),
        p_pv=now.p_pv,
        p_load=now.p_load,
        p_grid=now.p_grid,
        p_load_shed=now.p_load_shed,
        p_pv_curtailed=now.p_pv_curtailed,
        energy=EnergyRead.model_validate(now.energy.to_dict()),
        battery_state=now.battery_state,
        grid_status=now.grid_status,
        stale=now.stale,
        stale_since=now.stale_since,
        alarms=list(now.alarms),
        conventions=dict(site_model.CONVENTIONS),
    )
    return PlantTelemetry(snapshot, routing_key(org_slug))


# Timeseries (CONTRACT §12) ---------------------------------------------------------------------

MAX_POINTS = 2000
MAX_SPAN = timedelta(days=31)


@dataclass(frozen=True, slots=True)
class PlantTimeseries:
    plant: SandboxPlant
    start: datetime
    end: datetime
    step_minutes: int
    points: list[site_model.SiteState]


async def plant_timeseries(
    session: AsyncSession,
    plant_id: uuid.UUID,
    *,
    start: datetime | None,
    end: datetime | None,
    step_minutes: int,
) -> PlantTimeseries:
    """The plant's states from `start` to `end`; both left out: the current simulated UTC day,
    one left out: a day from (or to) the other."""
    plant = await admin_service.get_plant(session, plant_id)
    state = await org_states_repository.get_org_state(session, plant.org_id)
    if state is None:
        raise ClockNotStarted()
    day = timedelta(days=1)
    for name, given in (("from", start), ("to", end)):
        if given is not None and not EARLIEST + day <= given < LATEST - day:
            message = f"must be from {EARLIEST.year} up to before {LATEST.year}"
            raise ValidationFailed([{"field": name, "message": message}])
    if start is None and end is None:
        now = simulated_now(state, utc_now())
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if start is None:
        assert end is not None
        start = end - day
    if end is None:
        end = start + day
    if errors := _timeseries_errors(start, end, step_minutes):
        raise ValidationFailed(errors)
    points = await asyncio.to_thread(  # off the event loop, as take_snapshot
        site.timeseries, plant, state.clock_started_at, start, end, step_minutes
    )
    return PlantTimeseries(plant, start, end, step_minutes, points)


def _timeseries_errors(start: datetime, end: datetime, step_minutes: int) -> list[FieldError]:
    if end <= start:
        return [{"field": "to", "message": "must be after from"}]
    if end - start > MAX_SPAN:
        return [{"field": "to", "message": "at most 31 days after from"}]
    count = -(-(end - start) // timedelta(minutes=step_minutes))
    if count > MAX_POINTS:
        message = f"gives {count} points from from to to; at most {MAX_POINTS}"
        return [{"field": "stepMinutes", "message": message}]
    return []


# Conditions (CONTRACT §12) ---------------------------------------------------------------------


async def get_conditions(session: AsyncSession, plant_id: uuid.UUID) -> SandboxPlant:
    return await admin_service.get_plant(session, plant_id)


@conflicts_retried
async def set_conditions(
    session: AsyncSession, plant_id: uuid.UUID, items: list[ConditionItem]
) -> SandboxPlant:
    """Replace the plant's conditions; a change is a change of the plant (its ETag)."""
    if errors := site.check_conditions(items):
        raise ValidationFailed(errors)
    await locks.lock_org_of_plant(session, plant_id)  # the lock order: sandbox/locks.py
    plant = await admin_service.get_plant(session, plant_id, for_update=True)
    stored = site.stored_conditions(items)
    if stored != plant.conditions:
        plants_repository.write_plant(plant, {"conditions": stored}, at=utc_now())
        await plants_repository.flush(session)
        await plants_repository.refresh_revision(session, plant)
    await note_comms_losses(session, plant.org_id)
    return plant


async def comms_lost(
    session: AsyncSession, org_id: uuid.UUID, plants: Sequence[SandboxPlant]
) -> set[uuid.UUID]:
    """Which of the org's `plants` a commsLoss covers at the org's simulated now (§12)."""
    state = await org_states_repository.get_org_state(session, org_id)
    if state is None:
        return set()
    now = simulated_now(state, utc_now())
    return {plant.id for plant in plants if site.comms_lost(plant, now)}


async def note_comms_losses(session: AsyncSession, org_id: uuid.UUID) -> None:
    """Tell the trading path whether any plant of the org has a commsLoss to look at (the
    hint in SandboxOrgState). Called after every write of conditions, with the org locked."""
    state = await org_states_repository.get_org_state(session, org_id, for_update=True)
    if state is None:
        return
    plants = await plants_repository.plants_of_org(session, org_id)
    possible = any(site.has_comms_loss(plant.conditions) for plant in plants)
    if possible != state.comms_loss_possible:
        await org_states_repository.set_comms_loss_possible(session, state, possible)


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
    rows = await plants_repository.plants_of_enabled_orgs(session, claimed)

    def snapshots() -> list[PlantTelemetry]:
        return [
            snapshot_of(plant, org.slug, state, now)
            for plant, org, state in rows
            # §12: a plant in commsLoss publishes nothing (its snapshot on request says stale).
            if not site.comms_lost(plant, simulated_now(state, now))
        ]

    return await asyncio.to_thread(snapshots)  # off the event loop, as take_snapshot


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
