"""kf cursors remember when a kf_account_auth_change took the account from our app (no more syncing)

Revision ID: 0008_i10kf_cursor_deauthorised
Revises: 0007_kf_sync_coalescing
Create Date: 2026-11-29 06:40:00
"""
from alembic import op
import sqlalchemy as sa
import models.db


revision = "0008_i10kf_cursor_deauthorised"
down_revision = "0007_kf_sync_coalescing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('kf_cursors') as batch:
        batch.add_column(sa.Column('deauthorised_at', models.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('kf_cursors') as batch:
        batch.drop_column('deauthorised_at')
