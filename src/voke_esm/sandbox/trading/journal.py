"""The journal of trading calls (CONTRACT §11): what each call records, and the batch writer.

The trading gate (`voke_esm.sandbox.trading.pipeline`) puts a `TradingCall` into each trading
request's scope; the pipeline and the handlers fill in who called (the org, its clientId) and what
about (plantId, configUpdateReqCode, resultCode). When the answer starts, the gate hands the call
to the app's `JournalRecorder`, which writes it in the background: the answer does not wait for a
transaction of its own. Reading or clearing the journal (the admin API in `sandbox/tools`) first
waits for what is recorded so far to be written, so a client that reads the journal right after a
call finds it there; a read that waits for entries to come (`wait`) watches the org
(`JournalRecorder.watch`) and is woken as soon as a batch with the org's entries is written. A
call that no org can be tied to (a bad token, an unknown clientId) has nowhere to be recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import Scope

from voke_esm.core.db import session_scope
from voke_esm.core.schemas import FieldError, utc_now
from voke_esm.sandbox.repositories import journal as journal_repository

logger = logging.getLogger("voke_esm")

TRADING_CALL = "voke_esm.trading_call"
DROPPED_STATUS = 0  # the journal's status of a call whose connection a `drop` fault closed
# A config update's blocks and errors are kept up to this many each: enough to see what went
# wrong (over 96 blocks is refused anyway), and a bound on what a 1 MiB body puts in the journal.
MAX_DETAILS = 100
# How long the journal lets calls gather before writing them in one transaction, and how many
# make it write at once: a call's entry is in the table within about this time.
LINGER_S = 0.05
MAX_BATCH = 500


@dataclass(slots=True)
class TradingCall:
    """What the journal notes about one trading call; filled in as the call is handled."""

    at: datetime
    org_id: uuid.UUID | None = None
    client_id: str | None = None
    plant_id: str | None = None
    config_update_req_code: str | None = None
    result_code: str | None = None
    time_configs: list[Any] | None = None  # a config update's blocks, as sent
    errors: list[FieldError] | None = None  # the errors its answer listed
    fault: str | None = None  # the kind of fault rule that made the answer

    def identify(self, org_id: uuid.UUID, client_id: str) -> None:
        self.org_id = org_id
        self.client_id = client_id


def trading_call_of(request: Request) -> TradingCall:
    """The call being handled; a detached one where no journal runs (nothing is recorded)."""
    call = request.scope.get(TRADING_CALL)
    return call if isinstance(call, TradingCall) else TradingCall(at=utc_now())


async def trading_call(request: Request) -> TradingCall:
    """`trading_call_of` as a dependency."""
    return trading_call_of(request)


class JournalRecorder:
    """Writes journal entries off the trading calls' path, in batches, one transaction each.

    A batch gathers what is recorded within `linger_s` of its first entry (or `max_batch`
    entries, if sooner): under load one transaction carries hundreds of calls instead of one,
    which is most of what a journaled call would otherwise cost. Entries are written in the
    order they were recorded; each batch inserts its entries and trims every org it touched to
    the newest `keep`. A batch that fails is logged and dropped: the journal never fails a
    trading call. `flush` writes at once what is waiting, without lingering.

    `watch(org_id)` gives an event that is set whenever a batch holding entries of the org has
    been written (committed). While an org is watched its entries are written without lingering,
    so a waiting reader sees a call within a transaction of its answer.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        keep: int,
        linger_s: float = LINGER_S,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._keep = keep
        self._linger_s = linger_s
        self._max_batch = max_batch
        self._pending: list[dict[str, Any]] = []
        self._recorded = 0  # entries recorded so far
        self._settled = 0  # of those, entries written (or given up on)
        self._settled_changed = asyncio.Condition()
        self._write_now = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._watchers: dict[uuid.UUID, set[asyncio.Event]] = {}

    def record(self, entry: dict[str, Any]) -> None:
        self._pending.append(entry)
        self._recorded += 1
        if len(self._pending) >= self._max_batch or entry["org_id"] in self._watchers:
            self._write_now.set()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(
                self._write_pending(), name="journal writer"
            )

    async def flush(self) -> None:
        """Wait until every entry recorded before this call is written."""
        target = self._recorded
        self._write_now.set()
        async with self._settled_changed:
            await self._settled_changed.wait_for(lambda: self._settled >= target)

    async def aclose(self) -> None:
        await self.flush()

    def watching(self, org_id: uuid.UUID) -> int:
        """How many reads are waiting for entries of the org."""
        return len(self._watchers.get(org_id, ()))

    @contextlib.contextmanager
    def watch(self, org_id: uuid.UUID) -> Iterator[asyncio.Event]:
        """An event set each time entries of the org are written; clear it before each look."""
        written = asyncio.Event()
        self._watchers.setdefault(org_id, set()).add(written)
        try:
            yield written
        finally:
            watchers = self._watchers[org_id]
            watchers.discard(written)
            if not watchers:
                del self._watchers[org_id]

    async def _write_pending(self) -> None:
        while self._pending:
            if not self._write_now.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._linger_s):
                        await self._write_now.wait()
            self._write_now.clear()
            batch, self._pending = self._pending, []
            written: list[dict[str, Any]] = []
            try:
                async with session_scope(self._sessionmaker) as session:
                    written = await journal_repository.add_entries(session, batch, keep=self._keep)
            except Exception:
                logger.warning("%d journal entries not recorded", len(batch), exc_info=True)
            for org_id in {entry["org_id"] for entry in written}:
                for watcher in self._watchers.get(org_id, ()):
                    watcher.set()
            async with self._settled_changed:
                self._settled += len(batch)
                self._settled_changed.notify_all()


def journal_entry(
    call: TradingCall, scope: Scope, status: int, duration_ms: float
) -> dict[str, Any]:
    """The `voke_esm_journal` row of a call: never a secret, a token or a header."""
    return {
        "org_id": call.org_id,
        "at": call.at,
        "client_id": call.client_id,
        "method": scope["method"],
        "path": scope["path"][:255],  # the path only: the query string never goes in
        "status": status,
        "plant_id": call.plant_id,
        "config_update_req_code": call.config_update_req_code,
        "result_code": call.result_code,
        "duration_ms": duration_ms,
        "time_configs": None if call.time_configs is None else call.time_configs[:MAX_DETAILS],
        "errors": None if call.errors is None else call.errors[:MAX_DETAILS],
        "fault": call.fault,
    }
