"""§11's sandbox tools under `/api/v1/voke-esm/admin`: SuperAdmin only, per org (`?orgId=`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from voke_esm.core.deps import SessionDep, SettingsDep
from voke_esm.core.errors import (
    Forbidden,
    InvalidUuid,
    Unauthorized,
    ValidationFailed,
    error_responses,
)
from voke_esm.core.openapi import documented
from voke_esm.core.schemas import MessageRead, OrgIdQuery
from voke_esm.sandbox import examples
from voke_esm.sandbox.models import SandboxPlant
from voke_esm.sandbox.repositories.journal import JournalFilter
from voke_esm.sandbox.services import SandboxServicesDep
from voke_esm.sandbox.tools import service as tools_service
from voke_esm.sandbox.tools.schemas import (
    FaultEndpoint,
    FaultsRead,
    FaultsWrite,
    JournalEntryRead,
    QuirkRead,
    QuirksRead,
    QuirksWrite,
    Snapshot,
    SnapshotPlant,
)
from voke_esm.sandbox.tools.service import NeverEnabled
from voke_esm.sandbox.trading.quirks import QUIRKS
from voke_esm.voke.auth.deps import SuperAdmin
from voke_esm.voke.orgs.service import OrgNotFound

router = APIRouter(
    prefix="/api/v1/voke-esm/admin",
    tags=["Voke ESM (Sandbox tools)"],
    responses=error_responses(Unauthorized, Forbidden),
)

# What every tool answers for an org it cannot find: no orgId, not a UUID, no such org. Those that
# make plants or rules answer 409 too for an org never enabled (it has no sandbox yet).
_ORG_ERRORS = (ValidationFailed, InvalidUuid, OrgNotFound)


# Journal ------------------------------------------------------------------------------------------


async def _recorded(services: SandboxServicesDep) -> None:
    """Wait for the calls recorded so far to be written. Nothing of the request holds a
    connection yet (SuperAdmin reads on its own), so the writer can have it (SQLite has one)."""
    await services.journal.flush()


JournalWritten = Depends(_recorded)


MAX_JOURNAL_WAIT_S = 30  # CONTRACT §11

JournalTime = Annotated[
    datetime | None,
    Query(description="an ISO 8601 time (exclusive); without a zone it is read as UTC"),
]


def _utc(moment: datetime | None) -> datetime | None:
    """A time without a zone is read as UTC, like all here."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


@router.get(
    "/journal",
    response_model=list[JournalEntryRead],
    dependencies=[JournalWritten],
    **documented("Read the org's journal of trading calls", *_ORG_ERRORS, answer=examples.JOURNAL),
)
async def get_journal(
    services: SandboxServicesDep,
    org_id: OrgIdQuery,
    _: SuperAdmin,
    settings: SettingsDep,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=100_000,
            description="at most this many",
            openapi_examples={"last ten": {"summary": "the last ten calls", "value": 10}},
        ),
    ] = None,
    since: Annotated[
        datetime | None,
        Query(
            description="only calls that arrived after this ISO 8601 time (exclusive)",
            openapi_examples={
                "since": {"summary": "after a moment", "value": "2026-11-22T09:30:00Z"}
            },
        ),
    ] = None,
    before: Annotated[
        datetime | None,
        Query(
            description="only calls that arrived before this ISO 8601 time (exclusive): "
            "the next older page is `before` the oldest entry of this one",
            openapi_examples={
                "before": {"summary": "before a moment", "value": "2026-11-22T09:30:00Z"}
            },
        ),
    ] = None,
    endpoint: Annotated[
        FaultEndpoint | None,
        Query(
            description="only calls of this trading endpoint, named as in fault rules; `*`: any",
            openapi_examples={
                "updates": {"summary": "config updates", "value": "plant/config/update"}
            },
        ),
    ] = None,
    plant_id: Annotated[
        str | None,
        Query(
            alias="plantId",
            min_length=1,
            max_length=120,
            description="only calls about it",
            openapi_examples={"plant": {"summary": "one plant", "value": "PLANT-C49EF333"}},
        ),
    ] = None,
    status: Annotated[
        int | None,
        Query(
            ge=0,
            le=599,
            description="only calls answered with it (0: dropped by a fault)",
            openapi_examples={"refused": {"summary": "refused bodies", "value": 400}},
        ),
    ] = None,
    result_code: Annotated[
        str | None,
        Query(
            alias="resultCode",
            min_length=1,
            max_length=32,
            description="only config updates answered with it, e.g. `cfg_rejected`",
            openapi_examples={
                "rejected": {"summary": "rejected schedules", "value": "cfg_rejected"}
            },
        ),
    ] = None,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=MAX_JOURNAL_WAIT_S,
            allow_inf_nan=False,
            description="seconds (0 to 30) to wait for a matching entry when there is none yet: "
            "answered as soon as one is recorded, `[]` when the time is up",
            openapi_examples={"five seconds": {"summary": "wait up to 5 s", "value": 5}},
        ),
    ] = 0,
) -> list[JournalEntryRead]:
    """The org's trading calls, newest first: never a secret, a token or a header.

    No connection is held while it waits: each look at the journal is a transaction of its own.
    """
    matching = JournalFilter(
        since=_utc(since),
        before=_utc(before),
        path=tools_service.endpoint_path(endpoint),
        plant_id=plant_id,
        status=status,
        result_code=result_code,
    )
    entries = await tools_service.journal(
        services.sessionmaker,
        services.journal,
        org_id,
        matching=matching,
        limit=limit,
        journal_max=settings.voke_esm_journal_max,
        wait_s=wait,
    )
    return [JournalEntryRead.model_validate(entry) for entry in entries]


