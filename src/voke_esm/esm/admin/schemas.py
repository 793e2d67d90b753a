from __future__ import annotations

import uuid
from typing import Annotated, Any, cast

from pydantic import ConfigDict, Field

from voke_esm.esm.time_configs import TimeConfigBlock
from voke_esm.schemas import CamelModel, StrictBody, UtcDateTime

# Finite, non-negative, and a JSON number (not a numeric string): strict mode.
Quantity = Annotated[float, Field(ge=0, allow_inf_nan=False, strict=True)]

SEED_EXAMPLE_BLOCKS = [
    {"from": "00:00", "to": "07:00", "pBatMax": 10, "pBatMin": -10, "socMax": 95, "socMin": 20},
    {"from": "07:00", "to": "23:59", "pBatMax": 50, "pBatMin": -50, "socMax": 90, "socMin": 30},
]


class EnableRead(CamelModel):
    client_id: str
    client_secret: str = Field(description="shown once; store it now")
    esm_api_url: str


class StatusRead(CamelModel):
    message: str
    enabled: bool
    client_id: str | None
    esm_api_url: str | None
    plant_count: int
    enabled_at: UtcDateTime | None


class SandboxPlantCreate(StrictBody):
    client_id: str = Field(
        min_length=1, max_length=120, description="Client identifier this plant belongs to"
    )
    external_plant_id: str = Field(
        min_length=1,
        max_length=120,
        description="External plant id (the id the real ESM would expose)",
    )
    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=10_000)
    fve_peak_power_kwp: Quantity = 0.0
    capacity_kwh: Quantity = 0.0
    config_enabled: bool = Field(default=True, strict=True)
    plant_with_load: bool = Field(default=True, strict=True)
    esi_state: str = Field(default="PLC_READY", min_length=1, max_length=64)
    time_configs: list[TimeConfigBlock] = Field(default_factory=list, max_length=10_000)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "clientId": "acme-client-id",
                    "externalPlantId": "PLANT-001",
                    "name": "Acme Site A",
                    "description": "Battery storage + PV",
                    "fvePeakPowerKwp": 120.0,
                    "capacityKwh": 200.0,
                    "configEnabled": True,
                    "timeConfigs": cast(Any, SEED_EXAMPLE_BLOCKS),
                }
            ]
        },
    )


class SandboxPlantUpdate(StrictBody):
    name: str = Field(default=None, min_length=1, max_length=255)  # type: ignore[assignment]
    description: str | None = Field(default=None, max_length=10_000)
    fve_peak_power_kwp: Quantity = None  # type: ignore[assignment]
    capacity_kwh: Quantity = None  # type: ignore[assignment]
    config_enabled: bool = Field(default=None, strict=True)  # type: ignore[assignment]
    plant_with_load: bool = Field(default=None, strict=True)  # type: ignore[assignment]
    esi_state: str = Field(default=None, min_length=1, max_length=64)  # type: ignore[assignment]
    time_configs: list[TimeConfigBlock] = Field(default=None, max_length=10_000)  # type: ignore[arg-type]


class SandboxPlantRead(CamelModel):
    """The seed's plant entity, field for field."""

    id: uuid.UUID
    client_id: str
    external_plant_id: str
    name: str
    description: str | None
    fve_peak_power_kwp: float
    capacity_kwh: float
    config_enabled: bool
    plant_with_load: bool
    esi_state: str
    time_configs: list[TimeConfigBlock]
    created_at: UtcDateTime
    updated_at: UtcDateTime
