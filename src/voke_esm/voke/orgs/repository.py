from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from voke_esm.voke.orgs.models import Org, TradingPartnerConfig


async def get(session: AsyncSession, org_id: uuid.UUID, *, for_update: bool = False) -> Org | None:
    if not for_update:
        return await session.get(Org, org_id)
    return await session.scalar(select(Org).where(Org.id == org_id).with_for_update())


async def list_all(session: AsyncSession) -> Sequence[Org]:
    return (await session.scalars(select(Org).order_by(Org.name, Org.id))).all()


async def name_key_taken(session: AsyncSession, name_key: str) -> bool:
    return await session.scalar(select(Org.id).where(Org.name_key == name_key)) is not None


async def get_by_name_key(session: AsyncSession, name_key: str) -> Org | None:
    return await session.scalar(select(Org).where(Org.name_key == name_key))


async def slugs_like(session: AsyncSession, base: str) -> set[str]:
    rows = await session.scalars(select(Org.slug).where(Org.slug.startswith(base, autoescape=True)))
    return set(rows)


async def add(session: AsyncSession, org: Org) -> Org:
    session.add(org)
    await session.flush()
    return org


async def delete(session: AsyncSession, org: Org) -> None:
    """Delete the org row; the foreign keys' ON DELETE CASCADE take every row of the org with it."""
    await session.delete(org)
    await session.flush()


async def get_partner_config(
    session: AsyncSession, org_id: uuid.UUID
) -> TradingPartnerConfig | None:
    return await session.get(TradingPartnerConfig, org_id)


async def list_partner_configs_with_credentials(
    session: AsyncSession,
) -> Sequence[TradingPartnerConfig]:
    query = select(TradingPartnerConfig).where(TradingPartnerConfig.esm_client_id.is_not(None))
    return (await session.scalars(query)).all()


async def save_partner_config(
    session: AsyncSession, config: TradingPartnerConfig
) -> TradingPartnerConfig:
    session.add(config)
    await session.flush()
    return config


# The trading sync lease: `sync_lease_until` is the lease's end, and its exact value (to the
# microsecond) tells its holder apart, so that a holder renews and releases only its own lease.


async def acquire_sync_lease(
    session: AsyncSession, org_id: uuid.UUID, *, now: datetime, until: datetime
) -> bool:
    return await _set_sync_lease(
        session,
        org_id,
        or_(
            TradingPartnerConfig.sync_lease_until.is_(None),
            TradingPartnerConfig.sync_lease_until < now,
        ),
        until,
    )


async def renew_sync_lease(
    session: AsyncSession, org_id: uuid.UUID, *, held: datetime, until: datetime
) -> bool:
    """Move the lease's end to `until` if it is still the one that ends at `held`."""
    return await _set_sync_lease(
        session, org_id, TradingPartnerConfig.sync_lease_until == held, until
    )


async def release_sync_lease(session: AsyncSession, org_id: uuid.UUID, *, held: datetime) -> None:
    await _set_sync_lease(session, org_id, TradingPartnerConfig.sync_lease_until == held, None)


async def _set_sync_lease(
    session: AsyncSession, org_id: uuid.UUID, condition: ColumnElement[bool], until: datetime | None
) -> bool:
    result = await session.execute(
        update(TradingPartnerConfig)
        .where(TradingPartnerConfig.org_id == org_id, condition)
        .values(sync_lease_until=until)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
