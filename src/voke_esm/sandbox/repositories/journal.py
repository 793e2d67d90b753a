"""Every query on voke_esm_journal (CONTRACT §11): the journal of trading calls.

The trading path writes it (the batch writer, `voke_esm.sandbox.trading.journal`); the admin
tools read and clear it (`voke_esm.sandbox.tools.service`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from voke_esm.sandbox.models import JournalEntry
from voke_esm.voke.orgs.models import Org


@dataclass(frozen=True, slots=True)
class JournalFilter:
    """Which entries of an org a read wants; None leaves a criterion out. Times are exclusive."""

    since: datetime | None = None
    before: datetime | None = None
    path: str | None = None
    plant_id: str | None = None
    status: int | None = None
    result_code: str | None = None


async def list_entries(
    session: AsyncSession, org_id: uuid.UUID, matching: JournalFilter, *, limit: int
) -> Sequence[JournalEntry]:
    """The org's entries that match, newest first."""
    query = (
        select(JournalEntry)
        .where(JournalEntry.org_id == org_id)
        .order_by(JournalEntry.at.desc(), JournalEntry.id.desc())
        .limit(limit)
    )
    if matching.since is not None:
        query = query.where(JournalEntry.at > matching.since)
    if matching.before is not None:
        query = query.where(JournalEntry.at < matching.before)
    if matching.path is not None:
        query = query.where(JournalEntry.path == matching.path)
    if matching.plant_id is not None:
        query = query.where(JournalEntry.plant_id == matching.plant_id)
    if matching.status is not None:
        query = query.where(JournalEntry.status == matching.status)
    if matching.result_code is not None:
        query = query.where(JournalEntry.result_code == matching.result_code)
    return (await session.scalars(query)).all()


async def clear_entries(session: AsyncSession, org_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count()).select_from(JournalEntry).where(JournalEntry.org_id == org_id)
    )
    await session.execute(
        delete(JournalEntry)
        .where(JournalEntry.org_id == org_id)
        .execution_options(synchronize_session=False)
    )
    return count or 0


async def add_entries(
    session: AsyncSession, entries: list[dict[str, Any]], *, keep: int
) -> list[dict[str, Any]]:
    """Insert, then drop each org's entries beyond its newest `keep`; the entries written.

    The cut-off is found by walking at most `keep` entries of the (org_id, id) index, so the trim
    costs the same whatever the table holds, and usually deletes a row or none.
    """
    # The table, not the entity: a Core executemany, without the ORM's bulk-insert bookkeeping.
    table = cast(Table, JournalEntry.__table__)
    try:
        async with session.begin_nested():
            await session.execute(insert(table), entries)
    except IntegrityError:
        # An org was deleted since its call, and its journal with it (CONTRACT §3): leave its
        # entries out rather than lose the batch with the other orgs' entries. The orgs still
        # there are read with a key-share lock, which keeps them there until this commits.
        alive = set(
            await session.scalars(
                select(Org.id)
                .where(Org.id.in_({entry["org_id"] for entry in entries}))
                .with_for_update(read=True, key_share=True)
            )
        )
        entries = [entry for entry in entries if entry["org_id"] in alive]
        if not entries:
            return []
        await session.execute(insert(table), entries)
    for org_id in dict.fromkeys(entry["org_id"] for entry in entries):
        cutoff = (
            select(JournalEntry.id)
            .where(JournalEntry.org_id == org_id)
            .order_by(JournalEntry.id.desc())
            .offset(keep)
            .limit(1)
            .scalar_subquery()
        )
        await session.execute(
            delete(JournalEntry)
            .where(JournalEntry.org_id == org_id, JournalEntry.id <= cutoff)
            .execution_options(synchronize_session=False)
        )
    return entries
