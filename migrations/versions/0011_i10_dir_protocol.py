"""Protocol fidelity (issue 10, items 5-9): an app's broken credentials (gettoken 40001); rule-group tag groups; member tags; a
broadcast's unlicensed recipients

Revision ID: 0011_i10_dir_protocol
Revises: 0010_h19faults_outbox_due
Create Date: 2026-11-29 06:15:00
"""
from alembic import op
import sqlalchemy as sa

from models.db import UTCDateTime

revision = "0011_i10_dir_protocol"
down_revision = "0010_h19faults_outbox_due"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('apps') as batch:
        batch.add_column(sa.Column('credentials_error', sa.String(255), nullable=True))
        batch.add_column(sa.Column('credentials_error_at', UTCDateTime(), nullable=True))
    with op.batch_alter_table('tag_groups') as batch:
        batch.add_column(sa.Column('strategy_id', sa.Integer(), nullable=True))
    with op.batch_alter_table('broadcasts') as batch:
        batch.add_column(sa.Column('unlicensed_users', sa.JSON(), nullable=True))
    op.create_table(
        'member_tags',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('corp_id', sa.String(64), nullable=False),
        sa.Column('tag_id', sa.Integer(), nullable=False),
        sa.Column('userid', sa.String(64), nullable=False),
        sa.Column('party_id', sa.Integer(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_member_tags')),
        sa.UniqueConstraint('corp_id', 'tag_id', 'userid', 'party_id',
                            name=op.f('uq_member_tags_corp_id_tag_id_userid_party_id')),
    )


def downgrade() -> None:
    op.drop_table('member_tags')
    with op.batch_alter_table('broadcasts') as batch:
        batch.drop_column('unlicensed_users')
    with op.batch_alter_table('tag_groups') as batch:
        batch.drop_column('strategy_id')
    with op.batch_alter_table('apps') as batch:
        batch.drop_column('credentials_error_at')
        batch.drop_column('credentials_error')
