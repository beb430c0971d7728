"""plans as full records: a start (and end, or all day), an optional reminder time (due_at, now nullable),
done and soft-deleted marks, who created them; the reminder scan's index covers done and deleted

Revision ID: 0015_i13plans_records
Revises: 0014_i12core_groups
Create Date: 2026-11-29 09:00:00
"""
from alembic import op
import sqlalchemy as sa

from models.db import UTCDateTime


revision = "0015_i13plans_records"
down_revision = "0014_i12core_groups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        batch.drop_index("ix_plans_reminded_at_due_at")
        batch.drop_index("ix_plans_corp_id_userid_due_at")
        batch.alter_column("due_at", existing_type=UTCDateTime(), nullable=True)
        batch.add_column(sa.Column("starts_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("ends_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("all_day", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("done_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("deleted_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("created_by", sa.String(length=128), nullable=False, server_default=""))
    # the bot's plans so far were at their reminder time
    op.execute("UPDATE plans SET starts_at = due_at")
    with op.batch_alter_table("plans") as batch:
        batch.alter_column("starts_at", existing_type=UTCDateTime(), nullable=False)
        batch.create_index("ix_plans_reminder_scan", ["reminded_at", "done_at", "deleted_at", "due_at"])
        batch.create_index("ix_plans_corp_id_userid_starts_at", ["corp_id", "userid", "starts_at"])


def downgrade() -> None:
    # plans without a reminder time cannot go back to a table that requires one: they take their start
    op.execute("UPDATE plans SET due_at = starts_at WHERE due_at IS NULL")
    with op.batch_alter_table("plans") as batch:
        batch.drop_index("ix_plans_corp_id_userid_starts_at")
        batch.drop_index("ix_plans_reminder_scan")
        batch.drop_column("created_by")
        batch.drop_column("deleted_at")
        batch.drop_column("done_at")
        batch.drop_column("all_day")
        batch.drop_column("ends_at")
        batch.drop_column("starts_at")
        batch.alter_column("due_at", existing_type=UTCDateTime(), nullable=False)
        batch.create_index("ix_plans_corp_id_userid_due_at", ["corp_id", "userid", "due_at"])
        batch.create_index("ix_plans_reminded_at_due_at", ["reminded_at", "due_at"])
