"""Every query of the sandbox tools: the journal, the org's tool state, plants by org."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from voke_esm.sandbox.models import ConfigUpdateRecord, JournalEntry, SandboxOrgState, SandboxPlant

# Journal (written by the trading path: voke_esm.sandbox.trading.repository) ------------------


async def list_journal(
    session: AsyncSession, org_id: uuid.UUID, *, since: datetime | None, limit: int
) -> Sequence[JournalEntry]:
    query = (
        select(JournalEntry)
        .where(JournalEntry.org_id == org_id)
        .order_by(JournalEntry.at.desc(), JournalEntry.id.desc())
        .limit(limit)
    )
    if since is not None:
        query = query.where(JournalEntry.at > since)
    return (await session.scalars(query)).all()


async def clear_journal(session: AsyncSession, org_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count()).select_from(JournalEntry).where(JournalEntry.org_id == org_id)
    )
    await session.execute(
        delete(JournalEntry)
        .where(JournalEntry.org_id == org_id)
        .execution_options(synchronize_session=False)
    )
    return count or 0


# Org tool state -----------------------------------------------------------------------------------


async def get_org_state(
    session: AsyncSession, org_id: uuid.UUID, *, for_update: bool = False
) -> SandboxOrgState | None:
    query = select(SandboxOrgState).where(SandboxOrgState.org_id == org_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(query)


async def flush(session: AsyncSession) -> None:
    await session.flush()


# Plants -------------------------------------------------------------------------------------------


async def plants_of_org(
    session: AsyncSession, org_id: uuid.UUID, *, for_update: bool = False
) -> Sequence[SandboxPlant]:
    query = (
        select(SandboxPlant)
        .where(SandboxPlant.org_id == org_id)
        .order_by(SandboxPlant.external_plant_id)
    )
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query)).all()


async def add_plant(session: AsyncSession, plant: SandboxPlant) -> None:
    session.add(plant)


async def delete_plant(session: AsyncSession, plant: SandboxPlant) -> None:
    await session.delete(plant)


async def forget_config_updates(session: AsyncSession, plant_ids: Sequence[uuid.UUID]) -> None:
    """Drop the remembered answers of these plants' `configUpdateReqCode`s."""
    if plant_ids:
        await session.execute(
            delete(ConfigUpdateRecord)
            .where(ConfigUpdateRecord.plant_id.in_(plant_ids))
            .execution_options(synchronize_session=False)
        )
