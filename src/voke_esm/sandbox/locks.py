"""The lock order of every transaction that writes an org's sandbox plants.

Every transaction that writes an org's sandbox plants (enable, disable, plant create, PATCH and
DELETE, snapshot restore, reset: CONTRACT §4, §11) takes its locks in this order:

  1. the org's row (one of the `lock_org…` functions below, before anything else),
  2. the org's plant rows (`lock_plants_of_org`, or the plant rows it reads FOR UPDATE),
  3. the org's client row, which the plants' triggers update (plants_version).

Without it, plant creation locked the client row (its trigger) and then needed a share lock on
the org's row (the INSERT's foreign key), while a reset held the org's row and needed the client
row (the DELETE's trigger): PostgreSQL answered "deadlock detected". Writers that start at the
org queue behind one another instead.

A trading config update is the one exception, as it is the hot path: it locks its one plant row
and no row after it that such a writer holds first (its UPDATE changes no listed column, so no
client row), so it cannot close a cycle, and updates of different plants never queue on the org.

The org's row is taken FOR NO KEY UPDATE: it excludes the other writers of the org (and the
org's deletion), while inserts that merely reference the org (journal entries, foreign-key
checks) go on. On SQLite, BEGIN IMMEDIATE already lets one writer in at a time: nothing to take.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from voke_esm.sandbox.models import SandboxClient, SandboxPlant
from voke_esm.voke.orgs.models import Org


def _org_lock(query: Select[uuid.UUID]) -> Select[uuid.UUID]:
    return query.with_for_update(key_share=True, of=Org)


async def _take_org_lock(session: AsyncSession, query: Select[uuid.UUID]) -> None:
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        await connection.execute(_org_lock(query))


async def lock_org(session: AsyncSession, org_id: uuid.UUID) -> None:
    """Lock the org's row until the transaction ends: step 1 of the lock order above."""
    await _take_org_lock(session, select(Org.id).where(Org.id == org_id))


async def lock_org_of_client(session: AsyncSession, client_id: str) -> None:
    """`lock_org` for the org `client_id` belongs to, if any; read the client after it."""
    query = (
        select(Org.id)
        .join(SandboxClient, SandboxClient.org_id == Org.id)
        .where(SandboxClient.client_id == client_id)
    )
    await _take_org_lock(session, query)


async def lock_org_of_plant(session: AsyncSession, plant_id: uuid.UUID) -> None:
    """`lock_org` for the org of the sandbox plant `plant_id`, if any; read the plant after it."""
    query = (
        select(Org.id)
        .join(SandboxPlant, SandboxPlant.org_id == Org.id)
        .where(SandboxPlant.id == plant_id)
    )
    await _take_org_lock(session, query)


async def lock_plants_of_org(session: AsyncSession, org_id: uuid.UUID) -> None:
    """Step 2: lock the org's plant rows before anything takes its client row.

    A change of a plant locks its row, then (by trigger) its client's row; deleting the org
    takes them in that order too, so that it waits for such a change instead of deadlocking.
    """
    await session.execute(
        select(SandboxPlant.id)
        .where(SandboxPlant.org_id == org_id)
        .order_by(SandboxPlant.id)
        .with_for_update()
    )
