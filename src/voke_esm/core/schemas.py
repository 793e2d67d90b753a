"""Schema pieces shared by every domain: camelCase models, UTC times, the error envelope."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, TypedDict

from fastapi import Path, Query
from fastapi.openapi.models import Example
from pydantic import BaseModel, ConfigDict, PlainSerializer
from pydantic.alias_generators import to_camel


class FieldError(TypedDict):
    field: str
    message: str


def format_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z` (CONTRACT: all times)."""
    if moment.tzinfo is not None and moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


UtcDateTime = Annotated[
    datetime, PlainSerializer(format_utc, return_type=str, when_used="json-unless-none")
]


class CamelModel(BaseModel):
    """Python snake_case attributes, camelCase JSON, as in the seeds."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


class StrictBody(CamelModel):
    """A request body: unknown fields are a validation error, so a typo never passes silently."""

    # The contract's names only: `client_id` for `clientId` is an unknown field, not an alias.
    model_config = ConfigDict(extra="forbid", populate_by_name=False)


class FieldErrorRead(BaseModel):
    field: str
    message: str


class ErrorEnvelope(BaseModel):
    code: str
    details: dict[str, Any]
    error: str
    message: str
    statusCode: int


class MessageRead(BaseModel):
    message: str


def utc_now() -> datetime:
    return datetime.now(UTC)


def id_example(what: str, value: str) -> dict[str, Example]:
    """A parameter's example for /docs (`openapi_examples=`): `what` says where to find one."""
    return {"id": {"summary": what, "value": value}}


# Path parameters keep the contract's camelCase names in URLs and in OpenAPI.
OrgId = Annotated[
    uuid.UUID,
    Path(
        alias="orgId",
        openapi_examples=id_example(
            "an organization's id (GET /api/v1/orgs)", "0b4f8c4e-8a52-4d6c-9d55-3f1f6c1e2a10"
        ),
    ),
]
PlantId = Annotated[
    uuid.UUID,
    Path(
        alias="plantId",
        openapi_examples=id_example(
            "a Voke plant's id (GET /api/v1/orgs/{orgId}/plants)",
            "6c1d2f3e-4a5b-4c7d-8e9f-0a1b2c3d4e5f",
        ),
    ),
]
UserId = Annotated[
    uuid.UUID,
    Path(
        alias="userId",
        openapi_examples=id_example(
            "a user's id (GET /api/v1/users)", "9d2b7f3a-1c4e-4b8a-9f6d-2e5c7a1b3d4f"
        ),
    ),
]
# The sandbox's admin and tools name the org in the query (the seed's `?orgId=`).
OrgIdQuery = Annotated[
    uuid.UUID,
    Query(
        alias="orgId",
        description="the organization's UUID",
        openapi_examples=id_example(
            "an organization's id (GET /api/v1/orgs)", "0b4f8c4e-8a52-4d6c-9d55-3f1f6c1e2a10"
        ),
    ),
]
