"""The seed's `/api/v1/voke-esm/admin` endpoints; SuperAdmin only."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from voke_esm.core.deps import KeyringDep, SessionDep, SettingsDep
from voke_esm.core.errors import (
    Forbidden,
    InvalidUuid,
    Unauthorized,
    ValidationFailed,
    error_responses,
)
from voke_esm.core.openapi import documented
from voke_esm.core.schemas import MessageRead, OrgIdQuery, id_example
from voke_esm.sandbox import examples
from voke_esm.sandbox.admin import service as admin_service
from voke_esm.sandbox.admin.schemas import (
    EnableRead,
    SandboxPlantCreate,
    SandboxPlantRead,
    SandboxPlantUpdate,
    StatusRead,
)
from voke_esm.sandbox.admin.schemas import SandboxPlantPathId as PlantId
from voke_esm.sandbox.admin.service import ExternalPlantIdTaken, SandboxPlantNotFound
from voke_esm.voke.auth.deps import SuperAdmin
from voke_esm.voke.orgs.service import OrgNotFound

router = APIRouter(
    prefix="/api/v1/voke-esm/admin",
    tags=["Voke ESM (Admin)"],
    responses=error_responses(Unauthorized, Forbidden),
)

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="the plant's `ETag` as last read (or `*`): if the plant changed since, "
        "nothing is changed and the answer is 412 PRECONDITION_FAILED",
        openapi_examples={
            "tag": {"summary": "the ETag of the last GET", "value": examples.PLANT_ETAG}
        },
    ),
]


@router.post(
    "/enable",
    response_model=EnableRead,
    **documented(
        "Enable the sandbox for an org (new credentials)",
        ValidationFailed,
        InvalidUuid,
        OrgNotFound,
        answer=examples.ENABLED,
    ),
)
async def enable(
    org_id: OrgIdQuery,
    _: SuperAdmin,
    session: SessionDep,
    keyring: KeyringDep,
    settings: SettingsDep,
) -> EnableRead:
    """Enable Voke ESM for an organization (generates fresh credentials)."""
    issued = await admin_service.enable(session, keyring, org_id, esm_api_url=settings.esm_api_url)
    return EnableRead(
        client_id=issued.client_id,
        client_secret=issued.client_secret,
        esm_api_url=issued.esm_api_url,
    )


@router.post(
    "/disable",
    response_model=MessageRead,
    **documented(
        "Disable the sandbox for an org (revokes its credentials)",
        ValidationFailed,
        InvalidUuid,
        OrgNotFound,
        answer=examples.DISABLED,
    ),
)
async def disable(org_id: OrgIdQuery, _: SuperAdmin, session: SessionDep) -> MessageRead:
    """Disable Voke ESM for an organization."""
    org = await admin_service.disable(session, org_id)
    return MessageRead(message=f"Voke ESM disabled for {org.name}; its credentials are revoked")


@router.get(
    "/status",
    response_model=StatusRead,
    **documented(
        "Is the sandbox enabled for an org?",
        ValidationFailed,
        InvalidUuid,
        OrgNotFound,
        answer=examples.STATUS,
    ),
)
async def status(
    org_id: OrgIdQuery, _: SuperAdmin, session: SessionDep, settings: SettingsDep
) -> StatusRead:
    """Check Voke ESM status for an organization."""
    found = await admin_service.status(session, org_id, esm_api_url=settings.esm_api_url)
    enabled = found.client is not None
    return StatusRead(
        message=f"Voke ESM is {'enabled' if enabled else 'disabled'} for {found.org.name}",
        enabled=enabled,
        client_id=found.client.client_id if found.client else None,
        esm_api_url=found.esm_api_url if enabled else None,
        plant_count=found.plant_count,
        enabled_at=found.client.enabled_at if found.client else None,
    )


@router.get(
    "/plants",
    response_model=list[SandboxPlantRead],
    **documented(
        "List sandbox plants",
        ValidationFailed(
            [{"field": "limit", "message": "Input should be greater than or equal to 1"}]
        ),
        answer=[examples.SANDBOX_PLANT],
    ),
)
async def list_plants(
    _: SuperAdmin,
    session: SessionDep,
    client_id: Annotated[
        str | None,
        Query(
            alias="clientId",
            min_length=1,
            max_length=120,
            openapi_examples={"client": {"summary": "one client's", "value": examples.CLIENT_ID}},
        ),
    ] = None,
    org_id: Annotated[
        uuid.UUID | None,
        Query(
            alias="orgId",
            description="an org's plants, kept ones included",
            openapi_examples=id_example(
                "an organization's id (GET /api/v1/orgs)", "0b4f8c4e-8a52-4d6c-9d55-3f1f6c1e2a10"
            ),
        ),
    ] = None,
    limit: Annotated[
        int | None,
        Query(ge=1, le=100_000, openapi_examples={"page": {"summary": "a page", "value": 50}}),
    ] = None,
    offset: Annotated[
        int,
        Query(
            ge=0,
            le=2_000_000_000,
            openapi_examples={"second page": {"summary": "the second page", "value": 50}},
        ),
    ] = 0,
) -> Response:
    """List all plants (optionally of one `clientId`, a page at a time)."""
    document = await admin_service.plant_list_json(
        session, client_id=client_id, org_id=org_id, limit=limit, offset=offset
    )
    return Response(document, media_type="application/json")


@router.get(
    "/plants/{id}",
    response_model=SandboxPlantRead,
    **documented(
        "Read one sandbox plant (and its ETag)",
        InvalidUuid,
        SandboxPlantNotFound,
        answer=examples.SANDBOX_PLANT,
    ),
)
async def get_plant(
    id: PlantId, _: SuperAdmin, session: SessionDep, response: Response
) -> SandboxPlantRead:
    """Get a single Voke ESM plant by id; its `ETag` goes back as `If-Match` on PATCH or DELETE."""
    plant = await admin_service.get_plant(session, id)
    response.headers["ETag"] = admin_service.plant_etag(plant)
    return SandboxPlantRead.model_validate(plant)


@router.post(
    "/plants",
    status_code=201,
    response_model=SandboxPlantRead,
    **documented(
        "Create a sandbox plant",
        examples.BROKEN_BLOCKS,
        examples.UNBOUND_CLIENT,
        ExternalPlantIdTaken,
        request=examples.SANDBOX_PLANT_CREATE,
        answer=examples.SANDBOX_PLANT,
        status=201,
    ),
)
async def create_plant(
    body: SandboxPlantCreate, _: SuperAdmin, session: SessionDep
) -> SandboxPlantRead:
    """Create a Voke ESM plant; `clientId` must be bound to an enabled organization."""
    return SandboxPlantRead.model_validate(await admin_service.create_plant(session, body))


@router.patch(
    "/plants/{id}",
    response_model=SandboxPlantRead,
    **documented(
        "Change a sandbox plant",
        InvalidUuid,
        ValidationFailed(examples.ONE_BLOCK_WRONG_ERRORS),
        SandboxPlantNotFound,
        examples.PLANT_CHANGED,
        request=examples.SANDBOX_PLANT_UPDATE,
        answer=examples.SANDBOX_PLANT,
    ),
)
async def update_plant(
    id: PlantId,
    body: SandboxPlantUpdate,
    _: SuperAdmin,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> SandboxPlantRead:
    """Update a Voke ESM plant; `timeConfigs` other than the stored ones are a new config
    version, and a PATCH that changes nothing changes nothing (not even `updatedAt`)."""
    plant = await admin_service.update_plant(session, id, body, if_match=if_match)
    response.headers["ETag"] = admin_service.plant_etag(plant)
    return SandboxPlantRead.model_validate(plant)


@router.delete(
    "/plants/{id}",
    response_model=MessageRead,
    **documented(
        "Delete a sandbox plant",
        InvalidUuid,
        SandboxPlantNotFound,
        examples.PLANT_CHANGED,
        answer=examples.PLANT_DELETED,
    ),
)
async def delete_plant(
    id: PlantId, _: SuperAdmin, session: SessionDep, if_match: IfMatch = None
) -> MessageRead:
    """Delete a Voke ESM plant."""
    await admin_service.delete_plant(session, id, if_match=if_match)
    return MessageRead(message="Voke ESM plant deleted")
