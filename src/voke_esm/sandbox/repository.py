"""Every query on the sandbox's own tables (voke_esm_clients, _plants, _config_updates)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Subquery,
    case,
    cast,
    delete,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from voke_esm.sandbox.models import ConfigUpdateRecord, SandboxClient, SandboxOrgState, SandboxPlant
from voke_esm.voke.orgs.models import Org

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


async def plants_version(session: AsyncSession, client_id: str) -> int | None:
    return await session.scalar(
        select(SandboxClient.plants_version).where(SandboxClient.client_id == client_id)
    )
