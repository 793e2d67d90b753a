"""org name key: org names unique without regard to case (CONTRACT §3 amended)

`orgs.name_key` holds a digest of the name folded for comparison (see `name_key` below), under a
unique index. Names stored before this revision may already clash: the oldest org of each
clashing group keeps its name, each later one gets the first free " (2)", " (3)", ... suffix, and
each rename is logged. No org is merged or deleted, and slugs stay as they are (the telemetry
routing keys of §8 are built from them).

The orgs table is changed without a SQLite table rebuild: rebuilding it drops the old table, and
with foreign keys on (as the app connects) that would cascade into every table of the orgs.

Revision ID: 32c090acdad7
Revises: 7c2d4e6f8a10
Create Date: 2026-12-01 00:10:00
"""

import hashlib
import logging
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "32c090acdad7"
down_revision: str | None = "7c2d4e6f8a10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger("alembic.runtime.migration")
NAME_MAX = 255


def name_key(name: str) -> str:
    """voke_esm.voke.orgs.models.name_key as of this revision (a migration keeps its own copy)."""
    folded = unicodedata.normalize("NFKC", name.strip()).casefold()
    return hashlib.sha256(folded.encode()).hexdigest()


def _free_name(name: str, taken: set[str]) -> str:
    suffix = 2
    while True:
        ending = f" ({suffix})"
        candidate = name[: NAME_MAX - len(ending)].rstrip() + ending
        if name_key(candidate) not in taken:
            return candidate
        suffix += 1


def upgrade() -> None:
    # NOT NULL with a default is what SQLite's ALTER TABLE ADD COLUMN accepts; every row gets
    # its real key below, before the unique index is made.
    op.add_column(
        "orgs",
        sa.Column("name_key", sa.String(length=64), nullable=False, server_default=""),
    )
    bind = op.get_bind()
    orgs = sa.table(
        "orgs",
        sa.column("id", sa.Uuid()),
        sa.column("name", sa.String()),
        sa.column("name_key", sa.String()),
        sa.column("created_at", sa.DateTime()),
    )
    rows = bind.execute(
        sa.select(orgs.c.id, orgs.c.name).order_by(orgs.c.created_at, orgs.c.id)
    ).all()
    # Every name as stored is taken, so that a rename never takes a later org's name.
    taken = {name_key(name) for _, name in rows}
    kept: set[str] = set()
    for org_id, name in rows:
        key = name_key(name)
        if key not in kept:  # the oldest org of the name keeps it
            kept.add(key)
            new_name = name
        else:
            new_name = _free_name(name, taken)
            key = name_key(new_name)
            taken.add(key)
            logger.warning(
                "org %s renamed from %r to %r: org names are now unique without regard to case",
                org_id,
                name,
                new_name,
            )
        bind.execute(sa.update(orgs).where(orgs.c.id == org_id).values(name=new_name, name_key=key))
    if bind.dialect.name == "postgresql":  # SQLite cannot drop a default without a rebuild
        op.alter_column("orgs", "name_key", server_default=None)
    op.create_index(op.f("ix_orgs_name_key"), "orgs", ["name_key"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_orgs_name_key"), table_name="orgs")
    # Native on PostgreSQL and SQLite >= 3.35: no table rebuild (see above).
    op.execute("ALTER TABLE orgs DROP COLUMN name_key")