@router.delete(
    "/journal",
    response_model=MessageRead,
    dependencies=[JournalWritten],
    **documented("Clear the org's journal", *_ORG_ERRORS, answer=examples.JOURNAL_CLEARED),
)
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
        rate_limit=setup.rate_limit,
    )


@router.get(
    "/faults",
    response_model=FaultsRead,
    **documented("Read the org's fault rules", *_ORG_ERRORS, answer=examples.FAULTS),
)
async def get_faults(org_id: OrgIdQuery, _: SuperAdmin, session: SessionDep) -> FaultsRead:
    """The org's fault rules (`count` is what is left of each) and its token lifetime."""
    return _faults_read(await tools_service.get_faults(session, org_id))


@router.put(
    "/faults",
    response_model=FaultsRead,
    **documented(
        "Set the org's fault rules and token lifetime",
        *_ORG_ERRORS,
        NeverEnabled,
        request=examples.FAULTS_WRITE,
        answer=examples.FAULTS,
    ),
)
async def put_faults(
    org_id: OrgIdQuery, body: FaultsWrite, _: SuperAdmin, session: SessionDep
) -> FaultsRead:
    """Replace the org's fault rules, token lifetime and rate limit; they apply to the next
    trading call."""
    setup = await tools_service.set_faults(
        session,
        org_id,
        rules=body.rules,
        token_ttl_seconds=body.token_ttl_seconds,
        rate_limit=body.rate_limit,
    )
    return _faults_read(setup)


@router.delete(
    "/faults",
    response_model=MessageRead,
    **documented("Remove the org's fault rules", *_ORG_ERRORS, answer=examples.FAULTS_CLEARED),
)
async def delete_faults(org_id: OrgIdQuery, _: SuperAdmin, session: SessionDep) -> MessageRead:
    """Remove every fault rule of the org; its tokens' lifetime and its rate limit are the
    service's again."""
    org = await tools_service.clear_faults(session, org_id)
    return MessageRead(message=f"Faults of {org.name} cleared; tokens live the default time")


# Quirks (CONTRACT §14) ----------------------------------------------------------------------------


def _quirks_read(chosen: list[str]) -> QuirksRead:
    available = [
        QuirkRead(name=quirk.name, check=quirk.check, description=quirk.description)
        for quirk in QUIRKS.values()
    ]
    return QuirksRead(quirks=chosen, available=available)


@router.get(
    "/quirks",
    response_model=QuirksRead,
    **documented(
        "Read the org's quirks, and every quirk there is", *_ORG_ERRORS, answer=examples.QUIRKS
    ),
)
async def get_quirks(org_id: OrgIdQuery, _: SuperAdmin, session: SessionDep) -> QuirksRead:
    """The org's quirks (named misbehaviours of its trading API), and every quirk there is."""
    return _quirks_read(await tools_service.get_quirks(session, org_id))


@router.put(
    "/quirks",
    response_model=QuirksRead,
    **documented(
        "Make the org's trading API misbehave on purpose",
        *_ORG_ERRORS,
        NeverEnabled,
        request=examples.QUIRKS_WRITE,
        answer=examples.QUIRKS,
    ),
)
async def put_quirks(
    org_id: OrgIdQuery, body: QuirksWrite, _: SuperAdmin, session: SessionDep
) -> QuirksRead:
    """Replace the org's quirks; they apply to its next trading call."""
    return _quirks_read(await tools_service.set_quirks(session, org_id, body.quirks))


@router.delete(
    "/quirks",
    response_model=MessageRead,
    **documented("Switch every quirk of the org off", *_ORG_ERRORS, answer=examples.QUIRKS_CLEARED),
)
async def delete_quirks(org_id: OrgIdQuery, _: SuperAdmin, session: SessionDep) -> MessageRead:
    """Switch every quirk of the org off: its trading API keeps the contract again."""
    org = await tools_service.clear_quirks(session, org_id)
    return MessageRead(message=f"Quirks of {org.name} cleared")


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


@router.get(
    "/snapshot",
    response_model=Snapshot,
    **documented("Save the org's plants as one document", *_ORG_ERRORS, answer=examples.SNAPSHOT),
)
async def get_snapshot(org_id: OrgIdQuery, _: SuperAdmin, session: SessionDep) -> Snapshot:
    """The org's sandbox plants with their configs and versions; the same state always gives
    the same document (it carries no time, and plants are ordered by externalPlantId)."""
    return _snapshot(await tools_service.snapshot(session, org_id))


@router.put(
    "/snapshot",
    response_model=Snapshot,
    **documented(
        "Restore the org's plants from a snapshot",
        *_ORG_ERRORS,
        NeverEnabled,
        request=examples.SNAPSHOT,
        answer=examples.SNAPSHOT,
    ),
)
async def put_snapshot(
    org_id: OrgIdQuery, body: Snapshot, _: SuperAdmin, session: SessionDep
) -> Snapshot:
    """Restore a snapshot: the org's plants become exactly those of the document."""
    return _snapshot(await tools_service.restore(session, org_id, body.plants))


@router.post(
    "/reset",
    response_model=MessageRead,
    **documented(
        "Reset the org to its default plant", *_ORG_ERRORS, NeverEnabled, answer=examples.RESET
    ),
)
async def reset(org_id: OrgIdQuery, _: SuperAdmin, session: SessionDep) -> MessageRead:
    """Delete the org's sandbox plants and create the default one again."""
    org, plant = await tools_service.reset(session, org_id)
    return MessageRead(
        message=f"Sandbox of {org.name} reset to its default plant {plant.external_plant_id}"
    )
