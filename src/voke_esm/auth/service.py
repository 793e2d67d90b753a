"""SuperAdmin accounts, login and Voke tokens (CONTRACT §3)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from anyio import to_thread
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from voke_esm.auth import repository
from voke_esm.auth.models import Role, User
from voke_esm.errors import Conflict, Forbidden, NotFound, Unauthorized
from voke_esm.orgs import service as orgs_service
from voke_esm.ratelimit import RateLimiter
from voke_esm.security import (
    VOKE_ISSUER,
    Keyring,
    TokenError,
    hash_password,
    verify_password_or_dummy,
)

WRONG_LOGIN = "Invalid email or password"


class EmailTaken(Conflict):
    field = "email"
    default_message = "A user with this email already exists"


class LastSuperAdmin(Conflict):
    default_message = "The last SuperAdmin cannot be deleted"


class UserNotFound(NotFound):
    default_message = "User not found"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int


async def login(
    session: AsyncSession,
    keyring: Keyring,
    limiter: RateLimiter,
    *,
    email: str,
    password: str,
    login_limit: str,
    ttl_seconds: int,
) -> IssuedToken:
    limit = limiter.parse(login_limit)
    await limiter.check(limit, "login", email)
    user = await repository.get_by_email(session, email)
    # argon2 takes tens of milliseconds: off the event loop.
    valid = await to_thread.run_sync(
        verify_password_or_dummy, user.password_hash if user else None, password
    )
    if user is None or not valid:
        await limiter.count(limit, "login", email)
        raise Unauthorized(WRONG_LOGIN)
    token = keyring.issue_token(
        issuer=VOKE_ISSUER, subject=str(user.id), ttl_seconds=ttl_seconds, role=user.role
    )
    return IssuedToken(access_token=token, expires_in=ttl_seconds)


async def user_from_token(session: AsyncSession, keyring: Keyring, token: str) -> User:
    """The user a Voke token (`iss: voke`) stands for; deleted users' tokens die with them."""
    try:
        claims = keyring.decode_token(token, issuer=VOKE_ISSUER)
        user_id = uuid.UUID(claims["sub"])
    except (TokenError, ValueError):
        raise Unauthorized("Invalid or expired token") from None
    user = await repository.get(session, user_id)
    if user is None:
        raise Unauthorized("Invalid or expired token")
    return user


def require_super_admin(user: User) -> User:
    if user.role != Role.SUPER_ADMIN:
        raise Forbidden()
    return user


async def list_users(session: AsyncSession) -> Sequence[User]:
    return await repository.list_all(session)


async def create_user(
    session: AsyncSession, *, email: str, password: str, role: Role, org_id: uuid.UUID | None
) -> User:
    if org_id is not None:
        await orgs_service.get_org(session, org_id)
    if await repository.get_by_email(session, email) is not None:
        raise EmailTaken()
    password_hash = await to_thread.run_sync(hash_password, password)
    try:
        async with session.begin_nested():
            return await repository.add(
                session, User(email=email, password_hash=password_hash, role=role, org_id=org_id)
            )
    except IntegrityError:  # a concurrent create took the email
        raise EmailTaken() from None


async def delete_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    user = await repository.get(session, user_id)
    if user is None:
        raise UserNotFound()
    if user.role == Role.SUPER_ADMIN and await repository.count_super_admins(session) <= 1:
        raise LastSuperAdmin()
    await repository.delete(session, user)


async def ensure_super_admin(session: AsyncSession, *, email: str, password: str) -> bool:
    """Create a SuperAdmin unless one exists; True when one was created."""
    if await repository.count_super_admins(session) > 0:
        return False
    await create_user(session, email=email, password=password, role=Role.SUPER_ADMIN, org_id=None)
    return True
