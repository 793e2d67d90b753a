"""The trading path's own statements: a config update's (prebuilt, run without the ORM), the
fault draw's read of the org's rules, and the journal writer's batch insert."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql import Executable
from sqlalchemy.sql.dml import Insert

from voke_esm.core.schemas import utc_now
from voke_esm.sandbox.models import ConfigUpdateRecord, JournalEntry, SandboxPlant
from voke_esm.voke.orgs.models import Org

# Config updates -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LockedPlantConfig:
    """What a config update needs of its plant, read with the plant row locked."""

    id: uuid.UUID
    external_plant_id: str
    config_enabled: bool
    config_version: int


# A config update's statements, built once and run on the session's connection without the
# ORM: at several hundred updates a second, building statements and loading entities cost more
# than the database's work.
_LOCK_PLANT_CONFIG = (
    select(
        SandboxPlant.id,
        SandboxPlant.external_plant_id,
        SandboxPlant.config_enabled,
        SandboxPlant.config_version,
    )
    .where(
        SandboxPlant.client_id == bindparam("client_id"),
        SandboxPlant.external_plant_id == bindparam("external_plant_id"),
    )
    .with_for_update()
)
_APPLY_CONFIG = (
    update(SandboxPlant)
    .where(SandboxPlant.id == bindparam("plant_row_id"))
    .values(
        time_configs=bindparam("new_time_configs", type_=SandboxPlant.time_configs.type),
        config_version=bindparam("new_config_version"),
        updated_at=bindparam("new_updated_at", type_=SandboxPlant.updated_at.type),
    )
)


async def lock_plant_config(
    session: AsyncSession, client_id: str, external_plant_id: str
) -> LockedPlantConfig | None:
    """The client's plant `external_plant_id`, its row locked until the transaction ends
    (FOR UPDATE; on SQLite the transaction holds the write lock from BEGIN IMMEDIATE)."""
    connection = await session.connection()
    parameters = {"client_id": client_id, "external_plant_id": external_plant_id}
    row = (await connection.execute(_LOCK_PLANT_CONFIG, parameters)).first()
    return None if row is None else LockedPlantConfig(*row)


def _remember_config_update(dialect: str) -> Insert:
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(ConfigUpdateRecord)
        .values(
            plant_id=bindparam("plant_row_id", type_=ConfigUpdateRecord.plant_id.type),
            config_update_req_code=bindparam("record_code"),
            response=bindparam("record_response", type_=ConfigUpdateRecord.response.type),
            created_at=bindparam("record_created_at", type_=ConfigUpdateRecord.created_at.type),
        )
        .on_conflict_do_nothing(index_elements=["plant_id", "config_update_req_code"])
        .returning(ConfigUpdateRecord.id)
    )


_REMEMBER_CONFIG_UPDATE = {
    dialect: _remember_config_update(dialect) for dialect in ("postgresql", "sqlite")
}


def _remember_and_apply_config() -> Executable:
    """PostgreSQL: remember the answer and, only if it is the code's first, apply the schedule,
    in one statement. The UPDATE sees the INSERT's RETURNING (never its row: one snapshot)."""
    remembered = _REMEMBER_CONFIG_UPDATE["postgresql"].cte("remembered")
    applied = (
        _APPLY_CONFIG.where(select(remembered.c.id).exists())
        .returning(SandboxPlant.id)
        .cte("applied")
    )
    return select(remembered.c.id).add_cte(applied)


_REMEMBER_AND_APPLY_CONFIG = _remember_and_apply_config()


