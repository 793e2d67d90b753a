"""Alembic migrations, applied by `voke-esm serve` and `voke-esm migrate`.

Importing Alembic and loading its scripts takes about as long as importing the whole service,
and a database that is already at the newest revision (every start but the first) needs neither:
`is_at_head` compares the revision stored in `alembic_version` with the newest revision of the
scripts in `versions/`, read from their source, and tells the CLI whether to run Alembic at all.
Whenever either side cannot be told for certain, it answers False and Alembic decides.
"""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from voke_esm.core.db import create_engine

if TYPE_CHECKING:
    # Alembic itself is imported where it is used: a start that needs no migration never loads it.
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent
VERSIONS_DIR = MIGRATIONS_DIR / "versions"
# Alembic's defaults; env.py keeps them.
VERSION_TABLE = "alembic_version"


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option(
        "file_template", "%%(year)d-%%(month).2d-%%(day).2d_%%(hour).2d%%(minute).2d_%%(slug)s"
    )
    config.attributes["database_url"] = database_url
    return config


def upgrade_to_head(database_url: str) -> None:
    """Bring the database to the newest schema. Call it outside a running event loop."""
    from alembic import command

    command.upgrade(alembic_config(database_url), "head")


def is_at_head(database_url: str) -> bool:
    """True when the database is certainly at the newest revision: `upgrade_to_head` would do
    nothing. Call it outside a running event loop; a database it cannot reach raises."""
    head = script_head()
    if head is None:
        return False
    return asyncio.run(stored_revisions(database_url)) == {head}


def script_head(versions_dir: Path = VERSIONS_DIR) -> str | None:
    """The one head revision of the scripts in `versions/`, read from their `revision` and
    `down_revision` assignments without importing them (or Alembic); None when there is no
    single head or a script does not state both as literals."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in versions_dir.glob("*.py"):
        if path.name.startswith(("__init__", ".#")):  # the files Alembic skips too
            continue
        assigned = _literal_assignments(path)
        revision, down_revision = assigned.get("revision"), assigned.get("down_revision", ...)
        if not isinstance(revision, str):
            return None
        revisions.add(revision)
        if isinstance(down_revision, str):
            parents.add(down_revision)
        elif isinstance(down_revision, tuple | list) and all(
            isinstance(parent, str) for parent in down_revision
        ):
            parents.update(down_revision)
        elif down_revision is not None:
            return None
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def _literal_assignments(path: Path) -> dict[str, object]:
    """The module-level `name = literal` (or `name: type = literal`) assignments of a script."""
    assigned: dict[str, object] = {}
    for node in ast.parse(path.read_bytes(), filename=str(path)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name):
            try:
                assigned[target.id] = ast.literal_eval(value)
            except ValueError:
                assigned[target.id] = ...  # not a literal: unknown
    return assigned


async def stored_revisions(database_url: str) -> set[str] | None:
    """The revisions recorded in the database; None when it has no version table (fresh)."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_read_revisions)
    finally:
        await engine.dispose()


def _read_revisions(connection: Connection) -> set[str] | None:
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))
    return {str(revision) for revision in rows.scalars()}
