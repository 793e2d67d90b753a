from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from voke_esm.voke.plants.models import Plant


async def get(session: AsyncSession, org_id: uuid.UUID, plant_id: uuid.UUID) -> Plant | None:
    return await session.scalar(select(Plant).where(Plant.id == plant_id, Plant.org_id == org_id))


async def list_for_org(session: AsyncSession, org_id: uuid.UUID) -> Sequence[Plant]:
    query = select(Plant).where(Plant.org_id == org_id).order_by(Plant.created_at, Plant.id)
    return (await session.scalars(query)).all()


async def list_linked(session: AsyncSession, org_id: uuid.UUID) -> Sequence[Plant]:
    query = select(Plant).where(Plant.org_id == org_id, Plant.external_plant_id.is_not(None))
    return (await session.scalars(query.order_by(Plant.created_at, Plant.id))).all()


async def add(session: AsyncSession, plant: Plant) -> Plant:
    session.add(plant)
    await session.flush()
    return plant


async def flush(session: AsyncSession) -> None:
    await session.flush()


async def delete(session: AsyncSession, plant: Plant) -> None:
    await session.delete(plant)
    await session.flush()
