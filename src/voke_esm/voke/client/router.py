"""Voke's side of the trading flow: sync from the ESM, push a schedule to it (CONTRACT §7)."""

from __future__ import annotations

from fastapi import APIRouter

from voke_esm.core.errors import (
    Conflict,
    Forbidden,
    InvalidUuid,
    NotFound,
    Unauthorized,
    ValidationFailed,
    error_responses,
)
from voke_esm.core.schemas import OrgId, PlantId
from voke_esm.voke.auth.deps import SuperAdmin
from voke_esm.voke.client import service as client_service
from voke_esm.voke.client.schemas import ConfigUpdateAnswer, SyncReportRead, TimeConfigsPush
from voke_esm.voke.client.service import EsmCallFailed
from voke_esm.voke.services import VokeServicesDep

router = APIRouter(
    prefix="/api/v1/orgs/{orgId}",
    tags=["Voke trading"],
    responses=error_responses(
        InvalidUuid, Unauthorized, Forbidden, NotFound, Conflict, EsmCallFailed
    ),
)


@router.post("/trading/sync", response_model=SyncReportRead)
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
    responses=error_responses(ValidationFailed),
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
