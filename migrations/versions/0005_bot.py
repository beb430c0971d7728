"""bot commands: follow-ups, plans, leads, bot replies

Revision ID: 0005_bot
Revises: 0004_kf
Create Date: 2026-11-23 16:30:00
"""
from alembic import op
import sqlalchemy as sa
import models.db


revision = "0005_bot"
down_revision = "0004_kf"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('bot_replies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inbox_id', sa.Integer(), nullable=False),
    sa.Column('corp_id', sa.String(length=64), nullable=False),
    sa.Column('userid', sa.String(length=64), nullable=False),
    sa.Column('command', sa.String(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('via', sa.String(length=16), nullable=False),
    sa.Column('created_at', models.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['inbox_id'], ['inbox.id'], name=op.f('fk_bot_replies_inbox_id_inbox')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bot_replies')),
    sa.UniqueConstraint('inbox_id', name=op.f('uq_bot_replies_inbox_id'))
    )
    op.create_table('follow_ups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('corp_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('userid', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('at', models.db.UTCDateTime(), nullable=False),
    sa.Column('inbox_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_follow_ups_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_ups'))
    )
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.create_index('ix_follow_ups_corp_id_userid_at', ['corp_id', 'userid', 'at'], unique=False)
        batch_op.create_index('ix_follow_ups_customer_id_at', ['customer_id', 'at'], unique=False)

    op.create_table('plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('corp_id', sa.String(length=64), nullable=False),
    sa.Column('app_pk', sa.Integer(), nullable=False),
    sa.Column('userid', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('due_at', models.db.UTCDateTime(), nullable=False),
    sa.Column('reminded_at', models.db.UTCDateTime(), nullable=True),
    sa.Column('inbox_id', sa.Integer(), nullable=True),
    sa.Column('created_at', models.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['app_pk'], ['apps.id'], name=op.f('fk_plans_app_pk_apps')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_plans_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plans'))
    )
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.create_index('ix_plans_corp_id_userid_due_at', ['corp_id', 'userid', 'due_at'], unique=False)
        batch_op.create_index('ix_plans_reminded_at_due_at', ['reminded_at', 'due_at'], unique=False)

    op.create_table('leads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('corp_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('mobile', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('owner_userid', sa.String(length=64), nullable=True),
    sa.Column('pool', sa.String(length=64), nullable=False),
    sa.Column('created_at', models.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', models.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_leads'))
    )
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.create_index('ix_leads_corp_id_owner_userid_status', ['corp_id', 'owner_userid', 'status'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index('ix_leads_corp_id_owner_userid_status')
    op.drop_table('leads')
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.drop_index('ix_plans_reminded_at_due_at')
        batch_op.drop_index('ix_plans_corp_id_userid_due_at')
    op.drop_table('plans')
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.drop_index('ix_follow_ups_customer_id_at')
        batch_op.drop_index('ix_follow_ups_corp_id_userid_at')
    op.drop_table('follow_ups')
    op.drop_table('bot_replies')
