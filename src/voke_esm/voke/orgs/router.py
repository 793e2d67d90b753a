from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends

from voke_esm.core.deps import SessionDep
from voke_esm.core.errors import (
    Forbidden,
    InvalidUuid,
    Unauthorized,
    error_responses,
)
from voke_esm.core.openapi import documented
from voke_esm.core.schemas import MessageRead, OrgId
from voke_esm.voke import examples
from voke_esm.voke.auth.deps import SuperAdmin
from voke_esm.voke.orgs import service as orgs_service
from voke_esm.voke.orgs.schemas import ConnectionsRead, OrgCreate, OrgRead
from voke_esm.voke.orgs.service import OrgLock, OrgNameTaken, OrgNotFound
from voke_esm.voke.services import VokeServicesDep

router = APIRouter(
    prefix="/api/v1/orgs", tags=["Orgs"], responses=error_responses(Unauthorized, Forbidden)
)


async def _deletion_locks(services: VokeServicesDep) -> Sequence[OrgLock]:
    """What create_app wired to be locked before an org's row goes (orgs_service.delete_org)."""
    return services.org_deletion_locks


DeletionLocks = Annotated[Sequence[OrgLock], Depends(_deletion_locks)]


@router.get(
    "", response_model=list[OrgRead], **documented("List organizations", answer=[examples.ORG])
)
async def list_orgs(_: SuperAdmin, session: SessionDep) -> list[OrgRead]:
    return [OrgRead.model_validate(org) for org in await orgs_service.list_orgs(session)]


@router.post(
    "",
    status_code=201,
    response_model=OrgRead,
    **documented(
        "Create an organization",
        examples.ORG_NAME_EMPTY,
        OrgNameTaken,
        request=examples.ORG_CREATE,
        answer=examples.ORG,
        status=201,
    ),
)
async def create_org(body: OrgCreate, _: SuperAdmin, session: SessionDep) -> OrgRead:
    """Create an organization; a name already taken, in any case, is 409."""
    return OrgRead.model_validate(await orgs_service.create_org(session, name=body.name))


@router.get(
    "/{orgId}",
    response_model=OrgRead,
    **documented("Read an organization", InvalidUuid, OrgNotFound, answer=examples.ORG),
)
async def get_org(org_id: OrgId, _: SuperAdmin, session: SessionDep) -> OrgRead:
    return OrgRead.model_validate(await orgs_service.get_org(session, org_id))


@router.delete(
    "/{orgId}",
    response_model=MessageRead,
    **documented(
        "Delete an organization and all of it",
        InvalidUuid,
        OrgNotFound,
        answer=examples.ORG_DELETED,
    ),
)
async def delete_org(
    org_id: OrgId, _: SuperAdmin, session: SessionDep, locks: DeletionLocks
) -> MessageRead:
    """Delete an organization and everything of it: its sandbox credentials (its trading tokens
    stop working at once), Voke plants, sandbox plants, journal, fault rules, clock and ORG_ADMIN
    users. Its name is free again."""
    org = await orgs_service.delete_org(session, org_id, lock_first=locks)
    return MessageRead(message=f"Organization {org.name} deleted")


@router.get(
    "/{orgId}/settings/connections",
    response_model=ConnectionsRead,
    **documented(
        "Read the org's ESM connection (never the secret)",
        InvalidUuid,
        OrgNotFound,
        answer=examples.CONNECTIONS,
    ),
)
async def get_connections(org_id: OrgId, _: SuperAdmin, session: SessionDep) -> ConnectionsRead:
    """The org's TradingPartnerConfig: whether ESM credentials are set, never the secret."""
    config = await orgs_service.get_connections(session, org_id)
    has_credentials = bool(config and config.esm_client_id)
    return ConnectionsRead(
        org_id=org_id,
        esm_credentials_set=has_credentials,
        client_id=config.esm_client_id if config else None,
        esm_api_url=config.esm_api_url if config else None,
        credentials_set_at=config.credentials_set_at if config else None,
    )
