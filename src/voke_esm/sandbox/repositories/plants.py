"""Every query and write on voke_esm_plants, the seed's fake plants, but the trading update's
prebuilt statements (which stay with the hot path in `sandbox/repository.py`)."""

from __future__ import annotations

import typing
import uuid
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import (
    ColumnElement,
    Row,
    String,
    Subquery,
    case,
    cast,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from voke_esm.contract.time_configs import TimeConfigJson
from voke_esm.core.db import scalar_off_loop
from voke_esm.sandbox.models import ConditionJson, SandboxClient, SandboxOrgState, SandboxPlant
from voke_esm.voke.orgs.models import Org

# Reads --------------------------------------------------------------------------------------------


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


async def count_plants_for_org(session: AsyncSession, org_id: uuid.UUID) -> int:
    query = select(func.count()).select_from(SandboxPlant).where(SandboxPlant.org_id == org_id)
    return await session.scalar(query) or 0


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


async def plants_of_org(
    session: AsyncSession, org_id: uuid.UUID, *, for_update: bool = False
) -> Sequence[SandboxPlant]:
    query = (
        select(SandboxPlant)
        .where(SandboxPlant.org_id == org_id)
        .order_by(SandboxPlant.external_plant_id)
    )
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query)).all()


async def plants_of_enabled_orgs(
    session: AsyncSession, org_ids: Collection[uuid.UUID]
) -> Sequence[Row[SandboxPlant, Org, SandboxOrgState]]:
    """Every plant of these orgs that are enabled, with its org and the org's state (telemetry)."""
    query = (
        select(SandboxPlant, Org, SandboxOrgState)
        .join(Org, Org.id == SandboxPlant.org_id)
        .join(SandboxClient, SandboxClient.org_id == Org.id)
        .join(SandboxOrgState, SandboxOrgState.org_id == Org.id)
        .where(Org.id.in_(org_ids))
        .order_by(Org.slug, SandboxPlant.created_at, SandboxPlant.id)
    )
    return (await session.execute(query)).all()


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
    # Tens of milliseconds for thousands of plants: not on the event loop (README, Development).
    return str(await scalar_off_loop(session, select(document)))


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
        ("latitude", numbers(rows.c.latitude)),
        ("longitude", numbers(rows.c.longitude)),
        ("annualLoadKwh", numbers(rows.c.annual_load_kwh)),
        ("roundTripEfficiency", numbers(rows.c.round_trip_efficiency)),
        ("initialSoc", numbers(rows.c.initial_soc)),
        ("simulation", rows.c.simulation),
        ("createdAt", created_at),
        ("updatedAt", updated_at),
    ]
    return [part for name, value in fields for part in (literal(name), value)]


# Writes -------------------------------------------------------------------------------------------


class PlantChanges(TypedDict, total=False):
    """The columns a plant write sets; what is absent stays as stored."""

    external_plant_id: str
    name: str
    description: str | None
    fve_peak_power_kwp: float
    capacity_kwh: float
    config_enabled: bool
    plant_with_load: bool
    esi_state: str
    time_configs: list[TimeConfigJson]
    config_version: int
    latitude: float
    longitude: float
    annual_load_kwh: float
    round_trip_efficiency: float
    initial_soc: float
    simulation: str
    conditions: list[ConditionJson]


# The simulated site's parameters (CONTRACT §12): a plant attribute and a PlantChanges key each.
SITE_COLUMNS = (
    "latitude",
    "longitude",
    "annual_load_kwh",
    "round_trip_efficiency",
    "initial_soc",
    "simulation",
)


async def add_plants(session: AsyncSession, *plants: SandboxPlant) -> None:
    """Insert new plants, in one flush."""
    session.add_all(plants)
    await session.flush()


def write_plant(plant: SandboxPlant, changes: PlantChanges, *, at: datetime) -> None:
    """Set `changes` on a loaded plant as of `at` (its `updatedAt`); the next flush writes them.

    The one write of a plant's columns for the admin PATCH and a snapshot restore (CONTRACT §4,
    §11); the trading update's is one prebuilt UPDATE of its schedule and version. Every change
    bumps the row's `revision` (a trigger), and so the plant's ETag.
    """
    if "external_plant_id" in changes:
        plant.external_plant_id = changes["external_plant_id"]
    if "name" in changes:
        plant.name = changes["name"]
    if "description" in changes:
        plant.description = changes["description"]
    if "fve_peak_power_kwp" in changes:
        plant.fve_peak_power_kwp = changes["fve_peak_power_kwp"]
    if "capacity_kwh" in changes:
        plant.capacity_kwh = changes["capacity_kwh"]
    if "config_enabled" in changes:
        plant.config_enabled = changes["config_enabled"]
    if "plant_with_load" in changes:
        plant.plant_with_load = changes["plant_with_load"]
    if "esi_state" in changes:
        plant.esi_state = changes["esi_state"]
    if "time_configs" in changes:
        plant.time_configs = changes["time_configs"]
    if "config_version" in changes:
        plant.config_version = changes["config_version"]
    by_name = typing.cast(dict[str, Any], changes)  # PlantChanges has a key of each site column
    for name in SITE_COLUMNS:  # the simulated site's (CONTRACT §12), plain values
        if name in by_name:
            setattr(plant, name, by_name[name])
    if "conditions" in changes:
        plant.conditions = changes["conditions"]
    plant.updated_at = at


async def flush(session: AsyncSession) -> None:
    await session.flush()


async def refresh_revision(session: AsyncSession, plant: SandboxPlant) -> None:
    """Read back the revision the database's trigger gave the flushed plant: the ORM does not
    see the trigger's write (on SQLite an AFTER trigger, which RETURNING would miss too)."""
    await session.refresh(plant, attribute_names=["revision"])


async def rebind_plants(session: AsyncSession, org_id: uuid.UUID, client_id: str) -> None:
    """Move every plant of the org, kept ones included, to its new clientId (CONTRACT §4)."""
    await session.execute(
        update(SandboxPlant)
        .where(SandboxPlant.org_id == org_id)
        .values(client_id=client_id)
        .execution_options(synchronize_session=False)
    )


async def delete_plants(session: AsyncSession, *plants: SandboxPlant) -> None:
    """Delete loaded plants, in one flush."""
    for plant in plants:
        await session.delete(plant)
    await session.flush()
