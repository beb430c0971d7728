"""kf cursors name the kf_sync row serving the account, so a burst of callbacks plans one sync

Revision ID: 0007_kf_sync_coalescing
Revises: 0006_moderation
Create Date: 2026-11-23 19:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0007_kf_sync_coalescing"
down_revision = "0006_moderation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('kf_cursors') as batch:
        batch.add_column(sa.Column('sync_outbox_id', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('kf_cursors') as batch:
        batch.drop_column('sync_outbox_id')
