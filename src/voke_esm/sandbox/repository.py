"""Every query on the sandbox's own tables (voke_esm_clients, _plants, _config_updates)."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Subquery,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.sql import Executable

from voke_esm.core.db import SQLITE_LOCK_TIMEOUT_S, json_value
from voke_esm.core.schemas import utc_now
from voke_esm.core.sqlite_inline import when_unlocked
from voke_esm.sandbox.models import ConfigUpdateRecord, SandboxClient, SandboxOrgState, SandboxPlant
from voke_esm.voke.orgs.models import Org

if TYPE_CHECKING:
    import asyncpg

# The lock order ---------------------------------------------------------------------------------
#
# Every transaction that writes an org's sandbox plants (enable, disable, plant create, PATCH and
# DELETE, snapshot restore, reset: CONTRACT §4, §11) takes its locks in this order:
#
#   1. the org's row (one of the `lock_org…` functions below, before anything else),
#   2. the org's plant rows,
#   3. the org's client row, which the plants' triggers update (plants_version).
#
# Without it, plant creation locked the client row (its trigger) and then needed a share lock on
# the org's row (the INSERT's foreign key), while a reset held the org's row and needed the client
# row (the DELETE's trigger): PostgreSQL answered "deadlock detected". Writers that start at the
# org queue behind one another instead.
#
# A trading config update is the one exception, as it is the hot path: it locks its one plant row
# and no row after it that such a writer holds first (its UPDATE changes no listed column, so no
# client row), so it cannot close a cycle, and updates of different plants never queue on the org.
#
# The org's row is taken FOR NO KEY UPDATE: it excludes the other writers of the org (and the
# org's deletion), while inserts that merely reference the org (journal entries, foreign-key
# checks) go on. On SQLite, BEGIN IMMEDIATE already lets one writer in at a time: nothing to take.


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


async def lock_plants_of_org(session: AsyncSession, org_id: uuid.UUID) -> None:
    """Lock the org's plant rows before anything takes its client row.

    A change of a plant locks its row, then (by trigger) its client's row; deleting the org
    takes them in that order too, so that it waits for such a change instead of deadlocking.
    """
    await session.execute(
        select(SandboxPlant.id)
        .where(SandboxPlant.org_id == org_id)
        .order_by(SandboxPlant.id)
        .with_for_update()
    )


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


async def plant_list_json(
    session: AsyncSession,
    *,
    client_id: str | None = None,
    org_id: uuid.UUID | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> str:
    """The admin plant list as one JSON text, built by the database itself.

    Ten thousand plants through the ORM and pydantic take most of a second; the database's JSON
    functions take a few milliseconds. Each item is the seed's plant entity, exactly as
    SandboxPlantRead serializes it (the tests compare the two).
    """
    page = select(SandboxPlant).order_by(SandboxPlant.created_at, SandboxPlant.id)
    if client_id is not None:
        page = page.where(SandboxPlant.client_id == client_id)
    if org_id is not None:
        page = page.where(SandboxPlant.org_id == org_id)
    rows = page.offset(offset).limit(limit).subquery()
    dialect = session.get_bind().dialect.name
    document = _postgres_list_json(rows) if dialect == "postgresql" else _sqlite_list_json(rows)
    return str(await session.scalar(select(document)))


def _sqlite_list_json(rows: Subquery) -> ColumnElement[Any]:
    def utc(column: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.replace(column, " ", "T").concat("Z")  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff'

    def boolean(column: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.json(case((column == 1, "true"), else_="false"))

    def exact(column: ColumnElement[Any]) -> ColumnElement[Any]:
        # json_object prints a REAL with 15 digits; 17 round-trip every double exactly.
        return func.json(func.printf("%!.17g", column))

    hex_id = rows.c.id  # a UUID is kept as 32 hex digits
    uuid_text = (
        func.substr(hex_id, 1, 8)
        .concat("-")
        .concat(func.substr(hex_id, 9, 4))
        .concat("-")
        .concat(func.substr(hex_id, 13, 4))
        .concat("-")
        .concat(func.substr(hex_id, 17, 4))
        .concat("-")
        .concat(func.substr(hex_id, 21, 12))
    )
    entity = func.json_object(
        *_entity_fields(
            rows,
            id=uuid_text,
            booleans=boolean,
            numbers=exact,
            time_configs=func.json(rows.c.time_configs),
            created_at=utc(rows.c.created_at),
            updated_at=utc(rows.c.updated_at),
        )
    )
    return func.coalesce(func.json_group_array(entity), "[]")


def _postgres_list_json(rows: Subquery) -> ColumnElement[Any]:
    def utc(column: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')

    entity = func.json_build_object(
        *_entity_fields(
            rows,
            id=cast(rows.c.id, String),
            booleans=lambda column: column,
            numbers=lambda column: column,
            time_configs=rows.c.time_configs,
            created_at=utc(rows.c.created_at),
            updated_at=utc(rows.c.updated_at),
        )
    )
    ordered = aggregate_order_by(entity, rows.c.created_at, rows.c.id)
    return func.coalesce(cast(func.json_agg(ordered), String), "[]")


def _entity_fields(
    rows: Subquery,
    *,
    id: ColumnElement[Any],
    booleans: Callable[[ColumnElement[Any]], ColumnElement[Any]],
    numbers: Callable[[ColumnElement[Any]], ColumnElement[Any]],
    time_configs: ColumnElement[Any],
    created_at: ColumnElement[Any],
    updated_at: ColumnElement[Any],
) -> list[Any]:
    fields: list[tuple[str, ColumnElement[Any]]] = [
        ("id", id),
        ("clientId", rows.c.client_id),
        ("externalPlantId", rows.c.external_plant_id),
        ("name", rows.c.name),
        ("description", rows.c.description),
        ("fvePeakPowerKwp", numbers(rows.c.fve_peak_power_kwp)),
        ("capacityKwh", numbers(rows.c.capacity_kwh)),
        ("configEnabled", booleans(rows.c.config_enabled)),
        ("plantWithLoad", booleans(rows.c.plant_with_load)),
        ("esiState", rows.c.esi_state),
        ("timeConfigs", time_configs),
        ("createdAt", created_at),
        ("updatedAt", updated_at),
    ]
    return [part for name, value in fields for part in (literal(name), value)]


async def get_plant(
    session: AsyncSession, plant_id: uuid.UUID, *, for_update: bool = False
) -> SandboxPlant | None:
    query = select(SandboxPlant).where(SandboxPlant.id == plant_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def get_plant_of_client(
    session: AsyncSession, client_id: str, external_plant_id: str
) -> SandboxPlant | None:
    query = select(SandboxPlant).where(
        SandboxPlant.client_id == client_id, SandboxPlant.external_plant_id == external_plant_id
    )
    return await session.scalar(query)


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


async def apply_config(
    session: AsyncSession, plant: LockedPlantConfig, time_configs: list[Any], version: int
) -> None:
    """Store a new schedule as config `version` of the locked plant, in one UPDATE."""
    connection = await session.connection()
    parameters = {
        "plant_row_id": plant.id,
        "new_time_configs": time_configs,
        "new_config_version": version,
        "new_updated_at": utc_now(),
    }
    await connection.execute(_APPLY_CONFIG, parameters)


async def add_plant(session: AsyncSession, plant: SandboxPlant) -> SandboxPlant:
    session.add(plant)
    await session.flush()
    return plant


async def flush(session: AsyncSession) -> None:
    await session.flush()


async def refresh_plant_revision(session: AsyncSession, plant: SandboxPlant) -> None:
    """Read back the revision the database's trigger gave the flushed plant: the ORM does not
    see the trigger's write (on SQLite an AFTER trigger, which RETURNING would miss too)."""
    await session.refresh(plant, attribute_names=["revision"])


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


