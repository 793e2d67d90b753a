"""The queries telemetry needs beyond `esm.repository`: the clock row under lock, every plant of
the enabled orgs with what a snapshot needs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from voke_esm.esm.models import SandboxClient, SandboxOrgState, SandboxPlant
from voke_esm.orgs.models import Org


async def get_org_state_for_update(
    session: AsyncSession, org_id: uuid.UUID
) -> SandboxOrgState | None:
    query = select(SandboxOrgState).where(SandboxOrgState.org_id == org_id).with_for_update()
    return await session.scalar(query)


async def flush(session: AsyncSession) -> None:
    await session.flush()


async def plants_of_enabled_orgs(
    session: AsyncSession,
) -> Sequence[Row[SandboxPlant, Org, SandboxOrgState]]:
    query = (
        select(SandboxPlant, Org, SandboxOrgState)
        .join(Org, Org.id == SandboxPlant.org_id)
        .join(SandboxClient, SandboxClient.org_id == Org.id)
        .join(SandboxOrgState, SandboxOrgState.org_id == Org.id)
        .order_by(Org.slug, SandboxPlant.created_at, SandboxPlant.id)
    )
    return (await session.execute(query)).all()
