"""The partner ESM's answers as Voke reads them: the contract's shapes, extra fields ignored."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import Field

from voke_esm.contract.schemas import ResultCode
from voke_esm.contract.time_configs import CONFIG_VERSION_MAX, TimeConfigBlock
from voke_esm.core.schemas import CamelModel, FieldErrorRead, StrictBody


class TokenAnswer(CamelModel):
    access_token: str = Field(min_length=1)
    token_type: str = "Bearer"
    expires_in: int = Field(gt=0)


class EsmPlant(CamelModel):
    plant_id: str
    name: str | None = None
    descr: str | None = None
    fve_peak_power_kwp: float | None = None
    capacity_kwh: float | None = None
    esi_state: str | None = None
    config_enabled: bool | None = None
    plant_with_load: bool | None = None
    meters: list[Any] = Field(default_factory=list)


# What Voke can store of an ESM's config version (plants.config_version); an answer beyond it
# is not the contract's.
EsmVersion = Annotated[int, Field(le=CONFIG_VERSION_MAX)]


class EsmPlantConfig(CamelModel):
    plant_id: str
    version: EsmVersion
    config_enabled: bool
    esi_state: str | None = None
    time_configs: list[TimeConfigBlock]


class ConfigUpdateAnswer(CamelModel):
    plant_id: str
    config_update_req_code: str
    result_code: ResultCode
    version: EsmVersion
    errors: list[FieldErrorRead] = Field(default_factory=list)


# Voke's own endpoints ----------------------------------------------------------------------------


class SyncErrorRead(CamelModel):
    plant_id: uuid.UUID | None
    external_plant_id: str | None
    message: str


class SyncReportRead(CamelModel):
    plants_listed: int
    plants_linked: int
    configs_stored: int
    errors: list[SyncErrorRead]


class TimeConfigsPush(StrictBody):
    time_configs: list[TimeConfigBlock] = Field(max_length=10_000)
    validate_only: bool = Field(default=False, strict=True)
