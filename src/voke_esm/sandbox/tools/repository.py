"""Every query on voke_esm_journal (CONTRACT §11): the journal of trading calls."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from voke_esm.sandbox.models import JournalEntry

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
