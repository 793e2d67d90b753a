"""`SuperAdmin`: the Voke token of a SuperAdmin, the only key to the admin and Voke-side APIs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from voke_esm.core.db import session_scope
from voke_esm.core.deps import CoreServicesDep
from voke_esm.core.errors import Unauthorized
from voke_esm.voke.auth import service as auth_service
from voke_esm.voke.auth.models import User

voke_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="VokeToken",
    description="a SuperAdmin's Voke token: the `accessToken` that POST /api/v1/auth/login "
    "answers, pasted",
)


async def current_user(
    services: CoreServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(voke_bearer)],
) -> User:
    """The token's user, read in a short transaction of its own that ends before the route runs.

    Not on the request's session: that one would then hold its connection (on SQLite the pool's
    only one, with the write lock) from here to the end of the request, and routes that wait on
    something else first (the journal's writer, an outbound call) had to commit mid-request to
    let it go. The request's session begins only when the route's own work does.
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized()
    async with session_scope(services.sessionmaker) as session:
        return await auth_service.user_from_token(
            session, services.keyring, credentials.credentials
        )


async def current_super_admin(user: Annotated[User, Depends(current_user)]) -> User:
    return auth_service.require_super_admin(user)


CurrentUser = Annotated[User, Depends(current_user)]
SuperAdmin = Annotated[User, Depends(current_super_admin)]
