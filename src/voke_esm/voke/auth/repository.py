from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete as delete_rows
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from voke_esm.voke.auth.models import Role, User


async def get(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email))


async def list_all(session: AsyncSession) -> Sequence[User]:
    return (await session.scalars(select(User).order_by(User.created_at, User.email))).all()


async def count_super_admins(session: AsyncSession) -> int:
    return (
        await session.scalar(
            select(func.count()).select_from(User).where(User.role == Role.SUPER_ADMIN)
        )
        or 0
    )


async def lock_super_admins(session: AsyncSession) -> list[uuid.UUID]:
    """The SuperAdmins' ids, their rows locked until the transaction ends, always in id order
    (so that two transactions locking them cannot deadlock)."""
    statement = (
        select(User.id).where(User.role == Role.SUPER_ADMIN).order_by(User.id).with_for_update()
    )
    return list((await session.scalars(statement)).all())


async def add(session: AsyncSession, user: User) -> User:
    session.add(user)
    await session.flush()
    return user


async def delete(session: AsyncSession, user: User) -> None:
    await session.delete(user)
    await session.flush()


async def delete_org_admins(session: AsyncSession, org_id: uuid.UUID) -> None:
    await session.execute(
        delete_rows(User)
        .where(User.org_id == org_id, User.role == Role.ORG_ADMIN)
        .execution_options(synchronize_session=False)
    )
