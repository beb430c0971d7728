"""leads: drop the free-string `pool` column. The default pool's leads are the corp's unassigned open leads
(models/lead.py `unassigned_leads`, models/pool.py): a lead leaves the pool by being assigned, so it needs no
pool of its own, and the column was never read.

Revision ID: 0028_i14fin_drop_lead_pool
Revises: 0027_i14pool_public_pool
Create Date: 2026-11-29 10:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0028_i14fin_drop_lead_pool"
down_revision = "0027_i14pool_public_pool"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_column("pool")


def downgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pool", sa.String(length=64), nullable=False, server_default="default"))
