"""The optional periodic trading sync of each org with ESM credentials (TRADING_SYNC_INTERVAL_S)."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from voke_esm.core.db import session_scope
from voke_esm.core.errors import AppError
from voke_esm.core.security import Keyring
from voke_esm.voke.client import service as client_service
from voke_esm.voke.client.service import EsmClientService, SyncAlreadyRunning
from voke_esm.voke.orgs import service as orgs_service

logger = logging.getLogger("voke_esm")


async def sync_every(
    interval_s: float,
    sessionmaker: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    clients: EsmClientService,
) -> None:
    """Run until cancelled; one org's failure never stops the loop or the other orgs."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            async with session_scope(sessionmaker) as session:
                org_ids = await orgs_service.orgs_with_credentials(session)
        except Exception:
            logger.exception("periodic trading sync: could not list the orgs")
            continue
        for org_id in org_ids:
            try:
                await client_service.sync_org(sessionmaker, keyring, clients, org_id)
            except SyncAlreadyRunning:
                logger.info("periodic trading sync of org %s skipped: one is running", org_id)
            except AppError as exc:
                logger.warning("periodic trading sync of org %s failed: %s", org_id, exc.message)
            except Exception:
                logger.exception("periodic trading sync of org %s failed", org_id)
