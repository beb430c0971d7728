"""mass messages (群发, 004 §5.1): messages, their add_msg_template calls and recipients; the corp's monthly
cap per customer (corp_settings.mass_monthly_cap, 4 by default)

Revision ID: 0030_i16mass_mass_messages
Revises: 0029_i16sop_sop_tasks
Create Date: 2026-11-29 11:53:14.717298
"""
from alembic import op
import sqlalchemy as sa
import models.db


revision = "0030_i16mass_mass_messages"
down_revision = "0029_i16sop_sop_tasks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mass_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('corp_id', sa.String(length=64), nullable=False),
    sa.Column('app_pk', sa.Integer(), nullable=False),
    sa.Column('chat_type', sa.String(length=8), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('attachments', sa.JSON(), nullable=False),
    sa.Column('audience', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('send_at', models.db.UTCDateTime(), nullable=True),
    sa.Column('principal', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=96), nullable=False),
    sa.Column('claimed_at', models.db.UTCDateTime(), nullable=True),
    sa.Column('sent_at', models.db.UTCDateTime(), nullable=True),
    sa.Column('cancelled_at', models.db.UTCDateTime(), nullable=True),
    sa.Column('results_at', models.db.UTCDateTime(), nullable=True),
    sa.Column('target_count', sa.Integer(), nullable=False),
    sa.Column('capped_count', sa.Integer(), nullable=False),
    sa.Column('created_at', models.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', models.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mass_messages'))
    )
    with op.batch_alter_table('mass_messages', schema=None) as batch_op:
        batch_op.create_index('ix_mass_messages_corp_id_created_at', ['corp_id', 'created_at'], unique=False)
        batch_op.create_index('ix_mass_messages_status_send_at', ['status', 'send_at'], unique=False)

    op.create_table('mass_message_sends',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('msgid', sa.String(length=128), nullable=True),
    sa.Column('errcode', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('sent_at', models.db.UTCDateTime(), nullable=True),
    sa.Column('reminded_at', models.db.UTCDateTime(), nullable=True),
    sa.Column('remind_count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['mass_messages.id'], name=op.f('fk_mass_message_sends_message_id_mass_messages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mass_message_sends'))
    )
    with op.batch_alter_table('mass_message_sends', schema=None) as batch_op:
        batch_op.create_index('ix_mass_message_sends_message_id', ['message_id'], unique=False)

    op.create_table('mass_recipients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('corp_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('target', sa.String(length=64), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('send_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('at', models.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['mass_messages.id'], name=op.f('fk_mass_recipients_message_id_mass_messages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mass_recipients'))
    )
    with op.batch_alter_table('mass_recipients', schema=None) as batch_op:
        batch_op.create_index('ix_mass_recipients_cap', ['corp_id', 'customer_id', 'at'], unique=False)
        batch_op.create_index('ix_mass_recipients_message_id_sender', ['message_id', 'sender'], unique=False)

    with op.batch_alter_table('corp_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mass_monthly_cap', sa.Integer(), nullable=False, server_default='4'))



def downgrade() -> None:
    with op.batch_alter_table('corp_settings', schema=None) as batch_op:
        batch_op.drop_column('mass_monthly_cap')

    with op.batch_alter_table('mass_recipients', schema=None) as batch_op:
        batch_op.drop_index('ix_mass_recipients_message_id_sender')
        batch_op.drop_index('ix_mass_recipients_cap')

    op.drop_table('mass_recipients')
    with op.batch_alter_table('mass_message_sends', schema=None) as batch_op:
        batch_op.drop_index('ix_mass_message_sends_message_id')

    op.drop_table('mass_message_sends')
    with op.batch_alter_table('mass_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_mass_messages_status_send_at')
        batch_op.drop_index('ix_mass_messages_corp_id_created_at')

    op.drop_table('mass_messages')
