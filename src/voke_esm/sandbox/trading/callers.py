"""The trading caller query: what every trading call needs of its client, in one query.

Three backends of one query (CONTRACT §6: rotation, disable, fault rules and other instances'
writes must count on the very next call). SQLite's backend keeps its answers while the
database's `PRAGMA data_version` says no connection, of any process, has committed since; the
others read on every call.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import and_, select
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from voke_esm.core.db import SQLITE_LOCK_TIMEOUT_S, json_value
from voke_esm.core.sqlite_inline import when_unlocked
from voke_esm.sandbox.models import SandboxClient, SandboxOrgState, SandboxPlant

if TYPE_CHECKING:
    import asyncpg


@dataclass(frozen=True, slots=True)
class TradingCaller:
    """What every trading call needs of its client, read in one indexed query per call.

    Reading it on every call is what makes a rotation, a disable or a fault rule set on another
    instance count at once, and the versions tell the read cache whether its bytes still hold.
    """

    client_id: str
    org_id: uuid.UUID
    secret_digest: str
    plants_version: int
    fault_rules: list[Any]
    token_ttl_seconds: int | None  # the org's own token lifetime (CONTRACT §11), if it set one
    quirks: frozenset[str]  # the org's chosen misbehaviours (CONTRACT §14; trading/quirks.py)
    rate_limit: str | None  # the org's own trading rate limit (PUT faults `rateLimit`), if set
    # (row id, revision) of the plant asked about, when the call names one the client has.
    plant_key: tuple[str, int] | None
    # Some plant of the org may be in commsLoss (CONTRACT §12): answers must look at the clock.
    comms_loss_possible: bool = False


def _caller_of_row(
    client_id: str,
    row: Any,
    *,
    uuid_of: Callable[[Any], uuid.UUID],
    decoded: Callable[[Any], Any],
) -> TradingCaller:
    """The caller of one row of the caller query, the same for every backend: only how a UUID
    and a JSON column arrive differs (objects through the ORM, text and hex from the drivers)."""
    org_id, digest, plants_version, fault_rules, ttl, quirks, rate_limit, plant, revision, comms = (
        row
    )
    return TradingCaller(
        client_id,
        uuid_of(org_id),
        digest,
        plants_version,
        decoded(fault_rules) if fault_rules else [],
        ttl,
        frozenset(decoded(quirks)) if quirks else frozenset(),
        rate_limit,
        None if plant is None else (str(uuid_of(plant)), revision),
        bool(comms),
    )


def _as_is(value: Any) -> Any:
    return value


def _uuid_of_text(value: Any) -> uuid.UUID:
    return uuid.UUID(str(value))


def _uuid_of_hex(value: Any) -> uuid.UUID:
    return uuid.UUID(hex=value)


class TradingCallers(Protocol):
    async def read(self, client_id: str, plant_id: str | None = None) -> TradingCaller | None: ...

    async def aclose(self) -> None: ...


def trading_callers(engine: AsyncEngine) -> TradingCallers:
    """The fastest way to the caller query this engine's database allows.

    URLs with query options keep to the engine: they may hold SQLite URI options, or
    SQLAlchemy's own asyncpg options (prepared_statement_cache_size…) that asyncpg refuses.
    """
    url = engine.url
    backend, database = url.get_backend_name(), url.database
    if url.query:
        return EngineTradingCallers(engine)
    if backend == "sqlite" and database and database != ":memory:":
        return SqliteTradingCallers(database)
    if backend == "postgresql" and url.get_driver_name() == "asyncpg":
        return PostgresTradingCallers(url.set(drivername="postgresql"))
    return EngineTradingCallers(engine)


# One query on every trading call. {plant} and {client} are the driver's placeholders.
_CALLER_QUERY = """
SELECT c.org_id, c.secret_digest, c.plants_version, s.fault_rules, s.token_ttl_seconds,
       s.quirks, s.rate_limit, p.id, p.revision, s.comms_loss_possible
FROM voke_esm_clients AS c
LEFT JOIN voke_esm_org_states AS s ON s.org_id = c.org_id
LEFT JOIN voke_esm_plants AS p ON p.client_id = c.client_id AND p.external_plant_id = {plant}
WHERE c.client_id = {client}
"""


class EngineTradingCallers:
    """The caller query through the engine's pool, outside any transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def read(self, client_id: str, plant_id: str | None = None) -> TradingCaller | None:
        plant = and_(
            SandboxPlant.client_id == SandboxClient.client_id,
            SandboxPlant.external_plant_id == (plant_id or ""),
        )
        query = (
            select(
                SandboxClient.org_id,
                SandboxClient.secret_digest,
                SandboxClient.plants_version,
                SandboxOrgState.fault_rules,
                SandboxOrgState.token_ttl_seconds,
                SandboxOrgState.quirks,
                SandboxOrgState.rate_limit,
                SandboxPlant.id,
                SandboxPlant.revision,
                SandboxOrgState.comms_loss_possible,
            )
            .select_from(SandboxClient)
            .outerjoin(SandboxOrgState, SandboxOrgState.org_id == SandboxClient.org_id)
            .outerjoin(SandboxPlant, plant)
            .where(SandboxClient.client_id == client_id)
        )
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            return None
        return _caller_of_row(client_id, row, uuid_of=_as_is, decoded=_as_is)

    async def aclose(self) -> None:
        pass


