"""journal details: a config update's blocks and errors, and the fault that made an answer

`voke_esm_journal` gains three nullable columns (issue 12): `time_configs` and `errors`, what a
`plant/config/update` call sent and was answered, and `fault`, the kind of fault rule (`error`,
`drop`, `latency`) that made the answer. Entries written before this revision have none.

Revision ID: 5b8e1f0c2a74
Revises: b7e1c2d3f4a5
Create Date: 2026-12-01 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "5b8e1f0c2a74"
down_revision: str | None = "b7e1c2d3f4a5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    # Plain ADD COLUMNs, no batch rebuild: SQLite adds a nullable column in place.
    op.add_column("voke_esm_journal", sa.Column("time_configs", _JSON, nullable=True))
    op.add_column("voke_esm_journal", sa.Column("errors", _JSON, nullable=True))
    op.add_column("voke_esm_journal", sa.Column("fault", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("voke_esm_journal") as batch:
        batch.drop_column("fault")
        batch.drop_column("errors")
        batch.drop_column("time_configs")
