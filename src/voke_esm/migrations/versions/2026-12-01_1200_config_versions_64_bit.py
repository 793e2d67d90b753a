"""config versions 64-bit: voke_esm_plants.config_version and plants.config_version as BIGINT

A snapshot may restore a plant at any version (CONTRACT §11), and Voke keeps the ESM's version
of each linked plant: 32 bits overflowed at 2^31. PostgreSQL only: SQLite's INTEGER holds 64
bits already, so its tables are left as they are (no batch rebuild of voke_esm_plants, whose
triggers the trading read cache needs).

Revision ID: 9d4e2a7b1c63
Revises: 32c090acdad7
Create Date: 2026-12-01 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9d4e2a7b1c63"
down_revision: str | None = "32c090acdad7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (("voke_esm_plants", False), ("plants", True))  # (table, nullable)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, nullable in _COLUMNS:
        op.alter_column(
            table,
            "config_version",
            type_=sa.BigInteger(),
            existing_type=sa.Integer(),
            existing_nullable=nullable,
        )


def downgrade() -> None:
    # Fails, and changes nothing, while a version past 2^31 - 1 is stored.
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, nullable in _COLUMNS:
        op.alter_column(
            table,
            "config_version",
            type_=sa.Integer(),
            existing_type=sa.BigInteger(),
            existing_nullable=nullable,
        )
