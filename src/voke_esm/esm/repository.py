"""Every query on the sandbox's own tables (voke_esm_clients, _plants, _config_updates)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
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

from voke_esm.esm.models import ConfigUpdateRecord, SandboxClient, SandboxOrgState, SandboxPlant

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
    session: AsyncSession, client_id: str, external_plant_id: str, *, for_update: bool = False
) -> SandboxPlant | None:
    query = select(SandboxPlant).where(
        SandboxPlant.client_id == client_id, SandboxPlant.external_plant_id == external_plant_id
    )
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def add_plant(session: AsyncSession, plant: SandboxPlant) -> SandboxPlant:
    session.add(plant)
    await session.flush()
    return plant


async def flush(session: AsyncSession) -> None:
    await session.flush()


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


async def add_config_update(session: AsyncSession, record: ConfigUpdateRecord) -> None:
    session.add(record)
    await session.flush()


# Per-org sandbox state ------------------------------------------------------------------------


async def get_org_state(session: AsyncSession, org_id: uuid.UUID) -> SandboxOrgState | None:
    return await session.get(SandboxOrgState, org_id)


async def restart_clock(session: AsyncSession, org_id: uuid.UUID, at: datetime) -> SandboxOrgState:
    """Start the org's simulated clock at real time `at`; faults and token lifetime stay."""
    state = await session.get(SandboxOrgState, org_id) or SandboxOrgState(org_id=org_id)
    state.clock_started_at = at
    state.clock_offset_minutes = 0.0
    session.add(state)
    await session.flush()
    return state
