"""follow-up attachments (an uploaded file in the store, or a material) and reminders (@mentions, a timed
reminder's plan)

Revision ID: 0016_i13files_attachments
Revises: 0015_i13plans_records
Create Date: 2026-11-29 09:00:00
"""
from alembic import op
import sqlalchemy as sa

from models.db import UTCDateTime


revision = "0016_i13files_attachments"
down_revision = "0015_i13plans_records"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "follow_up_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("follow_up_id", sa.Integer(), nullable=True),
        sa.Column("material_id", sa.Integer(), nullable=True),
        sa.Column("storage_key", sa.String(length=64), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=128), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=96), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["follow_up_id"], ["follow_ups.id"],
                                name=op.f("fk_follow_up_attachments_follow_up_id_follow_ups")),
        sa.ForeignKeyConstraint(["material_id"], ["materials.id"],
                                name=op.f("fk_follow_up_attachments_material_id_materials")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_up_attachments")),
        sa.UniqueConstraint("follow_up_id", name=op.f("uq_follow_up_attachments_follow_up_id")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_follow_up_attachments_storage_key")),
    )
    op.create_table(
        "follow_up_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("follow_up_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("userid", sa.String(length=64), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["follow_up_id"], ["follow_ups.id"],
                                name=op.f("fk_follow_up_reminders_follow_up_id_follow_ups")),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name=op.f("fk_follow_up_reminders_plan_id_plans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_up_reminders")),
        sa.UniqueConstraint("follow_up_id", "kind", "userid",
                            name=op.f("uq_follow_up_reminders_follow_up_id_kind_userid")),
    )


def downgrade() -> None:
    op.drop_table("follow_up_reminders")
    op.drop_table("follow_up_attachments")
