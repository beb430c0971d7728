"""tasks.reminded_at: when a task's members were last reminded by hand (POST /tasks/<id>/remind), so the
reminder is claimed once per RESEND_WAIT whatever the number of web processes

Revision ID: 0041_i19rules_task_reminded
Revises: 0040_i19gtags_group_smart_tags
"""
from alembic import op
import sqlalchemy as sa

from models.db import UTCDateTime


revision = "0041_i19rules_task_reminded"
down_revision = "0040_i19gtags_group_smart_tags"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("reminded_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("reminded_at")
