"""Schema pieces shared by every domain: camelCase models, UTC times, the error envelope."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, TypedDict

from fastapi import Path
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


# Path parameters keep the contract's camelCase names in URLs and in OpenAPI.
OrgId = Annotated[uuid.UUID, Path(alias="orgId")]
PlantId = Annotated[uuid.UUID, Path(alias="plantId")]
UserId = Annotated[uuid.UUID, Path(alias="userId")]
