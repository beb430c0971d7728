"""corp setting 退群提醒 (notify_owner_on_group_quit)

Revision ID: 0021_i12core_group_quit_notice
Revises: 0020_plan_links
Create Date: 2026-11-29 09:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0021_i12core_group_quit_notice"
down_revision = "0020_plan_links"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("corp_settings") as batch:
        batch.add_column(sa.Column("notify_owner_on_group_quit", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("corp_settings") as batch:
        batch.drop_column("notify_owner_on_group_quit")
