from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal, cast

from pydantic import MISSING, ConfigDict, Field

from voke_esm.contract.time_configs import SEED_BLOCKS, TimeConfigBlock
from voke_esm.core.schemas import CamelModel, StrictBody, UtcDateTime
from voke_esm.sandbox.models import (
    DEFAULT_ANNUAL_LOAD_KWH,
    DEFAULT_INITIAL_SOC,
    DEFAULT_LATITUDE,
    DEFAULT_LONGITUDE,
    DEFAULT_ROUND_TRIP_EFFICIENCY,
)

# Finite, non-negative, and a JSON number (not a numeric string): strict mode.
Quantity = Annotated[float, Field(ge=0, allow_inf_nan=False, strict=True)]
# The simulated site's parameters (CONTRACT §12), with the same strictness.
Latitude = Annotated[
    float, Field(ge=-90, le=90, allow_inf_nan=False, strict=True, description="degrees, + north")
]
Longitude = Annotated[
    float, Field(ge=-180, le=180, allow_inf_nan=False, strict=True, description="degrees, + east")
]
RoundTripEfficiency = Annotated[
    float,
    Field(gt=0, le=1, allow_inf_nan=False, strict=True, description="the battery's, 0 < x <= 1"),
]
Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False, strict=True)]
Simulation = Literal["selfConsumption", "sawtooth"]

# The seed's example plant, as the admin API, snapshots and the docs show it.
PLANT_EXAMPLE: dict[str, Any] = {
    "externalPlantId": "PLANT-001",
    "name": "Acme Site A",
    "description": "Battery storage + PV",
    "fvePeakPowerKwp": 120.0,
    "capacityKwh": 200.0,
    "configEnabled": True,
    "plantWithLoad": True,
    "esiState": "PLC_READY",
    "latitude": 50.08,
    "longitude": 14.42,
    "annualLoadKwh": 4000.0,
    "roundTripEfficiency": 0.9,
    "initialSoc": 50.0,
    "simulation": "selfConsumption",
}


class EnableRead(CamelModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "clientId": "vesm-3f9a1c0b7d2e4a6f8b1c2d3e",
                    "clientSecret": "q8Zr0m2bWk5yH1tXvC9nL4pA7sD3fG6jK0eR2uI5oP8",
                    "esmApiUrl": "http://127.0.0.1:4410/api/v1/voke-esm",
                }
            ]
        }
    )

    client_id: str
    client_secret: str = Field(description="shown once; store it now")
    esm_api_url: str


class StatusRead(CamelModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "message": "Voke ESM is enabled for Acme",
                    "enabled": True,
                    "clientId": "vesm-3f9a1c0b7d2e4a6f8b1c2d3e",
                    "esmApiUrl": "http://127.0.0.1:4410/api/v1/voke-esm",
                    "plantCount": 1,
                    "enabledAt": "2019-08-24T14:15:22Z",
                }
            ]
        }
    )

    message: str
    enabled: bool
    client_id: str | None
    esm_api_url: str | None
    plant_count: int
    enabled_at: UtcDateTime | None


class SiteFields(StrictBody):
    """The simulated site of a plant (CONTRACT §12), as create and snapshots take it."""

    latitude: Latitude = DEFAULT_LATITUDE
    longitude: Longitude = DEFAULT_LONGITUDE
    annual_load_kwh: Quantity = DEFAULT_ANNUAL_LOAD_KWH
    round_trip_efficiency: RoundTripEfficiency = DEFAULT_ROUND_TRIP_EFFICIENCY
    initial_soc: Percent = DEFAULT_INITIAL_SOC
    simulation: Simulation = "selfConsumption"


class SandboxPlantCreate(SiteFields):
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
                    "timeConfigs": cast(Any, list(SEED_BLOCKS)),
                }
            ]
        },
    )


# A PATCH: what is left out stays as stored (CONTRACT §4). A field that is sent is never null
# (`description` aside): `MISSING` stands for "not sent" and does not appear in the JSON schema.
class SandboxPlantUpdate(StrictBody):
    name: str | MISSING = Field(default=MISSING, min_length=1, max_length=255)
    description: str | MISSING | None = Field(default=MISSING, max_length=10_000)
    fve_peak_power_kwp: Quantity | MISSING = MISSING
    capacity_kwh: Quantity | MISSING = MISSING
    config_enabled: bool | MISSING = Field(default=MISSING, strict=True)
    plant_with_load: bool | MISSING = Field(default=MISSING, strict=True)
    esi_state: str | MISSING = Field(default=MISSING, min_length=1, max_length=64)
    time_configs: list[TimeConfigBlock] | MISSING = Field(default=MISSING, max_length=10_000)
    latitude: Latitude | MISSING = MISSING
    longitude: Longitude | MISSING = MISSING
    annual_load_kwh: Quantity | MISSING = MISSING
    round_trip_efficiency: RoundTripEfficiency | MISSING = MISSING
    initial_soc: Percent | MISSING = MISSING
    simulation: Simulation | MISSING = MISSING


class SandboxPlantRead(CamelModel):
    """A sandbox plant, field for field as the partner contract has it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "497f6eca-6276-4993-bfeb-53cbbbba6f08",
                    "clientId": "acme-client-id",
                    **PLANT_EXAMPLE,
                    "timeConfigs": cast(Any, list(SEED_BLOCKS)),
                    "createdAt": "2019-08-24T14:15:22Z",
                    "updatedAt": "2019-08-24T14:15:22Z",
                }
            ]
        }
    )

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
    latitude: float
    longitude: float
    annual_load_kwh: float
    round_trip_efficiency: float
    initial_soc: float
    simulation: Simulation
    created_at: UtcDateTime
    updated_at: UtcDateTime
