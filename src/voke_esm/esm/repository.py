"""Every query on the sandbox's own tables (voke_esm_clients, _plants, _config_updates)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from voke_esm.esm.models import ConfigUpdateRecord, SandboxClient, SandboxOrgState, SandboxPlant

# Clients ----------------------------------------------------------------------------------------


async def get_client(session: AsyncSession, client_id: str) -> SandboxClient | None:
    return await session.get(SandboxClient, client_id)


async def get_client_for_org(session: AsyncSession, org_id: uuid.UUID) -> SandboxClient | None:
    return await session.scalar(select(SandboxClient).where(SandboxClient.org_id == org_id))


async def delete_clients_for_org(session: AsyncSession, org_id: uuid.UUID) -> None:
    await session.execute(delete(SandboxClient).where(SandboxClient.org_id == org_id))


async def add_client(session: AsyncSession, client: SandboxClient) -> SandboxClient:
    session.add(client)
    await session.flush()
    return client


# Plants -----------------------------------------------------------------------------------------


async def count_plants_for_org(session: AsyncSession, org_id: uuid.UUID) -> int:
    query = select(func.count()).select_from(SandboxPlant).where(SandboxPlant.org_id == org_id)
    return await session.scalar(query) or 0


async def rebind_plants(session: AsyncSession, org_id: uuid.UUID, client_id: str) -> None:
    await session.execute(
        update(SandboxPlant)
        .where(SandboxPlant.org_id == org_id)
        .values(client_id=client_id)
        .execution_options(synchronize_session=False)
    )


async def list_plants(
    session: AsyncSession,
    *,
    client_id: str | None = None,
    org_id: uuid.UUID | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> Sequence[SandboxPlant]:
    query = (
        select(SandboxPlant)
        .order_by(SandboxPlant.created_at, SandboxPlant.id)
        .offset(offset)
        .limit(limit)
    )
    if client_id is not None:
        query = query.where(SandboxPlant.client_id == client_id)
    if org_id is not None:
        query = query.where(SandboxPlant.org_id == org_id)
    return (await session.scalars(query)).all()


async def get_plant(
    session: AsyncSession, plant_id: uuid.UUID, *, for_update: bool = False
) -> SandboxPlant | None:
    query = select(SandboxPlant).where(SandboxPlant.id == plant_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def get_plant_of_client(
    session: AsyncSession, client_id: str, external_plant_id: str, *, for_update: bool = False
) -> SandboxPlant | None:
    query = select(SandboxPlant).where(
        SandboxPlant.client_id == client_id, SandboxPlant.external_plant_id == external_plant_id
    )
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def add_plant(session: AsyncSession, plant: SandboxPlant) -> SandboxPlant:
    session.add(plant)
    await session.flush()
    return plant


async def flush(session: AsyncSession) -> None:
    await session.flush()


async def delete_plant(session: AsyncSession, plant: SandboxPlant) -> None:
    await session.delete(plant)
    await session.flush()


# Config updates ---------------------------------------------------------------------------------


async def get_config_update(
    session: AsyncSession, plant_id: uuid.UUID, code: str
) -> ConfigUpdateRecord | None:
    query = select(ConfigUpdateRecord).where(
        ConfigUpdateRecord.plant_id == plant_id, ConfigUpdateRecord.config_update_req_code == code
    )
    return await session.scalar(query)


async def add_config_update(session: AsyncSession, record: ConfigUpdateRecord) -> None:
    session.add(record)
    await session.flush()


# Per-org sandbox state ------------------------------------------------------------------------


async def get_org_state(session: AsyncSession, org_id: uuid.UUID) -> SandboxOrgState | None:
    return await session.get(SandboxOrgState, org_id)


async def restart_clock(session: AsyncSession, org_id: uuid.UUID, at: datetime) -> SandboxOrgState:
    """Start the org's simulated clock at real time `at`; faults and token lifetime stay."""
    state = await session.get(SandboxOrgState, org_id) or SandboxOrgState(org_id=org_id)
    state.clock_started_at = at
    state.clock_offset_minutes = 0.0
    session.add(state)
    await session.flush()
    return state
