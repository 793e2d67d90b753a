"""trading read versions: what the trading read cache checks on every call

`voke_esm_clients.plants_version` changes whenever anything `plant/list` shows of the client's
plants changes; `voke_esm_plants.revision` changes on every update of a plant. Triggers keep
both, so every write counts (the ORM's, a bulk statement's, another instance's, a hand-typed
one), and a config update touches only its own plant row: concurrent updates of different
plants never queue on the client row.

Revision ID: 5b1f0c7e9a42
Revises: 398adc87c627
Create Date: 2026-11-22 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b1f0c7e9a42"
down_revision: str | None = "398adc87c627"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What plant/list shows of a plant (TradingPlantRead), its owner, and its place in the order.
LISTED_COLUMNS = (
    "client_id",
    "external_plant_id",
    "name",
    "description",
    "fve_peak_power_kwp",
    "capacity_kwh",
    "esi_state",
    "config_enabled",
    "plant_with_load",
    "created_at",
)
_BUMP_CLIENT = "UPDATE voke_esm_clients SET plants_version = plants_version + 1"

SQLITE_TRIGGERS = (
    # Recursive triggers are off (SQLite's default), so the inner UPDATE fires nothing.
    """
    CREATE TRIGGER voke_esm_plants_revision AFTER UPDATE ON voke_esm_plants
    FOR EACH ROW WHEN NEW.revision = OLD.revision
    BEGIN
        UPDATE voke_esm_plants SET revision = OLD.revision + 1 WHERE id = NEW.id;
    END
    """,
    f"""
    CREATE TRIGGER voke_esm_plants_listed_insert AFTER INSERT ON voke_esm_plants
    FOR EACH ROW
    BEGIN
        {_BUMP_CLIENT} WHERE client_id = NEW.client_id;
    END
    """,
    f"""
    CREATE TRIGGER voke_esm_plants_listed_delete AFTER DELETE ON voke_esm_plants
    FOR EACH ROW
    BEGIN
        {_BUMP_CLIENT} WHERE client_id = OLD.client_id;
    END
    """,
    f"""
    CREATE TRIGGER voke_esm_plants_listed_update
    AFTER UPDATE OF {", ".join(LISTED_COLUMNS)} ON voke_esm_plants
    FOR EACH ROW
    BEGIN
        {_BUMP_CLIENT} WHERE client_id IN (OLD.client_id, NEW.client_id);
    END
    """,
)
SQLITE_TRIGGER_NAMES = (
    "voke_esm_plants_revision",
    "voke_esm_plants_listed_insert",
    "voke_esm_plants_listed_delete",
    "voke_esm_plants_listed_update",
)

_OLD_LISTED = ", ".join(f"OLD.{column}" for column in LISTED_COLUMNS)
_NEW_LISTED = ", ".join(f"NEW.{column}" for column in LISTED_COLUMNS)
POSTGRES_FUNCTION = f"""
CREATE FUNCTION voke_esm_plants_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_BUMP_CLIENT} WHERE client_id = NEW.client_id;
        RETURN NEW;
    ELSIF TG_OP = 'DELETE' THEN
        {_BUMP_CLIENT} WHERE client_id = OLD.client_id;
        RETURN OLD;
    END IF;
    NEW.revision := OLD.revision + 1;
    IF ROW({_NEW_LISTED}) IS DISTINCT FROM ROW({_OLD_LISTED}) THEN
        {_BUMP_CLIENT} WHERE client_id IN (OLD.client_id, NEW.client_id);
    END IF;
    RETURN NEW;
END
$$
"""
POSTGRES_TRIGGER = """
CREATE TRIGGER voke_esm_plants_changed BEFORE INSERT OR UPDATE OR DELETE ON voke_esm_plants
FOR EACH ROW EXECUTE FUNCTION voke_esm_plants_changed()
"""


def upgrade() -> None:
    with op.batch_alter_table("voke_esm_clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("plants_version", sa.BigInteger(), server_default="1", nullable=False)
        )
    with op.batch_alter_table("voke_esm_plants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("revision", sa.BigInteger(), server_default="1", nullable=False)
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        op.execute(POSTGRES_TRIGGER)
    else:
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER voke_esm_plants_changed ON voke_esm_plants")
        op.execute("DROP FUNCTION voke_esm_plants_changed()")
    else:
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER {name}")
    with op.batch_alter_table("voke_esm_plants", schema=None) as batch_op:
        batch_op.drop_column("revision")
    with op.batch_alter_table("voke_esm_clients", schema=None) as batch_op:
        batch_op.drop_column("plants_version")
