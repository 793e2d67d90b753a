"""org quirks: voke_esm_org_states.quirks, the org's chosen trading misbehaviours (CONTRACT §14)

Revision ID: 5b7e0c2d9a41
Revises: 5b8e1f0c2a74
Create Date: 2026-12-01 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "5b7e0c2d9a41"
down_revision: str | None = "5b8e1f0c2a74"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (no batch rebuild): it has a default, so SQLite takes it as it is.
    op.add_column(
        "voke_esm_org_states",
        sa.Column(
            "quirks",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            server_default="[]",
            nullable=False,
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("voke_esm_org_states") as batch:
        batch.drop_column("quirks")
