from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from voke_esm.core.schemas import CamelModel, StrictBody, UtcDateTime
from voke_esm.voke.auth.models import Role

_EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def _normalize_email(email: str) -> str:
    return email.strip().lower()


Email = Annotated[
    str,
    Field(min_length=3, max_length=320, pattern=_EMAIL_PATTERN),
    AfterValidator(_normalize_email),
]


class LoginRequest(StrictBody):
    email: Annotated[str, Field(min_length=1, max_length=320), AfterValidator(_normalize_email)]
    password: str = Field(min_length=1, max_length=1024)


class VokeTokenRead(CamelModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int


class UserCreate(StrictBody):
    email: Email
    password: str = Field(min_length=8, max_length=1024)
    role: Role
    org_id: uuid.UUID | None = None


class UserRead(CamelModel):
    id: uuid.UUID
    email: str
    role: Role
    org_id: uuid.UUID | None
    created_at: UtcDateTime