def _remember_config_update(dialect: str) -> Executable:
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(ConfigUpdateRecord)
        .values(
            plant_id=bindparam("record_plant_id", type_=ConfigUpdateRecord.plant_id.type),
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


async def remember_config_update(
    session: AsyncSession, plant_id: uuid.UUID, code: str, response: dict[str, Any]
) -> bool:
    """Keep `response` as the answer to `code`, unless the plant has one already (then False).

    One statement, `INSERT … ON CONFLICT DO NOTHING RETURNING`, on both databases: no
    savepoint, and no failed statement to roll back on a repeat.
    """
    connection = await session.connection()
    statement = _REMEMBER_CONFIG_UPDATE[connection.dialect.name]
    parameters = {
        "record_plant_id": plant_id,
        "record_code": code,
        "record_response": response,
        "record_created_at": utc_now(),
    }
    return (await connection.execute(statement, parameters)).first() is not None


# Per-org sandbox state ------------------------------------------------------------------------


async def get_org_state(session: AsyncSession, org_id: uuid.UUID) -> SandboxOrgState | None:
    return await session.get(SandboxOrgState, org_id)


async def start_clock_once(
    session: AsyncSession, org_id: uuid.UUID, at: datetime
) -> SandboxOrgState:
    """Start the org's simulated clock at real time `at`, unless it has one already.

    §11: the clock starts when the org is first enabled; a rotation, or a re-enable after a
    disable, keeps it where the tester left it (and their faults and token lifetime too).
    """
    state = await session.get(SandboxOrgState, org_id)
    if state is None:
        state = SandboxOrgState(org_id=org_id, clock_started_at=at, clock_offset_minutes=0.0)
        session.add(state)
        await session.flush()
    return state


# Trading callers --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TradingCaller:
    """What every trading call needs of its client, read in one indexed query per call.

    Reading it on every call is what makes a rotation, a disable or a fault rule set on another
    instance count at once, and the versions tell the read cache whether its bytes still hold.
    """

    client_id: str
    org_id: uuid.UUID
    secret_digest: str
    plants_version: int
    fault_rules: list[Any]
    token_ttl_seconds: int | None  # the org's own token lifetime (CONTRACT §11), if it set one
    # (row id, revision) of the plant asked about, when the call names one the client has.
    plant_key: tuple[str, int] | None


class TradingCallers(Protocol):
    async def read(self, client_id: str, plant_id: str | None = None) -> TradingCaller | None: ...

    async def aclose(self) -> None: ...


def trading_callers(engine: AsyncEngine) -> TradingCallers:
    """The fastest way to the caller query this engine's database allows.

    URLs with query options keep to the engine: they may hold SQLite URI options, or
    SQLAlchemy's own asyncpg options (prepared_statement_cache_size…) that asyncpg refuses.
    """
    url = engine.url
    backend, database = url.get_backend_name(), url.database
    if url.query:
        return EngineTradingCallers(engine)
    if backend == "sqlite" and database and database != ":memory:":
        return SqliteTradingCallers(database)
    if backend == "postgresql" and url.get_driver_name() == "asyncpg":
        return PostgresTradingCallers(url.set(drivername="postgresql"))
    return EngineTradingCallers(engine)


# One query on every trading call. {plant} and {client} are the driver's placeholders.
_CALLER_QUERY = """
SELECT c.org_id, c.secret_digest, c.plants_version, s.fault_rules, s.token_ttl_seconds,
       p.id, p.revision
FROM voke_esm_clients AS c
LEFT JOIN voke_esm_org_states AS s ON s.org_id = c.org_id
LEFT JOIN voke_esm_plants AS p ON p.client_id = c.client_id AND p.external_plant_id = {plant}
WHERE c.client_id = {client}
"""


class EngineTradingCallers:
    """The caller query through the engine's pool, outside any transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def read(self, client_id: str, plant_id: str | None = None) -> TradingCaller | None:
        plant = and_(
            SandboxPlant.client_id == SandboxClient.client_id,
            SandboxPlant.external_plant_id == (plant_id or ""),
        )
        query = (
            select(
                SandboxClient.org_id,
                SandboxClient.secret_digest,
                SandboxClient.plants_version,
                SandboxOrgState.fault_rules,
                SandboxOrgState.token_ttl_seconds,
                SandboxPlant.id,
                SandboxPlant.revision,
            )
            .select_from(SandboxClient)
            .outerjoin(SandboxOrgState, SandboxOrgState.org_id == SandboxClient.org_id)
            .outerjoin(SandboxPlant, plant)
            .where(SandboxClient.client_id == client_id)
        )
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            return None
        org_id, digest, plants_version, fault_rules, ttl, plant_row_id, revision = row
        return TradingCaller(
            client_id,
            org_id,
            digest,
            plants_version,
            fault_rules or [],
            ttl,
            None if plant_row_id is None else (str(plant_row_id), revision),
        )

    async def aclose(self) -> None:
        pass


class PostgresTradingCallers:
    """The caller query on a small asyncpg pool of its own, as one prepared statement.

    Through the engine the query costs a pool checkout (with its liveness ping) and
    SQLAlchemy's execution machinery, several times the query itself.
    """

    _QUERY = _CALLER_QUERY.format(plant="$2", client="$1")
    _POOL_SIZE = 4

    def __init__(self, url: URL) -> None:
        # Imported here: a service on SQLite never loads the driver (a few MiB resident).
        import asyncpg

        self._asyncpg = asyncpg
        self._dsn = url.render_as_string(hide_password=False)
        self._pool: asyncpg.Pool | None = None

    async def _connected(self) -> asyncpg.Pool:
        if self._pool is None:
            self._pool = await self._asyncpg.create_pool(
                self._dsn, min_size=1, max_size=self._POOL_SIZE, timeout=10
            )
        return self._pool

    async def read(self, client_id: str, plant_id: str | None = None) -> TradingCaller | None:
        try:
            pool = await self._connected()
            row = await pool.fetchrow(self._QUERY, client_id, plant_id, timeout=10)
        except (OSError, self._asyncpg.PostgresError, self._asyncpg.InterfaceError) as exc:
            raise OperationalError(self._QUERY, None, exc) from exc
        if row is None:
            return None
        org_id, digest, plants_version, fault_rules, ttl, plant_row_id, revision = row
        return TradingCaller(
            client_id,
            uuid.UUID(str(org_id)),
            digest,
            plants_version,
            json_value(fault_rules) if fault_rules else [],
            ttl,
            None if plant_row_id is None else (str(plant_row_id), revision),
        )

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


_SQLITE_CALLER_QUERY = _CALLER_QUERY.format(plant="?", client="?")


class SqliteTradingCallers:
    """The caller query on a read-only connection of its own, run on the event loop's thread.

    This is the hot path of every trading call: through the engine it costs a pool checkout and
    SQLAlchemy's execution machinery, about 200 µs; here about 15. In WAL mode a reader never
    waits for the writer, so the query cannot hold up the loop (see voke_esm.core.sqlite_inline).
    """

    def __init__(self, database: str) -> None:
        self._database = database
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(
                self._database, timeout=0, isolation_level=None, check_same_thread=False
            )
            connection.execute("PRAGMA query_only = ON")
            self._connection = connection
        return self._connection

    async def read(self, client_id: str, plant_id: str | None = None) -> TradingCaller | None:
        try:
            connection = self._connect()
            row = await when_unlocked(
                lambda: connection.execute(_SQLITE_CALLER_QUERY, (plant_id, client_id)).fetchone(),
                SQLITE_LOCK_TIMEOUT_S,
            )
        except sqlite3.Error as exc:
            self.close()  # open afresh next time: the file may be back
            raise OperationalError(_SQLITE_CALLER_QUERY, None, exc) from exc
        if row is None:
            return None
        org_id, digest, plants_version, fault_rules, ttl, plant_row_id, revision = row
        return TradingCaller(
            client_id,
            uuid.UUID(hex=org_id),
            digest,
            plants_version,
            json_value(fault_rules) if fault_rules else [],
            ttl,
            None if plant_row_id is None else (str(uuid.UUID(hex=plant_row_id)), revision),
        )

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def aclose(self) -> None:
        self.close()


async def plants_version(session: AsyncSession, client_id: str) -> int | None:
    return await session.scalar(
        select(SandboxClient.plants_version).where(SandboxClient.client_id == client_id)
    )