class PostgresTradingCallers:
    """The caller query on a small asyncpg pool of its own, as one prepared statement.

    Through the engine the query costs a pool checkout (with its liveness ping) and
    SQLAlchemy's execution machinery, several times the query itself.
    """

    _QUERY = _CALLER_QUERY.format(plant="$2", client="$1")
    _POOL_SIZE = 4

    def __init__(self, url: URL) -> None:
        # Imported here: a service on SQLite never loads the driver (a few MiB resident).
        import asyncpg

        self._asyncpg = asyncpg
        self._dsn = url.render_as_string(hide_password=False)
        self._pool: asyncpg.Pool | None = None

    async def _connected(self) -> asyncpg.Pool:
        if self._pool is None:
            self._pool = await self._asyncpg.create_pool(
                self._dsn, min_size=1, max_size=self._POOL_SIZE, timeout=10
            )
        return self._pool

    async def read(self, client_id: str, plant_id: str | None = None) -> TradingCaller | None:
        try:
            pool = await self._connected()
            row = await pool.fetchrow(self._QUERY, client_id, plant_id, timeout=10)
        except (OSError, self._asyncpg.PostgresError, self._asyncpg.InterfaceError) as exc:
            raise OperationalError(self._QUERY, None, exc) from exc
        if row is None:
            return None
        return _caller_of_row(client_id, row, uuid_of=_uuid_of_text, decoded=json_value)

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


_SQLITE_CALLER_QUERY = _CALLER_QUERY.format(plant="?", client="?")


class SqliteTradingCallers:
    """The caller query on a read-only connection of its own, run on the event loop's thread.

    This is the hot path of every trading call: through the engine it costs a pool checkout and
    SQLAlchemy's execution machinery, about 200 µs; here about 15. In WAL mode a reader never
    waits for the writer, so the query cannot hold up the loop (see voke_esm.core.sqlite_inline).

    Its answers are kept while `PRAGMA data_version` stays the same: SQLite changes it for this
    connection whenever any other connection commits, this process's engine and the journal
    writer included, other processes too. This connection never writes, so an unchanged value
    means the database is as the answers were read from it, and a rotation, a disable, a fault
    rule or a plant's change counts on the very next call. Any commit drops every answer: the
    check is one statement, far cheaper than the query and the row's mapping.
    """

    _MOST_KEPT = 4096  # answers kept at most (a flood of unknown clientIds must not grow it)

    def __init__(self, database: str) -> None:
        self._database = database
        self._connection: sqlite3.Connection | None = None
        self._data_version: int | None = None
        self._answers: dict[tuple[str, str | None], TradingCaller | None] = {}

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(
                self._database, timeout=0, isolation_level=None, check_same_thread=False
            )
            connection.execute("PRAGMA query_only = ON")
            self._connection = connection
        return self._connection

    async def read(self, client_id: str, plant_id: str | None = None) -> TradingCaller | None:
        key = (client_id, plant_id)
        try:
            connection = self._connect()
            version = await when_unlocked(
                lambda: connection.execute("PRAGMA data_version").fetchone()[0],
                SQLITE_LOCK_TIMEOUT_S,
            )
            if version != self._data_version or len(self._answers) >= self._MOST_KEPT:
                self._answers.clear()
                self._data_version = version
            elif key in self._answers:
                return self._answers[key]
            row = await when_unlocked(
                lambda: connection.execute(_SQLITE_CALLER_QUERY, (plant_id, client_id)).fetchone(),
                SQLITE_LOCK_TIMEOUT_S,
            )
        except sqlite3.Error as exc:
            self.close()  # open afresh next time: the file may be back
            raise OperationalError(_SQLITE_CALLER_QUERY, None, exc) from exc
        caller = self._caller(client_id, row)
        self._answers[key] = caller
        return caller

    @staticmethod
    def _caller(client_id: str, row: Any) -> TradingCaller | None:
        if row is None:
            return None
        return _caller_of_row(client_id, row, uuid_of=_uuid_of_hex, decoded=json_value)

    def close(self) -> None:
        self._answers.clear()
        self._data_version = None
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def aclose(self) -> None:
        self.close()
