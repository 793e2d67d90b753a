"""Engine, sessions and the declarative base shared by every domain's models."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Concatenate, ParamSpec, TypeVar

import orjson
from sqlalchemy import JSON, BigInteger, DateTime, Engine, Integer, MetaData, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql import Executable
from sqlalchemy.types import TypeDecorator
from starlette.requests import Request

from voke_esm.core.errors import TransactionConflict, is_transaction_conflict
from voke_esm.core.private_files import create_private_file, make_private_dir
from voke_esm.core.schemas import utc_now
from voke_esm.core.services import CoreServices, services_of
from voke_esm.core.sqlite_inline import inline_connector

logger = logging.getLogger("voke_esm")

_P = ParamSpec("_P")
_T = TypeVar("_T")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both backends (SQLite keeps no zone; we put UTC back on load)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; use voke_esm.core.schemas.utc_now()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSONB on PostgreSQL (the seed's time_configs column), JSON text on SQLite.
JsonDocument = JSON().with_variant(JSONB(), "postgresql")


# A 64-bit integer column: BIGINT on PostgreSQL, where INTEGER holds 32 bits. SQLite's INTEGER
# holds 64 bits already, and keeping its declared type spares a migration the rebuild of the
# table (and of the triggers on it).
BigInt = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime,
        dict[str, Any]: JsonDocument,
        list[Any]: JsonDocument,
    }


class UuidPrimaryKey:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


# How long a transaction waits for another process's write lock on the SQLite file.
SQLITE_LOCK_TIMEOUT_S = 30.0


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


# The JSON columns' codec (time_configs above all). orjson reads and writes them several times
# faster than the standard library, which shows on every plant read, but it keeps integers to
# 64 bits: it refuses to write a wider one, and reads one back as the nearest float. §5 allows
# any finite number (2^64, 10^300), so a document holding such an integer goes through the
# standard library, which keeps every integer exactly, both ways.

# orjson reads an integer exactly when it has at most 19 digits (or 20, up to 2^64 - 1): a text
# with a run of 19 digits somewhere (in a string too) is read the exact, slower way. The runs
# are found at C speed: every digit becomes "0" and every other byte a space (a regex search
# costs twice the parse itself).
_DIGITS_AS_ZEROS = bytes(ord("0") if byte in b"0123456789" else ord(" ") for byte in range(256))
_WIDE_RUN = b"0" * 19


def json_text(value: Any) -> str:
    """`value` as compact JSON text, every integer written exactly."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:  # an integer beyond 64 bits (anything else fails here too)
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def json_value(text: str) -> Any:
    """JSON text as Python values, every integer read exactly."""
    if _WIDE_RUN in text.encode().translate(_DIGITS_AS_ZEROS):
        return json.loads(text)
    return orjson.loads(text)


_JSON_CODEC: dict[str, Any] = {"json_serializer": json_text, "json_deserializer": json_value}


