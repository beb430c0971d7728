"""The manual's missing rules in the built areas (issue 17 item 6): exclusive (互斥) tag groups.

Revision ID: 0029_i17rules
Revises: 0028_i14fin_drop_lead_pool
Create Date: 2026-11-29 12:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0029_i17rules"
down_revision = "0028_i14fin_drop_lead_pool"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tag_groups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("exclusive", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("tag_groups", schema=None) as batch_op:
        batch_op.drop_column("exclusive")
