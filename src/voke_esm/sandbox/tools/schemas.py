from __future__ import annotations

from typing import Annotated, Any, Literal, cast

from pydantic import ConfigDict, Field, StrictBool, StrictFloat, StrictInt

from voke_esm.contract.time_configs import CONFIG_VERSION_MAX, TimeConfigBlock
from voke_esm.core.schemas import CamelModel, StrictBody, UtcDateTime
from voke_esm.sandbox.admin.schemas import PLANT_EXAMPLE, Quantity, SiteFields
from voke_esm.sandbox.models import FaultRuleJson
from voke_esm.sandbox.telemetry.schemas import MAX_CONDITIONS, ConditionItem

FaultEndpoint = Literal["token", "plant/list", "plant/config", "plant/config/update", "*"]
FaultKind = Literal["error", "latency", "drop"]

MAX_FAULT_RULES = 100
MAX_TOKEN_TTL_SECONDS = 86_400
MAX_LATENCY_MS = 600_000
# A JSON number as given (an integer stays an integer in GET), within bounds.
Milliseconds = Annotated[StrictInt | StrictFloat, Field(ge=0, le=MAX_LATENCY_MS)]
Probability = Annotated[StrictInt | StrictFloat, Field(ge=0, le=1)]
Count = Annotated[StrictInt, Field(ge=0, le=2**31 - 1)]
TokenTtl = Annotated[StrictInt, Field(ge=1, le=MAX_TOKEN_TTL_SECONDS)]


# Journal -----------------------------------------------------------------------------------------


class JournalEntryRead(CamelModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "at": "2026-11-22T09:30:12.345678Z",
                    "clientId": "vesm-3f9a1c0b7d2e4a6f8b1c2d3e",
                    "method": "POST",
                    "path": "/api/v1/voke-esm/trading/plant/config/update",
                    "status": 200,
                    "plantId": "PLANT-001",
                    "configUpdateReqCode": "req-abc123",
                    "resultCode": "applied_ok",
                    "durationMs": 4.2,
                }
            ]
        }
    )

    at: UtcDateTime = Field(description="when the call arrived")
    client_id: str | None
    method: str
    path: str = Field(description="without the query string")
    status: int = Field(description="the answer's status; 0 when a `drop` fault sent none")
    plant_id: str | None
    config_update_req_code: str | None
    result_code: str | None
    duration_ms: float


# Faults ------------------------------------------------------------------------------------------


# A rule as the org's state stores it (and the trading guard reads it, CONTRACT §11): every
# key present, the wire's names. A TypedDict, as `FaultRule.as_json()` makes it.
class FaultRule(StrictBody):
    """One rule. `status` serves kind `error`; `latencyMs` and `jitterMs` serve kind `latency`."""

    endpoint: FaultEndpoint
    kind: FaultKind
    status: StrictInt | None = Field(
        default=None, description="required for kind error: 400..599", examples=[503]
    )
    latency_ms: Milliseconds | None = Field(
        default=None, description="required for kind latency", examples=[1500]
    )
    jitter_ms: Milliseconds | None = Field(
        default=None, description="kind latency: wait latencyMs ± jitterMs", examples=[250]
    )
    probability: Probability = Field(default=1, description="0..1, each call draws anew")
    count: Count | None = Field(
        default=None,
        description="how many more times the rule fires; null: unlimited, 0: spent",
    )

    def as_json(self) -> FaultRuleJson:
        return {
            "endpoint": self.endpoint,
            "kind": self.kind,
            "status": self.status,
            "latencyMs": self.latency_ms,
            "jitterMs": self.jitter_ms,
            "probability": self.probability,
            "count": self.count,
        }


class FaultsWrite(StrictBody):
    """The whole fault setup of an org; PUT replaces it (what is left out is cleared)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "rules": [
                        {"endpoint": "plant/list", "kind": "error", "status": 503, "count": 2},
                        {"endpoint": "*", "kind": "latency", "latencyMs": 800, "jitterMs": 200},
                        {"endpoint": "token", "kind": "drop", "probability": 0.1},
                    ],
                    "tokenTtlSeconds": 30,
                }
            ]
        }
    )

    rules: list[FaultRule] = Field(default_factory=list, max_length=MAX_FAULT_RULES)
    token_ttl_seconds: TokenTtl | None = Field(
        default=None, description="lifetime of the org's new trading tokens; null: the default"
    )


class FaultsRead(CamelModel):
    rules: list[FaultRule]
    token_ttl_seconds: int | None


# Snapshot ----------------------------------------------------------------------------------------


class SnapshotPlant(SiteFields):
    """A sandbox plant as a snapshot holds it: no ids, no clientId, no times of its own. A
    snapshot taken before the simulated site's fields existed restores their defaults."""

    external_plant_id: str = Field(min_length=1, max_length=120)
    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(max_length=10_000)
    fve_peak_power_kwp: Quantity
    capacity_kwh: Quantity
    config_enabled: StrictBool
    plant_with_load: StrictBool
    esi_state: str = Field(min_length=1, max_length=64)
    version: Annotated[StrictInt, Field(ge=1, le=CONFIG_VERSION_MAX)] = Field(
        description="the plant's config version"
    )
    time_configs: list[TimeConfigBlock] = Field(max_length=10_000)
    conditions: list[ConditionItem] = Field(default_factory=list, max_length=MAX_CONDITIONS)


class Snapshot(StrictBody):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "plants": [
                        {
                            **PLANT_EXAMPLE,
                            "version": 3,
                            "timeConfigs": cast(
                                Any,
                                [
                                    {
                                        "from": "00:00",
                                        "to": "23:59",
                                        "pBatMax": 50,
                                        "pBatMin": -50,
                                        "socMax": 90,
                                        "socMin": 20,
                                    }
                                ],
                            ),
                            "conditions": [],
                        }
                    ]
                }
            ]
        }
    )

    plants: list[SnapshotPlant] = Field(max_length=10_000, description="ordered by externalPlantId")
