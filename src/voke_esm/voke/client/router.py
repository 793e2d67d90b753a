"""Voke's side of the trading flow: sync from the ESM, push a schedule to it (CONTRACT §7)."""

from __future__ import annotations

from fastapi import APIRouter

from voke_esm.core.errors import (
    Forbidden,
    InvalidUuid,
    Unauthorized,
    error_responses,
)
from voke_esm.core.openapi import documented
from voke_esm.core.schemas import OrgId, PlantId
from voke_esm.voke import examples
from voke_esm.voke.auth.deps import SuperAdmin
from voke_esm.voke.client import service as client_service
from voke_esm.voke.client.schemas import ConfigUpdateAnswer, SyncReportRead, TimeConfigsPush
from voke_esm.voke.client.service import (
    EsmCallFailed,
    NoEsmCredentials,
    PlantNotLinked,
    SyncAlreadyRunning,
)
from voke_esm.voke.orgs.service import OrgNotFound
from voke_esm.voke.plants.service import PlantNotFound
from voke_esm.voke.services import VokeServicesDep

router = APIRouter(
    prefix="/api/v1/orgs/{orgId}",
    tags=["Voke trading"],
    responses=error_responses(Unauthorized, Forbidden),
)


@router.post(
    "/trading/sync",
    response_model=SyncReportRead,
    **documented(
        "Sync the org's plants from its ESM now",
        InvalidUuid,
        OrgNotFound,
        NoEsmCredentials,
        SyncAlreadyRunning,
        EsmCallFailed,
        answer=examples.SYNC_REPORT,
    ),
)
async def sync_now(
    org_id: OrgId,
    _: SuperAdmin,
    services: VokeServicesDep,
) -> SyncReportRead:
    """Run one trading sync of the org now: token, plant list, config of each linked plant."""
    # No request session: the sync opens short ones of its own between its outbound calls, so
    # no transaction is held across HTTP (the ESM called may be this very process).
    report = await client_service.sync_org(
        services.sessionmaker, services.keyring, services.esm_clients, org_id
    )
    return SyncReportRead.model_validate(report, from_attributes=True)


@router.put(
    "/plants/{plantId}/time-configs",
    response_model=ConfigUpdateAnswer,
    **documented(
        "Push a schedule to the ESM for a Voke plant",
        examples.PUSH_BROKEN,
        PlantNotLinked,
        InvalidUuid,
        PlantNotFound,
        NoEsmCredentials,
        EsmCallFailed,
        request=examples.PUSH,
        answer=examples.PUSH_ANSWER,
        description="The schedule is checked first (a 400 lists what breaks the rules, before "
        "any call); the ESM's own `cfg_rejected` is a 400 too, listing the ESM's errors. On "
        "`applied_ok` the plant stores the schedule and its new version.",
    ),
)
async def push_time_configs(
    org_id: OrgId,
    plant_id: PlantId,
    body: TimeConfigsPush,
    _: SuperAdmin,
    services: VokeServicesDep,
) -> ConfigUpdateAnswer:
    """Send a schedule to the ESM's config/update; on `applied_ok` it is stored on the plant."""
    return await client_service.push_time_configs(
        services.sessionmaker,
        services.keyring,
        services.esm_clients,
        org_id,
        plant_id,
        time_configs=[block.as_json() for block in body.time_configs],
        validate_only=body.validate_only,
    )