def create_engine(database_url: str, *, echo: bool = False) -> AsyncEngine:
    if not is_sqlite(database_url):
        return create_async_engine(
            database_url,
            echo=echo,
            pool_size=10,
            max_overflow=10,
            # No ping at checkout: it is a round trip on every request (a config update's sixth).
            # A connection the server dropped fails its statement as a disconnect instead, which
            # answers 503 and makes the pool drop every connection of that age (the outage test
            # in tests/robustness/test_postgres_outage.py).
            pool_pre_ping=False,
            pool_timeout=10,
            **_JSON_CODEC,
        )
    url = make_url(database_url)
    database = url.database
    if not database or database == ":memory:":
        # One connection that lives as long as the engine: the in-memory database is the connection.
        return create_async_engine(database_url, echo=echo, poolclass=StaticPool, **_JSON_CODEC)
    # A folder we cannot create is an unreachable database: /readyz and the API say 503.
    with contextlib.suppress(OSError):
        _create_private_database(Path(database))
    # SQLite allows one writer at a time. One pooled connection per process queues transactions
    # in FIFO order inside the event loop instead of letting them collide on the file lock, and
    # BEGIN IMMEDIATE makes a second process wait for the lock rather than fail mid-transaction.
    # Statements run on the event loop's thread (see voke_esm.core.sqlite_inline): waiting for
    # another process's lock is the only thing that must not block, and that wait is asynchronous.
    engine = create_async_engine(
        database_url,
        echo=echo,
        pool_size=1,
        max_overflow=0,
        pool_timeout=SQLITE_LOCK_TIMEOUT_S,
        async_creator=inline_connector(database, lock_timeout_s=SQLITE_LOCK_TIMEOUT_S),
        **_JSON_CODEC,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own implicit transactions are off (see inline_connector): the "begin"
        # hook below emits BEGIN itself.
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


# Long reads off the event loop ------------------------------------------------------------------
#
# On SQLite, statements run on the event loop's thread (see above): right for the microsecond
# statements of nearly every request, wrong for the few that take tens of milliseconds (the
# admin list of 10,000 plants builds its JSON in ~60 ms), during which every other request, a
# trading call's included, waits. Those run on a second, read-only pool of the same file in a
# worker thread instead: WAL lets a reader run beside the writer, and sqlite3 lets go of the GIL
# while SQLite works, so the loop goes on serving. PostgreSQL's driver never holds the loop.

_READERS: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
_READER_POOL_SIZE = 2


def _sqlite_reader(engine: Engine) -> Engine | None:
    """The read-only pool beside `engine`'s, made on first use; None where there is none to make
    (PostgreSQL, an in-memory database, a URL with options of its own)."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.query:
        return None
    if not url.database or url.database == ":memory:":
        return None
    reader = _READERS.get(engine)
    if reader is None:
        reader = create_sync_engine(
            url.set(drivername="sqlite+pysqlite"),
            pool_size=_READER_POOL_SIZE,
            max_overflow=0,
            pool_timeout=SQLITE_LOCK_TIMEOUT_S,
            connect_args={"timeout": SQLITE_LOCK_TIMEOUT_S, "check_same_thread": False},
            **_JSON_CODEC,
        )

        @event.listens_for(reader, "connect")
        def _read_only(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA query_only = ON")

        # Dies with the engine it reads beside (the app's lifespan disposes that one).
        event.listen(engine, "engine_disposed", lambda _engine: reader.dispose())
        _READERS[engine] = reader
    return reader


async def scalar_off_loop(session: AsyncSession, statement: Executable) -> Any:
    """The first column of the first row of a long read-only `statement`, without holding the
    event loop: on SQLite on a read-only connection in a worker thread (it sees what is
    committed, so call it before the session writes anything); elsewhere on `session`."""
    bind = session.get_bind()
    reader = _sqlite_reader(bind) if isinstance(bind, Engine) else None
    if reader is None:
        return await session.scalar(statement)

    def read() -> Any:
        with reader.connect() as connection:
            return connection.scalar(statement)

    return await asyncio.to_thread(read)


def _create_private_database(path: Path) -> None:
    """The SQLite file and, if missing, its folder, readable by their owner only (0600 / 0700).

    SQLite would create the file on first connect with the umask's mode (often 0644); an empty
    file is an empty database to it. It gives the -wal and -shm files the database's own mode.
    """
    make_private_dir(path.parent)
    fd = create_private_file(path)
    if fd is not None:
        os.close(fd)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's session; it commits once, after the handler returns without error."""
    sessionmaker = services_of(request.app, CoreServices).sessionmaker
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


@asynccontextmanager
async def session_scope(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """The same unit of work for the CLI and background jobs."""
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def end_transaction_before_slow_work(session: AsyncSession) -> None:
    """Commit the work so far and give the connection back, before slow work that needs none.

    The one exception to "a unit of work commits once, at its end" (`get_session`,
    `session_scope`): no transaction may be held across a wait, because on SQLite the pool has
    one connection and every transaction holds the write lock (BEGIN IMMEDIATE), so the whole
    service would queue behind the wait. Where it is used, and why:

    - login and the first SuperAdmin (`voke/auth/service.py`): the user is read, then argon2
      takes ~90 ms of CPU on a thread (CONTRACT §3);
    - a telemetry snapshot (`sandbox/telemetry/router.py`): read, then published to the broker,
      which may be slow or away (CONTRACT §8).

    Elsewhere a slow step runs before the unit of work begins (`create_user` hashes first) or
    after units of work of its own end (Voke's ESM client: sync and push take the sessionmaker;
    a trading call's fault rules are drawn, and their counts committed, before they act).
    """
    await session.commit()


async def retry_conflicts(session: AsyncSession, work: Callable[[], Awaitable[_T]]) -> _T:
    """Run `work`; if PostgreSQL gives its transaction up for a conflicting one (a deadlock's
    victim, a serialization failure), run it once more in a fresh transaction.

    Running the transaction again is PostgreSQL's documented remedy. The rollback ends the
    transaction, so it releases every lock it held and forgets every write, and the second run
    reads everything afresh (the rollback expires the session's objects). So `work` must be the
    whole of the session's transaction, as a request's service call is: a caller's earlier
    writes in it would be lost. A second conflict is a 503 `TransactionConflict`, never a 500.
    SQLite lets one writer in at a time, so it never gets here.
    """
    try:
        return await work()
    except DBAPIError as exc:
        if not is_transaction_conflict(exc):
            raise
        logger.info("transaction given up for a conflicting one: running it again")
    await session.rollback()
    try:
        return await work()
    except DBAPIError as exc:
        if not is_transaction_conflict(exc):
            raise
        raise TransactionConflict() from exc


def conflicts_retried(
    service: Callable[Concatenate[AsyncSession, _P], Awaitable[_T]],
) -> Callable[Concatenate[AsyncSession, _P], Awaitable[_T]]:
    """A service call that is its request's whole transaction, run again once on a conflict
    (see `retry_conflicts`)."""

    @functools.wraps(service)
    async def run(session: AsyncSession, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        return await retry_conflicts(session, lambda: service(session, *args, **kwargs))

    return run
