"""Every query on voke_esm_journal (CONTRACT §11): the journal of trading calls.

The trading path writes it (the batch writer, `voke_esm.sandbox.trading.journal`); the admin
tools read and clear it (`voke_esm.sandbox.tools.service`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

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
    try:
        async with session.begin_nested():
            # Asked for inside the block: that is what makes the session emit the SAVEPOINT.
            await _insert_entries(await session.connection(), entries)
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
        await _insert_entries(await session.connection(), entries)
    connection = await session.connection()
    for org_id in dict.fromkeys(entry["org_id"] for entry in entries):
        await connection.execute(_TRIM, {"trim_org_id": org_id, "trim_keep": keep})
    return entries


_CUTOFF = (
    select(JournalEntry.id)
    .where(JournalEntry.org_id == bindparam("trim_org_id"))
    .order_by(JournalEntry.id.desc())
    .offset(bindparam("trim_keep"))
    .limit(1)
    .scalar_subquery()
)
_TRIM = delete(JournalEntry).where(
    JournalEntry.org_id == bindparam("trim_org_id"), JournalEntry.id <= _CUTOFF
)


@dataclass(frozen=True, slots=True)
class _BatchInsert:
    """The batch insert as the driver's own statement, with each column's bind processor.

    Through a Core `insert()` SQLAlchemy builds a parameter dict per row and runs every value
    through its processing machinery, on the event loop's thread with inline SQLite: about a
    quarter of a batch's CPU. Here a row is one tuple, and only the columns that need it (the
    org's UUID, the UTC timestamp, the JSON details) are converted, by the dialect's own
    processors: the stored values are exactly what the Core insert stored.
    """

    sql: str
    columns: tuple[tuple[str, Callable[[Any], Any] | None], ...]

    def rows(self, entries: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        """A tuple per entry; a column an entry leaves out is NULL, as Core would store it."""
        columns = self.columns
        return [
            tuple(
                entry.get(name) if process is None else process(entry.get(name))
                for name, process in columns
            )
            for entry in entries
        ]


_SQLITE_BATCH_INSERT: list[_BatchInsert] = []  # built on first use


def _batch_insert(dialect: Dialect) -> _BatchInsert | None:
    """SQLite's insert, built once; None elsewhere, where Core does it: only inline SQLite runs
    the batch on the event loop's thread, and PostgreSQL's batch waits on the network."""
    if dialect.name != "sqlite":
        return None
    if not _SQLITE_BATCH_INSERT:
        table = cast(Table, JournalEntry.__table__)
        names = [column.name for column in table.columns if not column.primary_key]
        compiled = (
            insert(table).values({name: bindparam(name) for name in names}).compile(dialect=dialect)
        )
        order = compiled.positiontup or []  # SQLite's paramstyle is positional (qmark)
        processors = tuple(
            (name, table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in order
        )
        _SQLITE_BATCH_INSERT.append(_BatchInsert(compiled.string, processors))
    return _SQLITE_BATCH_INSERT[0]


async def _insert_entries(connection: AsyncConnection, entries: list[dict[str, Any]]) -> None:
    statement = _batch_insert(connection.dialect)
    if statement is None:
        # The table, not the entity: a Core executemany, without the ORM's bookkeeping.
        await connection.execute(insert(cast(Table, JournalEntry.__table__)), entries)
    else:
        await connection.exec_driver_sql(statement.sql, statement.rows(entries))
