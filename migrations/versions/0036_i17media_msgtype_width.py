"""app-message msgtype columns wide enough for miniprogram_notice (18 characters): broadcasts, message
templates and the notifications log (issue 17, staff broadcasts' mini-program content)

Revision ID: 0036_i17media_msgtype_width
Revises: 0035_i16stats_statistics
Create Date: 2026-11-29 13:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0036_i17media_msgtype_width"
down_revision = "0035_i16stats_statistics"
branch_labels = None
depends_on = None

TABLES = ("broadcasts", "message_templates", "notifications_log")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column("msgtype", existing_type=sa.String(length=16), type_=sa.String(length=32),
                               existing_nullable=False)


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column("msgtype", existing_type=sa.String(length=32), type_=sa.String(length=16),
                               existing_nullable=False)