async def record_config_update(
    session: AsyncSession,
    plant: LockedPlantConfig,
    code: str,
    answer: dict[str, Any],
    *,
    apply: list[Any] | None,
) -> bool:
    """Keep `answer` as the answer to `code` and, if `apply` holds a schedule, store it as config
    `answer["version"]` of the locked plant; False, with nothing written, when the plant has an
    answer to `code` already (a repeat gets the first answer).

    `INSERT … ON CONFLICT DO NOTHING RETURNING`: no savepoint, no failed statement to roll back
    on a repeat. On PostgreSQL the UPDATE rides in the same statement (a data-modifying CTE), one
    round trip fewer on every applied update; SQLite has no such CTEs, and runs its statements
    inline in microseconds.
    """
    connection = await session.connection()
    dialect = connection.dialect.name
    parameters: dict[str, Any] = {
        "plant_row_id": plant.id,
        "record_code": code,
        "record_response": answer,
        "record_created_at": utc_now(),
    }
    if apply is not None:
        parameters |= {
            "new_time_configs": apply,
            "new_config_version": answer["version"],
            "new_updated_at": parameters["record_created_at"],
        }
        if dialect == "postgresql":
            result = await connection.execute(_REMEMBER_AND_APPLY_CONFIG, parameters)
            return result.first() is not None
    remember = _REMEMBER_CONFIG_UPDATE[dialect]
    if (await connection.execute(remember, parameters)).first() is None:
        return False
    if apply is not None:
        await connection.execute(_APPLY_CONFIG, parameters)
    return True


# Journal ------------------------------------------------------------------------------------------


async def add_journal_entries(
    session: AsyncSession, entries: list[dict[str, Any]], *, keep: int
) -> None:
    """Insert, then drop each org's entries beyond its newest `keep`.

    The cut-off is found by walking at most `keep` entries of the (org_id, id) index, so the trim
    costs the same whatever the table holds, and usually deletes a row or none.
    """
    try:
        async with session.begin_nested():
            # Asked for inside the block: that is what makes the session emit the SAVEPOINT.
            await _insert_journal_entries(await session.connection(), entries)
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
            return
        await _insert_journal_entries(await session.connection(), entries)
    connection = await session.connection()
    for org_id in dict.fromkeys(entry["org_id"] for entry in entries):
        await connection.execute(_TRIM_JOURNAL, {"trim_org_id": org_id, "trim_keep": keep})


_JOURNAL_CUTOFF = (
    select(JournalEntry.id)
    .where(JournalEntry.org_id == bindparam("trim_org_id"))
    .order_by(JournalEntry.id.desc())
    .offset(bindparam("trim_keep"))
    .limit(1)
    .scalar_subquery()
)
_TRIM_JOURNAL = delete(JournalEntry).where(
    JournalEntry.org_id == bindparam("trim_org_id"), JournalEntry.id <= _JOURNAL_CUTOFF
)


@dataclass(frozen=True, slots=True)
class _JournalInsert:
    """The batch insert as the driver's own statement, with each column's bind processor.

    Through a Core `insert()` SQLAlchemy builds a parameter dict per row and runs every value
    through its processing machinery, on the event loop's thread with inline SQLite: about a
    quarter of a batch's CPU. Here a row is one tuple, and only the columns that need it (the
    org's UUID, the UTC timestamp) are converted, by the dialect's own processors: the stored
    values are exactly what the Core insert stored.
    """

    sql: str
    columns: tuple[tuple[str, Callable[[Any], Any] | None], ...]

    def rows(self, entries: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        columns = self.columns
        return [
            tuple(
                entry[name] if process is None else process(entry[name])
                for name, process in columns
            )
            for entry in entries
        ]


_SQLITE_JOURNAL_INSERT: list[_JournalInsert] = []  # built on first use


def _journal_insert(dialect: Dialect) -> _JournalInsert | None:
    """SQLite's insert, built once; None elsewhere, where Core does it: only inline SQLite runs
    the batch on the event loop's thread, and PostgreSQL's batch waits on the network."""
    if dialect.name != "sqlite":
        return None
    if not _SQLITE_JOURNAL_INSERT:
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
        _SQLITE_JOURNAL_INSERT.append(_JournalInsert(compiled.string, processors))
    return _SQLITE_JOURNAL_INSERT[0]


async def _insert_journal_entries(
    connection: AsyncConnection, entries: list[dict[str, Any]]
) -> None:
    statement = _journal_insert(connection.dialect)
    if statement is None:
        await connection.execute(insert(cast(Table, JournalEntry.__table__)), entries)
    else:
        await connection.exec_driver_sql(statement.sql, statement.rows(entries))
