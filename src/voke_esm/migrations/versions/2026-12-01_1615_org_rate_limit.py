"""org rate limit: voke_esm_org_states.rate_limit, an org's own trading rate limit

`PUT faults` `rateLimit` (CONTRACT §13: the pytest marker's `rate_limit`), written as
VOKE_ESM_RATE_LIMIT is; NULL: the service's.

Revision ID: 5b8f3c2e9a14
Revises: 5b7e0c2d9a41
Create Date: 2026-12-01 16:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b8f3c2e9a14"
down_revision: str | None = "5b7e0c2d9a41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("voke_esm_org_states") as batch:
        batch.add_column(sa.Column("rate_limit", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("voke_esm_org_states") as batch:
        batch.drop_column("rate_limit")
