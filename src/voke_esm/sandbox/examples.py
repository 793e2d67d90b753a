"""The examples /docs shows for the sandbox's operations (core/openapi.py says how they are used).

Values are the response and request models themselves, so an example that no longer fits its
schema fails at import; errors are the instances the services raise. Ids and times are made up.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from voke_esm.contract.time_configs import SEED_BLOCKS, WHOLE_DAY_BLOCK
from voke_esm.core.errors import RateLimited, ValidationFailed
from voke_esm.core.openapi import Example, model_example
from voke_esm.core.schemas import FieldError, MessageRead
from voke_esm.sandbox.admin import service as admin_service
from voke_esm.sandbox.admin.schemas import (
    EnableRead,
    SandboxPlantCreate,
    SandboxPlantRead,
    SandboxPlantUpdate,
    StatusRead,
)
from voke_esm.sandbox.telemetry.schemas import (
    ClockAdvance,
    ClockRead,
    ClockSet,
    ConditionsRead,
    ConditionsWrite,
    TelemetryRead,
    TimeseriesRead,
)
from voke_esm.sandbox.tools.schemas import (
    FaultsRead,
    FaultsWrite,
    JournalEntryRead,
    QuirkRead,
    QuirksRead,
    QuirksWrite,
    Snapshot,
)
from voke_esm.sandbox.trading import faults as trading_faults
from voke_esm.sandbox.trading.quirks import QUIRKS as QUIRKS_THERE_ARE
from voke_esm.sandbox.trading.schemas import (
    ConfigUpdateRead,
    ConfigUpdateRequest,
    OAuth2TokenRead,
    PlantConfigRead,
    TradingPlantRead,
    TradingTokenRead,
)

PLANT_UUID = uuid.UUID("497f6eca-6276-4993-bfeb-53cbbbba6f08")
ENABLED_AT = datetime(2026, 11, 21, 22, 0, tzinfo=UTC)
WHOLE_DAY = dict(WHOLE_DAY_BLOCK)
ONE_BLOCK_WRONG = {
    "from": "08:00",
    "to": "07:00",
    "pBatMax": 50,
    "pBatMin": -50,
    "socMax": 90,
    "socMin": 95,
}
# What §5 says of ONE_BLOCK_WRONG, as the service words it.
ONE_BLOCK_WRONG_ERRORS: list[FieldError] = [
    {"field": "timeConfigs[0].to", "message": "must be later than from"},
    {"field": "timeConfigs[0].socMin", "message": "must not exceed socMax"},
]


# Trading ------------------------------------------------------------------------------------------

TOKEN_REQUEST = {
    "contract's JSON": Example(
        "The partner contract's JSON body",
        {"clientId": "vesm-3f9a1c0b7d2e4a6f8b1c2d3e", "clientSecret": "q8Zr0m2bWk5yH1tXvC9nL4pA7s"},
    ),
}
TOKEN_FORM_REQUEST = {
    "OAuth2 form": Example(
        "OAuth2 client credentials (or send them in HTTP Basic instead)",
        {
            "grant_type": "client_credentials",
            "client_id": "vesm-3f9a1c0b7d2e4a6f8b1c2d3e",
            "client_secret": "q8Zr0m2bWk5yH1tXvC9nL4pA7s",
        },
    ),
}
TOKEN_ANSWER = {
    "JSON": Example("To the JSON body: the contract's names", model_example(TradingTokenRead)),
    "form": Example(
        "To the OAuth2 form: OAuth2's names",
        OAuth2TokenRead(access_token="<JWT signed with iss: 'voke-esm'>", expires_in=3600),
    ),
}
UNSUPPORTED_GRANT_ERRORS: list[FieldError] = [
    {"field": "grant_type", "message": "Input should be 'client_credentials'"}
]
TOKEN_SHAPE_ERRORS: list[FieldError] = [{"field": "clientSecret", "message": "Field required"}]
TRADING_PLANTS = [model_example(TradingPlantRead)]
PLANT_CONFIG = model_example(PlantConfigRead)
UNKNOWN_PLANT_ID = "PLANT-UNKNOWN"

UPDATE_REQUEST = {
    "apply": Example("Apply a schedule", model_example(ConfigUpdateRequest)),
    "dry run": Example(
        "Check a schedule, store nothing (validateOnly)",
        ConfigUpdateRequest.model_validate(
            {
                "plantId": "PLANT-001",
                "configUpdateReqCode": "req-abc124",
                "validateOnly": True,
                "timeConfigs": list(SEED_BLOCKS),
            }
        ),
    ),
    "rejected": Example(
        "A schedule that breaks the rules: to before from, socMin over socMax",
        ConfigUpdateRequest.model_validate(
            {
                "plantId": "PLANT-001",
                "configUpdateReqCode": "req-abc125",
                "validateOnly": False,
                "timeConfigs": [ONE_BLOCK_WRONG],
            }
        ),
    ),
}
APPLIED = ConfigUpdateRead.model_validate(
    {
        "plantId": "PLANT-001",
        "configUpdateReqCode": "req-abc123",
        "resultCode": "applied_ok",
        "version": 2,
        "errors": [],
    }
)
UPDATE_ANSWER = {
    "applied_ok": Example("applied_ok: stored; version rose by one", APPLIED),
    "cfg_accepted": Example(
        "cfg_accepted: a valid dry run; nothing stored",
        ConfigUpdateRead.model_validate(
            {
                "plantId": "PLANT-001",
                "configUpdateReqCode": "req-abc124",
                "resultCode": "cfg_accepted",
                "version": 2,
                "errors": [],
            }
        ),
    ),
    "cfg_rejected": Example(
        "cfg_rejected: each broken rule at its field; nothing stored",
        ConfigUpdateRead.model_validate(
            {
                "plantId": "PLANT-001",
                "configUpdateReqCode": "req-abc125",
                "resultCode": "cfg_rejected",
                "version": 2,
                "errors": ONE_BLOCK_WRONG_ERRORS,
            }
        ),
    ),
    "replay": Example(
        "A replay: the same configUpdateReqCode again answers the first answer, changes nothing",
        APPLIED,
        "Whatever the blocks sent with it: here the first answer to req-abc123, applied_ok at "
        "version 2, though the plant may be at a later version by now.",
    ),
}
UPDATE_SHAPE_ERRORS: list[FieldError] = [{"field": "plantId", "message": "Field required"}]


def injected_fault(endpoint: str, status: int = 503) -> trading_faults.InjectedFault:
    """The answer of rule 0, an `error` rule at `status`, for a call of `endpoint`."""
    return trading_faults.injected_fault(0, endpoint, status)


RATE_LIMITED = RateLimited(42)


# Admin --------------------------------------------------------------------------------------------

ENABLED = model_example(EnableRead)
DISABLED = MessageRead(message="Voke ESM disabled for Acme; its credentials are revoked")
STATUS = {
    "enabled": Example("Enabled", model_example(StatusRead)),
    "disabled": Example(
        "Disabled: its plants are kept",
        StatusRead(
            message="Voke ESM is disabled for Acme",
            enabled=False,
            client_id=None,
            esm_api_url=None,
            plant_count=1,
            enabled_at=None,
        ),
    ),
}
SANDBOX_PLANT = model_example(SandboxPlantRead)
SANDBOX_PLANT_CREATE = model_example(SandboxPlantCreate)
SANDBOX_PLANT_UPDATE = {
    "rename": Example("Rename it", SandboxPlantUpdate.model_validate({"name": "Acme Site B"})),
    "schedule": Example(
        "A new schedule (a new config version)",
        SandboxPlantUpdate.model_validate({"timeConfigs": [WHOLE_DAY]}),
    ),
}
PLANT_DELETED = MessageRead(message="Voke ESM plant deleted")
UNBOUND_CLIENT = ValidationFailed(
    [{"field": "clientId", "message": admin_service.UNBOUND_CLIENT}],
    admin_service.CREATE_REFUSED,
)
BROKEN_BLOCKS = ValidationFailed(ONE_BLOCK_WRONG_ERRORS, admin_service.CREATE_REFUSED)
PLANT_ETAG = '"497f6eca62764993bfeb53cbbbba6f08-3"'
PLANT_CHANGED = admin_service.PlantChanged(PLANT_ETAG)
CLIENT_ID = "vesm-3f9a1c0b7d2e4a6f8b1c2d3e"


# Telemetry and clock ------------------------------------------------------------------------------

CLOCK = model_example(ClockRead)
CLOCK_ADVANCE = ClockAdvance.model_validate({"minutes": 90})
CLOCK_ADVANCE_ERRORS: list[FieldError] = [
    {"field": "minutes", "message": "Input should be greater than 0"}
]
TELEMETRY = model_example(TelemetryRead)
CLOCK_SET = model_example(ClockSet)
TIMESERIES = TimeseriesRead.model_validate(
    {
        "plantId": str(PLANT_UUID),
        "from": "2026-06-21T12:00:00Z",
        "to": "2026-06-21T12:30:00Z",
        "stepMinutes": 15,
        "points": [
            {
                "at": f"2026-06-21T12:{minute:02d}:00Z",
                "soc": soc,
                "pBat": 50.0,
                "pPv": 96.1,
                "pLoad": 0.6,
                "pGrid": -45.5,
                "pLoadShed": 0.0,
                "pPvCurtailed": 0.0,
                "batteryState": "CHARGING",
                "gridStatus": "ON_GRID",
                "activeBlock": SEED_BLOCKS[1],
            }
            for minute, soc in ((0, 61.2), (15, 66.5))
        ],
    }
)
TIMESERIES_ERRORS: list[FieldError] = [{"field": "to", "message": "must be after from"}]
CONDITIONS_WRITE = model_example(ConditionsWrite)
CONDITIONS = ConditionsRead(plant_id=PLANT_UUID, conditions=CONDITIONS_WRITE.conditions)


# Sandbox tools ------------------------------------------------------------------------------------

JOURNAL = [model_example(JournalEntryRead)]
JOURNAL_CLEARED = MessageRead(message="Journal of Acme cleared (12 entries)")
FAULTS_WRITE = model_example(FaultsWrite)
FAULTS = FaultsRead.model_validate(FAULTS_WRITE.model_dump(by_alias=True))
FAULTS_CLEARED = MessageRead(message="Faults of Acme cleared; tokens live the default time")

QUIRKS_WRITE = model_example(QuirksWrite)
QUIRKS = QuirksRead(
    quirks=QUIRKS_WRITE.quirks,
    available=[
        QuirkRead(name=quirk.name, check=quirk.check, description=quirk.description)
        for quirk in QUIRKS_THERE_ARE.values()
    ],
)
QUIRKS_CLEARED = MessageRead(message="Quirks of Acme cleared")
SNAPSHOT = model_example(Snapshot)
RESET = MessageRead(message="Sandbox of Acme reset to its default plant PLANT-9F3A21C4")
