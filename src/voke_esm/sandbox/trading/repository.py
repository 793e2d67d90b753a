"""The trading path's own statements: a config update's (prebuilt, run without the ORM). The
journal writer's batch insert is the journal's repository's (`sandbox/repositories/journal.py`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from voke_esm.core.schemas import utc_now
from voke_esm.sandbox.models import ConfigUpdateRecord, SandboxPlant

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
