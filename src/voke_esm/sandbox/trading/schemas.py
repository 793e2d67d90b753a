from __future__ import annotations

from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from voke_esm.contract.schemas import ResultCode
from voke_esm.contract.time_configs import SEED_BLOCKS, WHOLE_DAY_BLOCK, TimeConfigBlock
from voke_esm.core.schemas import CamelModel, FieldErrorRead
from voke_esm.sandbox.models import SandboxPlant

# A plantId as the trading calls accept it (the plant column's width), in the body or the query.
PLANT_ID_MAX_LENGTH = 120


class PlantConfigQuery(BaseModel):
    """plant/config's query: the route's declaration (a FastAPI query model) and what the
    trading gate validates the same calls with (`voke_esm.sandbox.trading.pipeline`)."""

    plant_id: str = Field(
        alias="plantId", min_length=1, max_length=PLANT_ID_MAX_LENGTH, examples=["PLANT-001"]
    )


class TokenRequest(BaseModel):
    """The partner contract's JSON token exchange. Unknown fields are ignored, as a partner API
    would."""

    clientId: StrictStr = Field(min_length=1, max_length=120)
    clientSecret: StrictStr = Field(min_length=1, max_length=512)


class OAuth2TokenForm(BaseModel):
    grant_type: Literal["client_credentials"]
    client_id: StrictStr = Field(min_length=1, max_length=120)
    client_secret: StrictStr = Field(min_length=1, max_length=512)


class TradingTokenRead(CamelModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "accessToken": "<JWT signed with iss: 'voke-esm'>",
                    "tokenType": "Bearer",
                    "expiresIn": 3600,
                }
            ]
        }
    )

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int


class OAuth2TokenRead(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int


class TradingPlantRead(CamelModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "plantId": "PLANT-001",
                    "name": "Acme Site A",
                    "descr": "Battery storage + PV",
                    "fvePeakPowerKwp": 120.0,
                    "capacityKwh": 200.0,
                    "esiState": "PLC_READY",
                    "configEnabled": True,
                    "plantWithLoad": True,
                    "meters": [],
                }
            ]
        }
    )

    plant_id: str
    name: str
    descr: str | None
    fve_peak_power_kwp: float
    capacity_kwh: float
    esi_state: str
    config_enabled: bool
    plant_with_load: bool
    meters: list[Any] = Field(default_factory=list)

    @classmethod
    def from_plant(cls, plant: SandboxPlant) -> TradingPlantRead:
        """A sandbox plant as the partner contract lists it: `plantId` is its externalPlantId."""
        return cls(
            plant_id=plant.external_plant_id,
            name=plant.name,
            descr=plant.description,
            fve_peak_power_kwp=plant.fve_peak_power_kwp,
            capacity_kwh=plant.capacity_kwh,
            esi_state=plant.esi_state,
            config_enabled=plant.config_enabled,
            plant_with_load=plant.plant_with_load,
        )


class PlantConfigRead(CamelModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "plantId": "PLANT-001",
                    "version": 1,
                    "configEnabled": True,
                    "esiState": "PLC_READY",
                    "timeConfigs": cast(Any, list(SEED_BLOCKS)),
                }
            ]
        }
    )

    plant_id: str
    version: int
    config_enabled: bool
    esi_state: str
    time_configs: list[TimeConfigBlock]


class ConfigUpdateRequest(CamelModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "plantId": "PLANT-001",
                    "configUpdateReqCode": "req-abc123",
                    "validateOnly": False,
                    "timeConfigs": cast(Any, [dict(WHOLE_DAY_BLOCK)]),
                }
            ]
        }
    )

    plant_id: StrictStr = Field(min_length=1, max_length=PLANT_ID_MAX_LENGTH)
    config_update_req_code: StrictStr = Field(
        min_length=1,
        max_length=255,
        description="idempotency key: a repeat returns the first answer",
    )
    validate_only: StrictBool = False
    # Over 96 blocks is a rule (cfg_rejected), not a shape error; the body limit bounds the list.
    time_configs: list[TimeConfigBlock]


class ConfigUpdateRead(CamelModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "plantId": "PLANT-001",
                    "configUpdateReqCode": "req-abc123",
                    "resultCode": "applied_ok",
                    "version": 2,
                    "errors": [],
                },
                {
                    "plantId": "PLANT-001",
                    "configUpdateReqCode": "req-abc124",
                    "resultCode": "cfg_rejected",
                    "version": 2,
                    "errors": [
                        {"field": "timeConfigs[0].socMin", "message": "must not exceed socMax"}
                    ],
                },
            ]
        }
    )

    plant_id: str
    config_update_req_code: str
    result_code: ResultCode
    version: int
    errors: list[FieldErrorRead]
