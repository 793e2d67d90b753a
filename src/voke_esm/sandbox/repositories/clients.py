"""Every query on voke_esm_clients: an enabled org's OAuth2 client."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from voke_esm.sandbox.models import SandboxClient


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


async def plants_version(session: AsyncSession, client_id: str) -> int | None:
    """What the triggers keep of the client's plants: any change of one bumps it (read cache)."""
    return await session.scalar(
        select(SandboxClient.plants_version).where(SandboxClient.client_id == client_id)
    )
