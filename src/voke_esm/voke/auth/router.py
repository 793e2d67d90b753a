from __future__ import annotations

from fastapi import APIRouter, Request

from voke_esm.core.deps import KeyringDep, LimiterDep, SessionDep, SettingsDep
from voke_esm.core.errors import (
    Forbidden,
    InvalidUuid,
    Unauthorized,
    ValidationFailed,
    error_responses,
)
from voke_esm.core.openapi import documented
from voke_esm.core.schemas import MessageRead, UserId
from voke_esm.voke import examples
from voke_esm.voke.auth import service as auth_service
from voke_esm.voke.auth.deps import CurrentUser, SuperAdmin
from voke_esm.voke.auth.schemas import LoginRequest, UserCreate, UserRead, VokeTokenRead
from voke_esm.voke.auth.service import EmailTaken, LastSuperAdmin, UserNotFound
from voke_esm.voke.orgs.service import OrgNotFound

auth_router = APIRouter(prefix="/api/v1/auth", tags=["Auth"])
users_router = APIRouter(
    prefix="/api/v1/users", tags=["Users"], responses=error_responses(Unauthorized, Forbidden)
)


@auth_router.post(
    "/login",
    response_model=VokeTokenRead,
    **documented(
        "Sign in: a Voke token for an email and password",
        examples.LOGIN_SHAPE,
        Unauthorized(auth_service.WRONG_LOGIN),
        examples.LOGIN_LIMITED,
        request=examples.LOGIN,
        answer=examples.TOKEN,
    ),
)
async def login(
    body: LoginRequest,
    request: Request,
    session: SessionDep,
    keyring: KeyringDep,
    limiter: LimiterDep,
    settings: SettingsDep,
) -> VokeTokenRead:
    """Exchange a Voke user's email and password for a Voke JWT (`iss: voke`)."""
    issued = await auth_service.login(
        session,
        keyring,
        limiter,
        email=body.email,
        password=body.password,
        # The TCP peer, never a header (as the trading endpoints' loopback guard).
        peer=request.client.host if request.client else "unknown",
        limits=auth_service.LoginLimits(
            per_email=settings.login_rate_limit, per_peer=settings.login_peer_rate_limit
        ),
        ttl_seconds=settings.voke_token_ttl_seconds,
    )
    return VokeTokenRead(access_token=issued.access_token, expires_in=issued.expires_in)


@auth_router.get(
    "/me",
    response_model=UserRead,
    **documented("Who am I?", Unauthorized, answer=examples.ADMIN),
)
async def read_me(user: CurrentUser) -> UserRead:
    """The signed-in user."""
    return UserRead.model_validate(user)


@users_router.get(
    "",
    response_model=list[UserRead],
    **documented("List users", answer=[examples.ADMIN, examples.ORG_ADMIN]),
)
async def list_users(_: SuperAdmin, session: SessionDep) -> list[UserRead]:
    return [UserRead.model_validate(user) for user in await auth_service.list_users(session)]


@users_router.post(
    "",
    status_code=201,
    response_model=UserRead,
    **documented(
        "Create a user",
        ValidationFailed(
            [{"field": "password", "message": "String should have at least 8 characters"}]
        ),
        OrgNotFound,
        EmailTaken,
        request=examples.USER_CREATE,
        answer=examples.ORG_ADMIN,
        status=201,
    ),
)
async def create_user(body: UserCreate, _: SuperAdmin, session: SessionDep) -> UserRead:
    user = await auth_service.create_user(
        session, email=body.email, password=body.password, role=body.role, org_id=body.org_id
    )
    return UserRead.model_validate(user)


@users_router.delete(
    "/{userId}",
    response_model=MessageRead,
    **documented(
        "Delete a user",
        InvalidUuid,
        UserNotFound,
        LastSuperAdmin,
        answer=examples.USER_DELETED,
    ),
)
async def delete_user(user_id: UserId, _: SuperAdmin, session: SessionDep) -> MessageRead:
    await auth_service.delete_user(session, user_id)
    return MessageRead(message="User deleted")
