"""`SuperAdmin`: the Voke token of a SuperAdmin, the only key to the admin and Voke-side APIs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from voke_esm.core.deps import KeyringDep, SessionDep
from voke_esm.core.errors import Unauthorized
from voke_esm.voke.auth import service as auth_service
from voke_esm.voke.auth.models import User

voke_bearer = HTTPBearer(
    auto_error=False, scheme_name="VokeToken", description="Voke JWT from /api/v1/auth/login"
)


async def current_user(
    session: SessionDep,
    keyring: KeyringDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(voke_bearer)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized()
    return await auth_service.user_from_token(session, keyring, credentials.credentials)


async def current_super_admin(user: Annotated[User, Depends(current_user)]) -> User:
    return auth_service.require_super_admin(user)


CurrentUser = Annotated[User, Depends(current_user)]
SuperAdmin = Annotated[User, Depends(current_super_admin)]
