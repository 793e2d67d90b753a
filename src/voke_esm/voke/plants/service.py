"""Voke plants (CONTRACT §3): the real side of the `externalPlantId` wire."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from pydantic import MISSING
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from voke_esm.contract.time_configs import TimeConfigJson
from voke_esm.core.errors import Conflict, NotFound
from voke_esm.voke.orgs import service as orgs_service
from voke_esm.voke.plants import repository
from voke_esm.voke.plants.models import Plant
from voke_esm.voke.plants.schemas import PlantUpdate


class PlantNotFound(NotFound):
    default_message = "Plant not found"


class ExternalPlantIdTaken(Conflict):
    field = "externalPlantId"
    default_message = "externalPlantId is already used by another plant of this organization"


async def list_plants(session: AsyncSession, org_id: uuid.UUID) -> Sequence[Plant]:
    await orgs_service.get_org(session, org_id)
    return await repository.list_for_org(session, org_id)


async def get_plant(session: AsyncSession, org_id: uuid.UUID, plant_id: uuid.UUID) -> Plant:
    await orgs_service.get_org(session, org_id)
    plant = await repository.get(session, org_id, plant_id)
    if plant is None:
        raise PlantNotFound()
    return plant


async def create_plant(
    session: AsyncSession, org_id: uuid.UUID, *, name: str, external_plant_id: str | None
) -> Plant:
    # Locked, so that a deletion of the org going on now finishes first and this is a 404.
    await orgs_service.get_org(session, org_id, for_update=True)
    plant = Plant(org_id=org_id, name=name, external_plant_id=external_plant_id, time_configs=[])
    try:
        async with session.begin_nested():
            return await repository.add(session, plant)
    except IntegrityError:
        raise ExternalPlantIdTaken() from None


async def update_plant(
    session: AsyncSession, org_id: uuid.UUID, plant_id: uuid.UUID, patch: PlantUpdate
) -> Plant:
    plant = await get_plant(session, org_id, plant_id)
    if patch.name is not MISSING:
        plant.name = patch.name
    if patch.external_plant_id is not MISSING:
        plant.external_plant_id = patch.external_plant_id
    try:
        async with session.begin_nested():
            await repository.flush(session)
    except IntegrityError:
        raise ExternalPlantIdTaken() from None
    return plant


async def delete_plant(session: AsyncSession, org_id: uuid.UUID, plant_id: uuid.UUID) -> None:
    await repository.delete(session, await get_plant(session, org_id, plant_id))


async def linked_plants(session: AsyncSession, org_id: uuid.UUID) -> Sequence[Plant]:
    """The org's plants wired to an ESM plant by `externalPlantId`."""
    return await repository.list_linked(session, org_id)


async def store_esm_config(
    session: AsyncSession,
    org_id: uuid.UUID,
    plant_id: uuid.UUID,
    *,
    time_configs: list[TimeConfigJson],
    version: int,
    at: datetime,
) -> Plant | None:
    """Keep the ESM's schedule on the Voke plant; None if the plant went away meanwhile."""
    plant = await repository.get(session, org_id, plant_id)
    if plant is None:
        return None
    plant.time_configs = time_configs
    plant.config_version = version
    plant.synced_at = at
    await repository.flush(session)
    return plant
