"""telemetry round lease: voke_esm_org_states.telemetry_round_at

Revision ID: 7c2d4e6f8a10
Revises: 5b1f0c7e9a42
Create Date: 2026-11-22 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import voke_esm.core.db

revision: str = "7c2d4e6f8a10"
down_revision: str | None = "5b1f0c7e9a42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("voke_esm_org_states", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "telemetry_round_at", voke_esm.core.db.UtcDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("voke_esm_org_states", schema=None) as batch_op:
        batch_op.drop_column("telemetry_round_at")
