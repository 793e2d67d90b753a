from __future__ import annotations

from fastapi import APIRouter

from voke_esm.core.deps import SessionDep
from voke_esm.core.errors import (
    Forbidden,
    InvalidUuid,
    Unauthorized,
    error_responses,
)
from voke_esm.core.openapi import documented
from voke_esm.core.schemas import MessageRead, OrgId, PlantId
from voke_esm.voke import examples
from voke_esm.voke.auth.deps import SuperAdmin
from voke_esm.voke.orgs.service import OrgNotFound
from voke_esm.voke.plants import service as plants_service
from voke_esm.voke.plants.schemas import PlantCreate, PlantRead, PlantUpdate
from voke_esm.voke.plants.service import ExternalPlantIdTaken as PlantExternalIdTaken
from voke_esm.voke.plants.service import PlantNotFound

router = APIRouter(
    prefix="/api/v1/orgs/{orgId}/plants",
    tags=["Voke plants"],
    responses=error_responses(InvalidUuid, Unauthorized, Forbidden, OrgNotFound),
)


@router.get(
    "",
    response_model=list[PlantRead],
    **documented("List the org's Voke plants", InvalidUuid, OrgNotFound, answer=[examples.PLANT]),
)
async def list_plants(org_id: OrgId, _: SuperAdmin, session: SessionDep) -> list[PlantRead]:
    return [
        PlantRead.model_validate(plant)
        for plant in await plants_service.list_plants(session, org_id)
    ]


@router.post(
    "",
    status_code=201,
    response_model=PlantRead,
    **documented(
        "Create a Voke plant, linked to an ESM plant by externalPlantId",
        examples.PLANT_NAME_EMPTY,
        InvalidUuid,
        OrgNotFound,
        PlantExternalIdTaken,
        request=examples.PLANT_CREATE,
        answer=examples.PLANT,
        status=201,
    ),
)
async def create_plant(
    org_id: OrgId, body: PlantCreate, _: SuperAdmin, session: SessionDep
) -> PlantRead:
    plant = await plants_service.create_plant(
        session, org_id, name=body.name, external_plant_id=body.external_plant_id
    )
    return PlantRead.model_validate(plant)


@router.get(
    "/{plantId}",
    response_model=PlantRead,
    **documented("Read a Voke plant", InvalidUuid, PlantNotFound, answer=examples.PLANT),
)
async def get_plant(
    org_id: OrgId, plant_id: PlantId, _: SuperAdmin, session: SessionDep
) -> PlantRead:
    return PlantRead.model_validate(await plants_service.get_plant(session, org_id, plant_id))


@router.patch(
    "/{plantId}",
    response_model=PlantRead,
    **documented(
        "Rename a Voke plant or change its link",
        examples.PLANT_NAME_EMPTY,
        InvalidUuid,
        PlantNotFound,
        PlantExternalIdTaken,
        request=examples.PLANT_UPDATE,
        answer=examples.PLANT,
    ),
)
async def update_plant(
    org_id: OrgId, plant_id: PlantId, body: PlantUpdate, _: SuperAdmin, session: SessionDep
) -> PlantRead:
    plant = await plants_service.update_plant(session, org_id, plant_id, body)
    return PlantRead.model_validate(plant)


@router.delete(
    "/{plantId}",
    response_model=MessageRead,
    **documented("Delete a Voke plant", InvalidUuid, PlantNotFound, answer=examples.PLANT_DELETED),
)
async def delete_plant(
    org_id: OrgId, plant_id: PlantId, _: SuperAdmin, session: SessionDep
) -> MessageRead:
    await plants_service.delete_plant(session, org_id, plant_id)
    return MessageRead(message="Plant deleted")
