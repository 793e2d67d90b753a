"""Every query on voke_esm_config_updates but the trading update's prebuilt insert (which stays
with the hot path's statements in `sandbox/repository.py`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from voke_esm.sandbox.models import ConfigUpdateRecord


async def get_config_update(
    session: AsyncSession, plant_id: uuid.UUID, code: str
) -> ConfigUpdateRecord | None:
    query = select(ConfigUpdateRecord).where(
        ConfigUpdateRecord.plant_id == plant_id, ConfigUpdateRecord.config_update_req_code == code
    )
    return await session.scalar(query)


async def forget_config_updates(session: AsyncSession, plant_ids: Sequence[uuid.UUID]) -> None:
    """Drop the remembered answers of these plants' `configUpdateReqCode`s."""
    if plant_ids:
        await session.execute(
            delete(ConfigUpdateRecord)
            .where(ConfigUpdateRecord.plant_id.in_(plant_ids))
            .execution_options(synchronize_session=False)
        )
