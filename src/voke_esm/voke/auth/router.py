from __future__ import annotations

from fastapi import APIRouter, Request

from voke_esm.core.deps import KeyringDep, LimiterDep, SessionDep, SettingsDep
from voke_esm.core.errors import (
    Conflict,
    Forbidden,
    InvalidUuid,
    NotFound,
    RateLimited,
    Unauthorized,
    ValidationFailed,
    error_responses,
)
from voke_esm.core.schemas import MessageRead, UserId
from voke_esm.voke.auth import service as auth_service
from voke_esm.voke.auth.deps import CurrentUser, SuperAdmin
from voke_esm.voke.auth.schemas import LoginRequest, TokenRead, UserCreate, UserRead

auth_router = APIRouter(prefix="/api/v1/auth", tags=["Auth"])
users_router = APIRouter(
    prefix="/api/v1/users", tags=["Users"], responses=error_responses(Unauthorized, Forbidden)
)


@auth_router.post(
    "/login",
    response_model=TokenRead,
    responses=error_responses(ValidationFailed, Unauthorized, RateLimited),
)
async def login(
    body: LoginRequest,
    request: Request,
    session: SessionDep,
    keyring: KeyringDep,
    limiter: LimiterDep,
    settings: SettingsDep,
) -> TokenRead:
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
    return TokenRead(access_token=issued.access_token, expires_in=issued.expires_in)


@auth_router.get("/me", response_model=UserRead, responses=error_responses(Unauthorized))
async def read_me(user: CurrentUser) -> UserRead:
    """The signed-in user."""
    return UserRead.model_validate(user)


@users_router.get("", response_model=list[UserRead])
async def list_users(_: SuperAdmin, session: SessionDep) -> list[UserRead]:
    return [UserRead.model_validate(user) for user in await auth_service.list_users(session)]


@users_router.post(
    "",
    status_code=201,
    response_model=UserRead,
    responses=error_responses(ValidationFailed, NotFound, Conflict),
)
async def create_user(body: UserCreate, _: SuperAdmin, session: SessionDep) -> UserRead:
    user = await auth_service.create_user(
        session, email=body.email, password=body.password, role=body.role, org_id=body.org_id
    )
    return UserRead.model_validate(user)


@users_router.delete(
    "/{userId}",
    response_model=MessageRead,
    responses=error_responses(InvalidUuid, NotFound, Conflict),
)
async def delete_user(user_id: UserId, _: SuperAdmin, session: SessionDep) -> MessageRead:
    await auth_service.delete_user(session, user_id)
    return MessageRead(message="User deleted")
