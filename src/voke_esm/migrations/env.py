from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection

import voke_esm.sandbox.models
import voke_esm.voke.auth.models
import voke_esm.voke.orgs.models
import voke_esm.voke.plants.models  # noqa: F401  (each domain's tables on Base.metadata)
from voke_esm.core.db import Base, create_engine, is_sqlite

config = context.config
target_metadata = Base.metadata


def _database_url() -> str:
    url = config.attributes.get("database_url") or os.environ.get("DATABASE_URL")
    if not url:
        from voke_esm.core.config import Settings

        url = Settings().resolved_database_url
    return str(url)


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    context.configure(
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        render_as_batch=is_sqlite(
            url or str(connection.engine.url) if connection else ""
        ),  # SQLite ALTERs
        compare_type=True,
        literal_binds=connection is None,
    )


def _run_sync(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_online(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    _configure(url=_database_url())
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online(_database_url()))
