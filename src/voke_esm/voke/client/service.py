"""Voke's trading sync and schedule push (CONTRACT §7), over `EsmClient` only.

Outbound HTTP never runs inside a database transaction: each step opens a short session of its
own. On SQLite the pool holds a single connection, and the ESM being called may be this very
process, so a transaction held across a call would wait on itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from voke_esm.contract.time_configs import TimeConfigJson, check_time_configs
from voke_esm.core.db import session_scope
from voke_esm.core.errors import AppError, Conflict, ValidationFailed
from voke_esm.core.schemas import FieldError, utc_now
from voke_esm.core.security import Keyring
from voke_esm.voke.client.http import (
    DEFAULT_RETRY,
    DEFAULT_TIMEOUTS,
    EsmClient,
    EsmError,
    EsmRequestRefused,
    RetryPolicy,
    Timeouts,
)
from voke_esm.voke.client.schemas import ConfigUpdateAnswer
from voke_esm.voke.orgs import service as orgs_service
from voke_esm.voke.orgs.service import PartnerCredentials
from voke_esm.voke.plants import service as plants_service

logger = logging.getLogger("voke_esm")

# How long a sync's lease lasts unless its holder renews it (TRADING_SYNC_LEASE_S). A running
# sync renews it every third of that, so a renewal may be late twice (each waits at most the
# pool's 10 s for a connection) before another sync may take over; a crashed holder's lease is
# free again within it. How long the sync itself may run is bounded by its calls' deadlines
# (RetryPolicy.total_timeout each, in voke/client/http.py), not by the lease.
DEFAULT_SYNC_LEASE_S = 30.0


class EsmCallFailed(AppError):
    code, status, default_message = "ESM_UNAVAILABLE", 502, "The partner ESM call failed"


class NoEsmCredentials(Conflict):
    default_message = "The organization has no ESM credentials: enable Voke ESM for it first"


class SyncAlreadyRunning(Conflict):
    default_message = "A trading sync of this organization is already running"


class PlantNotLinked(ValidationFailed):
    def __init__(self) -> None:
        super().__init__(
            [{"field": "externalPlantId", "message": "the plant is not linked to an ESM plant"}],
            "The plant has no externalPlantId",
        )

    @classmethod
    def example(cls) -> AppError:
        return cls()


class EsmClientService:
    """One `EsmClient` per set of credentials, kept so that tokens and connections are reused.

    New credentials (a rotation) get a new client; the old one is closed.
    """

    def __init__(
        self,
        *,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        retry: RetryPolicy = DEFAULT_RETRY,
        sync_lease_s: float = DEFAULT_SYNC_LEASE_S,
    ) -> None:
        self._timeouts = timeouts
        self._retry = retry
        self.sync_lease_s = sync_lease_s
        self._clients: dict[uuid.UUID, tuple[str, EsmClient]] = {}

    def client_for(self, org_id: uuid.UUID, credentials: PartnerCredentials) -> EsmClient:
        fingerprint = hashlib.sha256(
            "\n".join(
                (credentials.esm_api_url, credentials.client_id, credentials.client_secret)
            ).encode()
        ).hexdigest()
        cached = self._clients.get(org_id)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        if cached is not None:
            asyncio.get_running_loop().create_task(cached[1].aclose())
        client = EsmClient(
            credentials.esm_api_url,
            credentials.client_id,
            credentials.client_secret,
            timeouts=self._timeouts,
            retry=self._retry,
        )
        self._clients[org_id] = (fingerprint, client)
        return client

    async def aclose(self) -> None:
        clients, self._clients = self._clients, {}
        for _, client in clients.values():
            await client.aclose()


@dataclass
class SyncReport:
    plants_listed: int = 0
    plants_linked: int = 0
    configs_stored: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


async def _credentials(
    sessionmaker: async_sessionmaker[AsyncSession], keyring: Keyring, org_id: uuid.UUID
) -> PartnerCredentials:
    async with session_scope(sessionmaker) as session:
        await orgs_service.get_org(session, org_id)
        credentials = await orgs_service.partner_credentials(session, keyring, org_id)
    if credentials is None:
        raise NoEsmCredentials()
    return credentials


async def sync_org(
    sessionmaker: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    clients: EsmClientService,
    org_id: uuid.UUID,
) -> SyncReport:
    """Token, plant list, then the config of each linked plant, stored on the Voke plant.

    One plant's failure goes into `errors` and the others carry on. A lease in the database
    keeps two syncs of one org from running at once, across instances too: renewed while the
    sync runs, it outlives a crashed holder by at most `clients.sync_lease_s`.
    """
    credentials = await _credentials(sessionmaker, keyring, org_id)
    async with _SyncLease(sessionmaker, org_id, clients.sync_lease_s):
        return await _sync(sessionmaker, clients.client_for(org_id, credentials), org_id)


class _SyncLease:
    """The org's sync lease, taken on entry (else `SyncAlreadyRunning`), renewed in the
    background every third of its length while the block runs, and given back on exit."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], org_id: uuid.UUID, seconds: float
    ) -> None:
        self._sessionmaker = sessionmaker
        self._org_id = org_id
        self._seconds = seconds
        self._held: datetime | None = None  # the lease's end as we last wrote it; None: not ours
        self._done = asyncio.Event()
        self._heartbeat: asyncio.Task[None] | None = None

    async def __aenter__(self) -> None:
        async with session_scope(self._sessionmaker) as session:
            self._held = await orgs_service.acquire_sync_lease(
                session, self._org_id, seconds=self._seconds
            )
        if self._held is None:
            raise SyncAlreadyRunning()
        self._heartbeat = asyncio.create_task(
            self._renew_until_done(), name=f"trading sync lease of org {self._org_id}"
        )

    async def __aexit__(self, *_: object) -> None:
        # The heartbeat is told to stop rather than cancelled, so that a renewal it is writing
        # is not cut between its commit and noting the lease's new end.
        self._done.set()
        assert self._heartbeat is not None
        await self._heartbeat
        if self._held is not None:
            async with session_scope(self._sessionmaker) as session:
                await orgs_service.release_sync_lease(session, self._org_id, held=self._held)

    async def _renew_until_done(self) -> None:
        while self._held is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._done.wait(), timeout=self._seconds / 3)
            if self._done.is_set():
                return
            try:
                async with session_scope(self._sessionmaker) as session:
                    self._held = await orgs_service.renew_sync_lease(
                        session, self._org_id, held=self._held, seconds=self._seconds
                    )
            except Exception:  # a database blip: the lease lasts two more tries
                logger.warning("trading sync of org %s: could not renew its lease", self._org_id)
                continue
            if self._held is None:
                logger.warning(
                    "trading sync of org %s: its lease ran out and another sync took it",
                    self._org_id,
                )


