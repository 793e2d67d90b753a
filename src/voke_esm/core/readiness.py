"""What `/readyz` checks (CONTRACT §11): that the database answers and would take a write now.

A load balancer that sends traffic to a ready instance expects its writes to succeed; an instance
whose SQLite disk is full answers reads but fails every write, so it is not ready.

- SQLite: the database's folder has at least `MIN_FREE_BYTES` free (the file and its -wal grow
  there), and a write transaction can begin (`BEGIN IMMEDIATE`, db.py: the write lock is free
  within the lock timeout and the file is writable).
- PostgreSQL: `SELECT 1`. The server's disk is out of sight of a client; a full one shows as
  failing writes, which the API answers with 503 as for any database outage.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from voke_esm.core.errors import ServiceUnavailable

# Enough for any single write of the service (bodies are at most 1 MiB, §2) to find room.
MIN_FREE_BYTES = 1024 * 1024


class NotWritable(ServiceUnavailable):
    default_message = "Database cannot take writes: its disk is full"


async def check_writable(engine: AsyncEngine) -> None:
    """Return when the database can take a write; raise a 503 AppError when it cannot."""
    if engine.dialect.name != "sqlite":
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return
    database = engine.url.database
    if database and database != ":memory:":
        folder = Path(database).resolve().parent
        if free_bytes(folder) < MIN_FREE_BYTES:
            raise NotWritable()
    async with engine.begin() as connection:  # BEGIN IMMEDIATE: takes the write lock
        await connection.execute(text("SELECT 1"))


def free_bytes(folder: Path) -> int:
    """Bytes an unprivileged process may still write in `folder`'s file system."""
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize
