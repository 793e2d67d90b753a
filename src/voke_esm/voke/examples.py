"""The examples /docs shows for Voke's own operations (core/openapi.py says how they are used).

Values are the response and request models themselves, so an example that no longer fits its
schema fails at import; errors are the instances the services raise. Ids and times are made up.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from voke_esm.contract.time_configs import SEED_BLOCKS, WHOLE_DAY_BLOCK
from voke_esm.core.errors import RateLimited, ValidationFailed
from voke_esm.core.openapi import Example
from voke_esm.core.schemas import MessageRead
from voke_esm.voke.auth.models import Role
from voke_esm.voke.auth.schemas import LoginRequest, UserCreate, UserRead, VokeTokenRead
from voke_esm.voke.client.schemas import ConfigUpdateAnswer, SyncReportRead, TimeConfigsPush
from voke_esm.voke.orgs.schemas import ConnectionsRead, OrgCreate, OrgRead
from voke_esm.voke.plants.schemas import PlantCreate, PlantRead, PlantUpdate

ORG_ID = uuid.UUID("0b4f8c4e-8a52-4d6c-9d55-3f1f6c1e2a10")
PLANT_ID = uuid.UUID("6c1d2f3e-4a5b-4c7d-8e9f-0a1b2c3d4e5f")
USER_ID = uuid.UUID("3a8be0eb-891d-4fe5-8b04-33b986ab7097")
CREATED_AT = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
SYNCED_AT = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
CLIENT_ID = "vesm-3f9a1c0b7d2e4a6f8b1c2d3e"
ESM_API_URL = "http://127.0.0.1:4410/api/v1/voke-esm"

# Auth and users -----------------------------------------------------------------------------------

LOGIN = LoginRequest.model_validate(
    {"email": "admin@voke-esm.local", "password": "the password serve printed"}
)
LOGIN_SHAPE = ValidationFailed([{"field": "password", "message": "Field required"}])
TOKEN = VokeTokenRead(access_token="<JWT signed with iss: 'voke'>", expires_in=3600)
LOGIN_LIMITED = RateLimited(42)
ADMIN = UserRead(
    id=USER_ID,
    email="admin@voke-esm.local",
    role=Role.SUPER_ADMIN,
    org_id=None,
    created_at=CREATED_AT,
)
ORG_ADMIN = UserRead(
    id=uuid.UUID("9d2b7f3a-1c4e-4b8a-9f6d-2e5c7a1b3d4f"),
    email="operator@acme.example",
    role=Role.ORG_ADMIN,
    org_id=ORG_ID,
    created_at=CREATED_AT,
)
USER_CREATE = UserCreate.model_validate(
    {
        "email": "operator@acme.example",
        "password": "a long enough password",
        "role": "ORG_ADMIN",
        "orgId": str(ORG_ID),
    }
)
USER_DELETED = MessageRead(message="User deleted")

# Orgs ---------------------------------------------------------------------------------------------

ORG = OrgRead(id=ORG_ID, name="Acme Energy", slug="acme-energy", created_at=CREATED_AT)
ORG_CREATE = OrgCreate.model_validate({"name": "Acme Energy"})
ORG_NAME_EMPTY = ValidationFailed(
    [{"field": "name", "message": "String should have at least 1 character"}]
)
ORG_DELETED = MessageRead(message="Organization Acme Energy deleted")
CONNECTIONS = {
    "enabled": Example(
        "Credentials set (the secret is never shown)",
        ConnectionsRead(
            org_id=ORG_ID,
            esm_credentials_set=True,
            client_id=CLIENT_ID,
            esm_api_url=ESM_API_URL,
            credentials_set_at=CREATED_AT,
        ),
    ),
    "none": Example(
        "No credentials: the sandbox is not enabled for it",
        ConnectionsRead(
            org_id=ORG_ID,
            esm_credentials_set=False,
            client_id=None,
            esm_api_url=None,
            credentials_set_at=None,
        ),
    ),
}

# Voke plants and trading --------------------------------------------------------------------------

PLANT = PlantRead(
    id=PLANT_ID,
    org_id=ORG_ID,
    name="Acme Site A",
    external_plant_id="PLANT-001",
    time_configs=[dict(block) for block in SEED_BLOCKS],
    config_version=1,
    synced_at=SYNCED_AT,
    created_at=CREATED_AT,
    updated_at=SYNCED_AT,
)
PLANT_CREATE = PlantCreate.model_validate({"name": "Acme Site A", "externalPlantId": "PLANT-001"})
PLANT_UPDATE = {
    "rename": Example("Rename it", PlantUpdate.model_validate({"name": "Acme Site B"})),
    "link": Example(
        "Link it to another ESM plant", PlantUpdate.model_validate({"externalPlantId": "PLANT-002"})
    ),
    "unlink": Example("Unlink it", PlantUpdate.model_validate({"externalPlantId": None})),
}
PLANT_NAME_EMPTY = ValidationFailed(
    [{"field": "name", "message": "String should have at least 1 character"}]
)
PLANT_DELETED = MessageRead(message="Plant deleted")
SYNC_REPORT = SyncReportRead(plants_listed=1, plants_linked=1, configs_stored=1, errors=[])
WHOLE_DAY = dict(WHOLE_DAY_BLOCK)
PUSH = {
    "apply": Example(
        "Send a schedule to the ESM", TimeConfigsPush.model_validate({"timeConfigs": [WHOLE_DAY]})
    ),
    "dry run": Example(
        "Ask the ESM to check it only",
        TimeConfigsPush.model_validate({"timeConfigs": [WHOLE_DAY], "validateOnly": True}),
    ),
}
PUSH_ANSWER = {
    "applied_ok": Example(
        "applied_ok: the ESM stored it, and so did the plant",
        ConfigUpdateAnswer.model_validate(
            {
                "plantId": "PLANT-001",
                "configUpdateReqCode": "voke-5b0e9c2a7d1f4e3b",
                "resultCode": "applied_ok",
                "version": 2,
                "errors": [],
            }
        ),
    ),
    "cfg_accepted": Example(
        "cfg_accepted: a dry run the ESM found valid",
        ConfigUpdateAnswer.model_validate(
            {
                "plantId": "PLANT-001",
                "configUpdateReqCode": "voke-8c4d2e1f0a9b7c6d",
                "resultCode": "cfg_accepted",
                "version": 1,
                "errors": [],
            }
        ),
    ),
}
PUSH_BROKEN = ValidationFailed(
    [{"field": "timeConfigs[0].to", "message": "must be later than from"}]
)
