"""SuperAdmin accounts, login and Voke tokens (CONTRACT §3)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar, TypeVarTuple

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from voke_esm.core.db import end_transaction_before_slow_work
from voke_esm.core.errors import Conflict, Forbidden, NotFound, Unauthorized
from voke_esm.core.ratelimit import RateLimiter, Slot
from voke_esm.core.security import (
    VOKE_ISSUER,
    Keyring,
    TokenError,
    hash_password,
    verify_password_or_dummy,
)
from voke_esm.voke.auth import repository
from voke_esm.voke.auth.models import Role, User
from voke_esm.voke.orgs import service as orgs_service

WRONG_LOGIN = "Invalid email or password"


class EmailTaken(Conflict):
    field = "email"
    default_message = "A user with this email already exists"


class LastSuperAdmin(Conflict):
    default_message = "The last SuperAdmin cannot be deleted"


class UserNotFound(NotFound):
    default_message = "User not found"


class SuperAdminNotFound(NotFound):
    default_message = "There is no SuperAdmin with this email"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """CONTRACT §3: failed logins allowed per email and per peer address, e.g. `10/minute`."""

    per_email: str
    per_peer: str


async def login(
    session: AsyncSession,
    keyring: Keyring,
    limiter: RateLimiter,
    *,
    email: str,
    password: str,
    peer: str,
    limits: LoginLimits,
    ttl_seconds: int,
) -> IssuedToken:
    by_peer = Slot(limiter.parse(limits.per_peer), ("login", "peer", peer))
    by_email = Slot(limiter.parse(limits.per_email), ("login", email))
    # The attempt takes its places before the password is checked (CONTRACT §3): parallel
    # guesses cannot all pass a limit that only finished checks would have filled.
    reservation = await limiter.take(by_peer, by_email, local_fallback=True)
    try:
        user = await repository.get_by_email(session, email)
        # No connection or transaction is held across argon2 (§3): on SQLite the one pooled
        # connection, and its write lock, would queue every other request behind the check.
        await end_transaction_before_slow_work(session)
        valid = await _password_work(
            verify_password_or_dummy, user.password_hash if user else None, password
        )
    except Exception:
        await reservation.give_back_all()  # not a failed login: e.g. the database is down
        raise
    if user is None or not valid:
        raise Unauthorized(WRONG_LOGIN)  # both places stay taken: this is a failed login
    # Only failures count against the peer, so a signed-in user frees the place; the email's
    # earlier failures were the user's own typing (they know the password), so they are
    # forgotten rather than left to lock the user out on the next typo.
    await reservation.give_back(by_peer)
    await reservation.clear(by_email)
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
    # Hashed before the transaction that inserts the user begins (CONTRACT §3): the session has
    # not touched the database yet (SuperAdmin is read on a session of its own).
    password_hash = await _password_work(hash_password, password)
    return await _insert_user(
        session, email=email, password_hash=password_hash, role=role, org_id=org_id
    )


async def _insert_user(
    session: AsyncSession,
    *,
    email: str,
    password_hash: str,
    role: Role,
    org_id: uuid.UUID | None,
) -> User:
    if org_id is not None:
        await orgs_service.get_org(session, org_id)
    if await repository.get_by_email(session, email) is not None:
        raise EmailTaken()
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
    if user.role == Role.SUPER_ADMIN:
        # The last SuperAdmin stays (CONTRACT §3), also when deletes race: the SuperAdmin rows
        # are locked first, in one order, so concurrent deletes take turns and each one counts
        # what the one before it left (PostgreSQL; SQLite's BEGIN IMMEDIATE serialises already).
        # A count alone would not do: under READ COMMITTED two deletes both count two.
        super_admins = await repository.lock_super_admins(session)
        if user.id not in super_admins:
            raise UserNotFound()  # deleted by a delete we waited for
        if len(super_admins) <= 1:
            raise LastSuperAdmin()
    await repository.delete(session, user)


async def ensure_super_admin(session: AsyncSession, *, email: str, password: str) -> bool:
    """Create a SuperAdmin unless one exists; True when one was created."""
    if await repository.count_super_admins(session) > 0:
        return False
    await end_transaction_before_slow_work(session)
    password_hash = await _password_work(hash_password, password)
    # Counted again in the transaction that inserts: another process may have made one meanwhile.
    if await repository.count_super_admins(session) > 0:
        return False
    await _insert_user(
        session, email=email, password_hash=password_hash, role=Role.SUPER_ADMIN, org_id=None
    )
    return True


async def set_super_admin_password(session: AsyncSession, *, email: str, password: str) -> User:
    """A new password for an existing SuperAdmin: the way back in when the one the first start
    printed (CONTRACT §1) is lost (`voke-esm create-admin --reset`)."""
    # Hashed before the unit of work's first statement, so no transaction is held (CONTRACT §3).
    password_hash = await _password_work(hash_password, password)
    user = await repository.get_by_email(session, email)
    if user is None or user.role != Role.SUPER_ADMIN:
        raise SuperAdminNotFound(f"There is no SuperAdmin with the email {email}")
    user.password_hash = password_hash
    await session.flush()
    return user


# argon2 costs about 90 ms of CPU and 64 MiB per hash or check. They run on threads of their own,
# one core fewer than the machine has: a flood of logins then waits in this pool's queue instead of
# taking the event loop's core and the default thread pool that every other request needs.
_password_pool = ThreadPoolExecutor(
    max_workers=max(1, (os.cpu_count() or 2) - 1), thread_name_prefix="voke-esm-argon2"
)


R = TypeVar("R")
Args = TypeVarTuple("Args")


async def _password_work(function: Callable[[*Args], R], *args: *Args) -> R:
    return await asyncio.get_running_loop().run_in_executor(_password_pool, function, *args)
