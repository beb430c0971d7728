"""outbox rows know when a re-scheduled effect is due, so the sweeper can tell a stranded one from a waiting one

Revision ID: 0010_h19faults_outbox_due
Revises: 0009_h19corp_token_expiry
Create Date: 2026-11-29 06:15:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0010_h19faults_outbox_due"
down_revision = "0009_h19corp_token_expiry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('next_attempt_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('next_attempt_at')
