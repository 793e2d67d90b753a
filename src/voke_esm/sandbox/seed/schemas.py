"""The seed document of `voke-esm serve --seed FILE` (CONTRACT §13): each part is the body of the
admin request that makes it, so a seed is held to the same rules as the API."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from voke_esm.core.schemas import StrictBody
from voke_esm.sandbox.admin.schemas import SandboxPlantCreate
from voke_esm.sandbox.tools.schemas import FaultsWrite
from voke_esm.voke.orgs.schemas import OrgCreate


class SeedPlant(SandboxPlantCreate):
    """A plant as the admin create body has it, without `clientId`: the org's own is used."""

    client_id: str = Field(default="", exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _without_client_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and "clientId" in data:
            raise PydanticCustomError(
                "seed_client_id", "has a clientId: leave it out, the org's own is used"
            )
        return data


class SeedOrg(OrgCreate):
    """An org, matched by name; its plants, matched by externalPlantId; its fault setup."""

    plants: list[SeedPlant] = Field(default_factory=list, max_length=10_000)
    faults: FaultsWrite | None = None


class SeedDocument(StrictBody):
    orgs: list[SeedOrg] = Field(max_length=1_000)