async def _sync(
    sessionmaker: async_sessionmaker[AsyncSession], client: EsmClient, org_id: uuid.UUID
) -> SyncReport:
    report = SyncReport()
    try:
        listed = await client.list_plants()
    except EsmError as exc:
        raise EsmCallFailed(f"Listing the ESM's plants failed: {exc}") from None
    report.plants_listed = len(listed)
    listed_ids = {plant.plant_id for plant in listed}

    async with session_scope(sessionmaker) as session:
        linked = [
            (plant.id, plant.external_plant_id)
            for plant in await plants_service.linked_plants(session, org_id)
            if plant.external_plant_id in listed_ids
        ]
    report.plants_linked = len(linked)

    fetched: list[tuple[uuid.UUID, list[TimeConfigJson], int]] = []
    for plant_id, external_plant_id in linked:
        assert external_plant_id is not None
        try:
            config = await client.get_config(external_plant_id)
        except EsmError as exc:
            report.errors.append(
                {"plantId": plant_id, "externalPlantId": external_plant_id, "message": str(exc)}
            )
            continue
        fetched.append(
            (plant_id, [block.as_json() for block in config.time_configs], config.version)
        )

    synced_at = utc_now()
    async with session_scope(sessionmaker) as session:
        for plant_id, time_configs, version in fetched:
            stored = await plants_service.store_esm_config(
                session, org_id, plant_id, time_configs=time_configs, version=version, at=synced_at
            )
            report.configs_stored += stored is not None
    logger.info(
        "trading sync of org %s: %d listed, %d linked, %d stored, %d errors",
        org_id,
        report.plants_listed,
        report.plants_linked,
        report.configs_stored,
        len(report.errors),
    )
    return report


async def push_time_configs(
    sessionmaker: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    clients: EsmClientService,
    org_id: uuid.UUID,
    plant_id: uuid.UUID,
    *,
    time_configs: Sequence[TimeConfigJson],
    validate_only: bool,
) -> ConfigUpdateAnswer:
    """Send a schedule to the ESM's config/update; keep it on the Voke plant once applied."""
    errors: list[FieldError] = check_time_configs(time_configs)
    if errors:  # refused before any call
        raise ValidationFailed(errors)
    async with session_scope(sessionmaker) as session:
        plant = await plants_service.get_plant(session, org_id, plant_id)
        external_plant_id = plant.external_plant_id
    if external_plant_id is None:
        raise PlantNotLinked()
    credentials = await _credentials(sessionmaker, keyring, org_id)
    client = clients.client_for(org_id, credentials)
    try:
        # One fresh code per push; the client's retries resend it, so it is never applied twice.
        answer = await client.update_config(
            external_plant_id,
            time_configs,
            validate_only=validate_only,
            config_update_req_code=f"voke-{uuid.uuid4()}",
        )
    except EsmRequestRefused as exc:
        if exc.status == 404:  # a link to a plant the ESM does not have: the user's to fix
            raise ValidationFailed(
                [{"field": "externalPlantId", "message": "the ESM has no plant with this id"}],
                "The ESM does not know this plant",
            ) from None
        raise EsmCallFailed(f"The ESM config update failed: {exc}") from None
    except EsmError as exc:
        raise EsmCallFailed(f"The ESM config update failed: {exc}") from None
    if answer.result_code == "cfg_rejected":
        raise ValidationFailed(
            [{"field": error.field, "message": error.message} for error in answer.errors],
            "The ESM rejected the schedule",
        )
    if answer.result_code == "applied_ok":
        async with session_scope(sessionmaker) as session:
            await plants_service.store_esm_config(
                session,
                org_id,
                plant_id,
                time_configs=list(time_configs),
                version=answer.version,
                at=utc_now(),
            )
    return answer
