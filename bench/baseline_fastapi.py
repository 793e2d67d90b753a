"""Baseline 2 for bench/run.py: FastAPI + pydantic answering from memory, without a database.

The same paths and the same JSON as the service (captured from it, file named by BENCH_RESPONSES),
but built the FastAPI way: request bodies parsed into pydantic models, answers returned as
`response_model`s that FastAPI validates and serializes on every request. The gap to the service
is then what the service adds on top of the framework: auth, the limiter, the database, the ORM.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

TRADING = "/api/v1/voke-esm/trading"
ADMIN = "/api/v1/voke-esm/admin"


class Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class Block(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start: str = Field(alias="from")
    end: str = Field(alias="to")
    pBatMax: float  # the contract's names
    pBatMin: float
    socMax: float
    socMin: float


class TokenRequest(BaseModel):
    clientId: str = Field(min_length=1, max_length=120)
    clientSecret: str = Field(min_length=1, max_length=512)


class TokenRead(Camel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int


class TradingPlantRead(Camel):
    plant_id: str
    name: str
    descr: str | None
    fve_peak_power_kwp: float
    capacity_kwh: float
    esi_state: str
    config_enabled: bool
    plant_with_load: bool
    meters: list[Any] = Field(default_factory=list)


class PlantConfigRead(Camel):
    plant_id: str
    version: int
    config_enabled: bool
    esi_state: str
    time_configs: list[Block]


class ConfigUpdateRequest(Camel):
    plant_id: str = Field(min_length=1, max_length=120)
    config_update_req_code: str = Field(min_length=1, max_length=255)
    validate_only: bool = False
    time_configs: list[Block]


class FieldErrorRead(BaseModel):
    field: str
    message: str


class ConfigUpdateRead(Camel):
    plant_id: str
    config_update_req_code: str
    result_code: Literal["applied_ok", "cfg_accepted", "cfg_rejected"]
    version: int
    errors: list[FieldErrorRead]


class SandboxPlantRead(Camel):
    id: str
    client_id: str
    external_plant_id: str
    name: str
    description: str | None
    fve_peak_power_kwp: float
    capacity_kwh: float
    config_enabled: bool
    plant_with_load: bool
    esi_state: str
    time_configs: list[Block]
    created_at: str
    updated_at: str


def build_app(responses: dict[str, str]) -> FastAPI:
    captured = {name: json.loads(text) for name, text in responses.items()}
    plants = [TradingPlantRead.model_validate(item) for item in captured["plant_list"]]
    config = PlantConfigRead.model_validate(captured["plant_config"])
    admin_plants = [SandboxPlantRead.model_validate(item) for item in captured["admin_plants"]]
    update_version = int(captured["config_update"]["version"])
    access_token = str(captured["token"]["accessToken"])

    app = FastAPI(docs_url=None, redoc_url=None)

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"message": "ready"}

    @app.post(f"{TRADING}/token", response_model=TokenRead)
    async def token(body: TokenRequest) -> TokenRead:
        return TokenRead(access_token=access_token, expires_in=3600)

    @app.get(f"{TRADING}/plant/list", response_model=list[TradingPlantRead])
    async def plant_list() -> list[TradingPlantRead]:
        return plants

    @app.get(f"{TRADING}/plant/config", response_model=PlantConfigRead)
    async def plant_config(
        plant_id: str = Query(alias="plantId", min_length=1, max_length=120),
    ) -> PlantConfigRead:
        return config

    @app.post(f"{TRADING}/plant/config/update", response_model=ConfigUpdateRead)
    async def config_update(body: ConfigUpdateRequest) -> ConfigUpdateRead:
        return ConfigUpdateRead(
            plant_id=body.plant_id,
            config_update_req_code=body.config_update_req_code,
            result_code="applied_ok",
            version=update_version,
            errors=[],
        )

    @app.get(f"{ADMIN}/plants", response_model=list[SandboxPlantRead])
    async def admin_list(limit: int | None = None, offset: int = 0) -> list[SandboxPlantRead]:
        return admin_plants

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    responses = json.loads(Path(os.environ["BENCH_RESPONSES"]).read_text())
    # The same uvicorn options as `voke-esm serve` (src/voke_esm/cli.py), default logging included.
    uvicorn.run(
        build_app(responses),
        host="127.0.0.1",
        port=args.port,
        proxy_headers=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
