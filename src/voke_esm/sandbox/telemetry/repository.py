"""The queries telemetry needs beyond `sandbox.repository`: the clock row under lock, every plant of
the enabled orgs with what a snapshot needs."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import Row, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from voke_esm.sandbox.models import SandboxClient, SandboxOrgState, SandboxPlant
from voke_esm.voke.orgs.models import Org


async def get_org_state_for_update(
    session: AsyncSession, org_id: uuid.UUID
) -> SandboxOrgState | None:
    query = select(SandboxOrgState).where(SandboxOrgState.org_id == org_id).with_for_update()
    return await session.scalar(query)


async def flush(session: AsyncSession) -> None:
    await session.flush()


async def plants_of_enabled_orgs(
    session: AsyncSession, org_ids: Collection[uuid.UUID]
) -> Sequence[Row[SandboxPlant, Org, SandboxOrgState]]:
    query = (
        select(SandboxPlant, Org, SandboxOrgState)
        .join(Org, Org.id == SandboxPlant.org_id)
        .join(SandboxClient, SandboxClient.org_id == Org.id)
        .join(SandboxOrgState, SandboxOrgState.org_id == Org.id)
        .where(Org.id.in_(org_ids))
        .order_by(Org.slug, SandboxPlant.created_at, SandboxPlant.id)
    )
    return (await session.execute(query)).all()


async def claim_telemetry_round(
    session: AsyncSession, now: datetime, *, unless_since: datetime
) -> list[uuid.UUID]:
    """Take for this round every enabled org no round has taken since `unless_since`, on any
    instance.

    One UPDATE: of two instances running rounds at once, each org goes to exactly one. A
    disabled org (no client) keeps its state row untouched.
    """
    statement = (
        update(SandboxOrgState)
        .where(
            SandboxOrgState.org_id.in_(select(SandboxClient.org_id)),
            or_(
                SandboxOrgState.telemetry_round_at.is_(None),
                SandboxOrgState.telemetry_round_at <= unless_since,
            ),
        )
        .values(telemetry_round_at=now, updated_at=SandboxOrgState.updated_at)
        .returning(SandboxOrgState.org_id)
        .execution_options(synchronize_session=False)
    )
    return list((await session.scalars(statement)).all())
