"""§11's sandbox tools under `/api/v1/voke-esm/admin`: SuperAdmin only, per org (`?orgId=`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from voke_esm.core.deps import SessionDep, SettingsDep
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
from voke_esm.sandbox.tools import service as tools_service
from voke_esm.sandbox.tools.schemas import (
    FaultsRead,
    FaultsWrite,
    JournalEntryRead,
    Snapshot,
    SnapshotPlant,
)
from voke_esm.sandbox.trading.journal import JournalRecorder
from voke_esm.voke.auth.deps import SuperAdmin

router = APIRouter(
    prefix="/api/v1/voke-esm/admin",
    tags=["Voke ESM (Sandbox tools)"],
    responses=error_responses(
        Unauthorized, Forbidden, ValidationFailed, InvalidUuid, NotFound, Conflict
    ),
)

OrgIdQuery = Annotated[uuid.UUID, Query(alias="orgId", description="the organization's UUID")]


# Journal ------------------------------------------------------------------------------------------


async def _recorded(request: Request) -> None:
    """Wait for the calls recorded so far to be written. Nothing of the request holds a
    connection yet (SuperAdmin reads on its own), so the writer can have it (SQLite has one)."""
    recorder: JournalRecorder = request.app.state.journal
    await recorder.flush()


JournalWritten = Depends(_recorded)


@router.get("/journal", response_model=list[JournalEntryRead], dependencies=[JournalWritten])
async def get_journal(
    org_id: OrgIdQuery,
    _: SuperAdmin,
    session: SessionDep,
    settings: SettingsDep,
    limit: Annotated[int | None, Query(ge=1, le=100_000, description="at most this many")] = None,
    since: Annotated[
        datetime | None,
        Query(description="only calls that arrived after this ISO 8601 time (exclusive)"),
    ] = None,
) -> list[JournalEntryRead]:
    """The org's trading calls, newest first: never a secret, a token or a header."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)  # a time without a zone is read as UTC, like all here
    entries = await tools_service.journal(
        session, org_id, since=since, limit=limit, journal_max=settings.voke_esm_journal_max
    )
    return [JournalEntryRead.model_validate(entry) for entry in entries]


@router.delete("/journal", response_model=MessageRead, dependencies=[JournalWritten])
async def delete_journal(org_id: OrgIdQuery, _: SuperAdmin, session: SessionDep) -> MessageRead:
    """Forget the org's journal."""
    org, count = await tools_service.clear_journal(session, org_id)
    entries = "1 entry" if count == 1 else f"{count} entries"
    return MessageRead(message=f"Journal of {org.name} cleared ({entries})")


# Faults -------------------------------------------------------------------------------------------


def _faults_read(setup: tools_service.FaultSetup) -> FaultsRead:
    return FaultsRead(
        rules=setup.rules,
        token_ttl_seconds=setup.token_ttl_seconds,
    )


@router.get("/faults", response_model=FaultsRead)
async def get_faults(org_id: OrgIdQuery, _: SuperAdmin, session: SessionDep) -> FaultsRead:
    """The org's fault rules (`count` is what is left of each) and its token lifetime."""
    return _faults_read(await tools_service.get_faults(session, org_id))


@router.put("/faults", response_model=FaultsRead)
async def put_faults(
    org_id: OrgIdQuery, body: FaultsWrite, _: SuperAdmin, session: SessionDep
) -> FaultsRead:
    """Replace the org's fault rules and token lifetime; they apply to the next trading call."""
    setup = await tools_service.set_faults(
        session,
        org_id,
        rules=body.rules,
        token_ttl_seconds=body.token_ttl_seconds,
    )
    return _faults_read(setup)


@router.delete("/faults", response_model=MessageRead)
async def delete_faults(org_id: OrgIdQuery, _: SuperAdmin, session: SessionDep) -> MessageRead:
    """Remove every fault rule of the org and give its tokens the default lifetime again."""
    org = await tools_service.clear_faults(session, org_id)
    return MessageRead(message=f"Faults of {org.name} cleared; tokens live the default time")


# Snapshot, restore, reset -------------------------------------------------------------------------


def _snapshot(plants: list[SandboxPlant]) -> Snapshot:
    return Snapshot(
        plants=[
            SnapshotPlant.model_validate(
                {
                    "externalPlantId": plant.external_plant_id,
                    "name": plant.name,
                    "description": plant.description,
                    "fvePeakPowerKwp": plant.fve_peak_power_kwp,
                    "capacityKwh": plant.capacity_kwh,
                    "configEnabled": plant.config_enabled,
                    "plantWithLoad": plant.plant_with_load,
                    "esiState": plant.esi_state,
                    "version": plant.config_version,
                    "timeConfigs": plant.time_configs,
                    "latitude": plant.latitude,
                    "longitude": plant.longitude,
                    "annualLoadKwh": plant.annual_load_kwh,
                    "roundTripEfficiency": plant.round_trip_efficiency,
                    "initialSoc": plant.initial_soc,
                    "simulation": plant.simulation,
                    "conditions": plant.conditions,
                }
            )
            for plant in plants
        ]
    )


@router.get("/snapshot", response_model=Snapshot)
async def get_snapshot(org_id: OrgIdQuery, _: SuperAdmin, session: SessionDep) -> Snapshot:
    """The org's sandbox plants with their configs and versions; the same state always gives
    the same document (it carries no time, and plants are ordered by externalPlantId)."""
    return _snapshot(await tools_service.snapshot(session, org_id))


@router.put("/snapshot", response_model=Snapshot)
async def put_snapshot(
    org_id: OrgIdQuery, body: Snapshot, _: SuperAdmin, session: SessionDep
) -> Snapshot:
    """Restore a snapshot: the org's plants become exactly those of the document."""
    return _snapshot(await tools_service.restore(session, org_id, body.plants))


@router.post("/reset", response_model=MessageRead)
async def reset(org_id: OrgIdQuery, _: SuperAdmin, session: SessionDep) -> MessageRead:
    """Delete the org's sandbox plants and create the default one again."""
    org, plant = await tools_service.reset(session, org_id)
    return MessageRead(
        message=f"Sandbox of {org.name} reset to its default plant {plant.external_plant_id}"
    )
