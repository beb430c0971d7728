"""API tokens expire: api_tokens.expires_at (null: never)

Revision ID: 0009_h19corp_token_expiry
Revises: 0008_i10kf_cursor_deauthorised
Create Date: 2026-11-29 06:30:00
"""
from alembic import op
import sqlalchemy as sa

import models.db

revision = "0009_h19corp_token_expiry"
down_revision = "0008_i10kf_cursor_deauthorised"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_tokens') as batch:
        batch.add_column(sa.Column('expires_at', models.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('api_tokens') as batch:
        batch.drop_column('expires_at')
