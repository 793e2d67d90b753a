from __future__ import annotations

import uuid
from typing import Any

from pydantic import MISSING, Field

from voke_esm.core.schemas import CamelModel, StrictBody, UtcDateTime


class PlantCreate(StrictBody):
    name: str = Field(min_length=1, max_length=255, examples=["Acme Site A"])
    external_plant_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=120,
        examples=["PLANT-001"],
        description="the partner ESM's plant id; links this plant to it",
    )


# What is left out stays as stored; `MISSING` stands for "not sent" (never null, but the link).
class PlantUpdate(StrictBody):
    name: str | MISSING = Field(default=MISSING, min_length=1, max_length=255)
    external_plant_id: str | MISSING | None = Field(default=MISSING, min_length=1, max_length=120)


class PlantRead(CamelModel):
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    external_plant_id: str | None
    time_configs: list[dict[str, Any]]
    config_version: int | None
    synced_at: UtcDateTime | None
    created_at: UtcDateTime
    updated_at: UtcDateTime
