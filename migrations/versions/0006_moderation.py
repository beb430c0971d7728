"""sensitive words, alerts, timeout-reply records, message templates and broadcasts

Revision ID: 0006_moderation
Revises: 0005_bot
Create Date: 2026-11-23 16:55:00
"""
from alembic import op
import sqlalchemy as sa
import models.db


revision = "0006_moderation"
down_revision = "0005_bot"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('message_templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('corp_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('msgtype', sa.String(length=16), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('variables', sa.JSON(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=96), nullable=False),
    sa.Column('deleted_at', models.db.UTCDateTime(), nullable=True),
    sa.Column('created_at', models.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', models.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_templates'))
    )
    with op.batch_alter_table('message_templates', schema=None) as batch_op:
        batch_op.create_index('ix_message_templates_corp_id_category', ['corp_id', 'category'], unique=False)

    op.create_table('moderation_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('corp_id', sa.String(length=64), nullable=False),
    sa.Column('rules_stamp', sa.String(length=32), nullable=False),
    sa.Column('alert_userids', sa.JSON(), nullable=False),
    sa.Column('alert_notify_sender', sa.Boolean(), nullable=False),
    sa.Column('reply_timeout_minutes', sa.Integer(), nullable=False),
    sa.Column('reply_timeout_notify', sa.Boolean(), nullable=False),
    sa.Column('timeouts_checked_until', models.db.UTCDateTime(), nullable=True),
    sa.Column('updated_at', models.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_moderation_settings')),
    sa.UniqueConstraint('corp_id', name=op.f('uq_moderation_settings_corp_id'))
    )
    op.create_table('sensitive_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('corp_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('words', sa.JSON(), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=96), nullable=False),
    sa.Column('deleted_at', models.db.UTCDateTime(), nullable=True),
    sa.Column('created_at', models.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', models.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sensitive_rules'))
    )
    with op.batch_alter_table('sensitive_rules', schema=None) as batch_op:
        batch_op.create_index('ix_sensitive_rules_corp_id_enabled', ['corp_id', 'enabled'], unique=False)

    op.create_table('work_calendars',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('corp_id', sa.String(length=64), nullable=False),
    sa.Column('week', sa.JSON(), nullable=False),
    sa.Column('holidays', sa.JSON(), nullable=False),
    sa.Column('updated_at', models.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_calendars')),
    sa.UniqueConstraint('corp_id', name=op.f('uq_work_calendars_corp_id'))
    )
    op.create_table('broadcasts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('corp_id', sa.String(length=64), nullable=False),
    sa.Column('app_pk', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('template_pk', sa.Integer(), nullable=True),
    sa.Column('template_values', sa.JSON(), nullable=False),
    sa.Column('userids', sa.JSON(), nullable=False),
    sa.Column('departments', sa.JSON(), nullable=False),
    sa.Column('msgtype', sa.String(length=16), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('msgid', sa.String(length=128), nullable=True),
    sa.Column('invalid_users', sa.JSON(), nullable=False),
    sa.Column('invalid_parties', sa.JSON(), nullable=False),
    sa.Column('error', sa.String(length=255), nullable=True),
    sa.Column('created_by', sa.String(length=96), nullable=False),
    sa.Column('created_at', models.db.UTCDateTime(), nullable=False),
    sa.Column('sent_at', models.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['app_pk'], ['apps.id'], name=op.f('fk_broadcasts_app_pk_apps')),
    sa.ForeignKeyConstraint(['template_pk'], ['message_templates.id'], name=op.f('fk_broadcasts_template_pk_message_templates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_broadcasts'))
    )
    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.create_index('ix_broadcasts_corp_id_created_at', ['corp_id', 'created_at'], unique=False)

    op.create_table('reply_timeouts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('corp_id', sa.String(length=64), nullable=False),
    sa.Column('message_pk', sa.Integer(), nullable=False),
    sa.Column('userid', sa.String(length=64), nullable=False),
    sa.Column('external_userid', sa.String(length=64), nullable=True),
    sa.Column('open_kfid', sa.String(length=64), nullable=True),
    sa.Column('limit_minutes', sa.Integer(), nullable=False),
    sa.Column('message_at', models.db.UTCDateTime(), nullable=False),
    sa.Column('due_at', models.db.UTCDateTime(), nullable=False),
    sa.Column('replied_at', models.db.UTCDateTime(), nullable=True),
    sa.Column('created_at', models.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['message_pk'], ['messages.id'], name=op.f('fk_reply_timeouts_message_pk_messages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reply_timeouts')),
    sa.UniqueConstraint('message_pk', 'userid', name=op.f('uq_reply_timeouts_message_pk_userid'))
    )
    with op.batch_alter_table('reply_timeouts', schema=None) as batch_op:
        batch_op.create_index('ix_reply_timeouts_corp_id_message_at', ['corp_id', 'message_at'], unique=False)

    op.create_table('sensitive_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('corp_id', sa.String(length=64), nullable=False),
    sa.Column('message_pk', sa.Integer(), nullable=False),
    sa.Column('rule_pk', sa.Integer(), nullable=False),
    sa.Column('word', sa.String(length=128), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('userid', sa.String(length=64), nullable=True),
    sa.Column('external_userid', sa.String(length=64), nullable=True),
    sa.Column('notified', sa.JSON(), nullable=False),
    sa.Column('at', models.db.UTCDateTime(), nullable=False),
    sa.Column('review_status', sa.String(length=16), nullable=False),
    sa.Column('review_note', sa.Text(), nullable=False),
    sa.Column('reviewed_by', sa.String(length=96), nullable=True),
    sa.Column('reviewed_at', models.db.UTCDateTime(), nullable=True),
    sa.Column('created_at', models.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['message_pk'], ['messages.id'], name=op.f('fk_sensitive_alerts_message_pk_messages')),
    sa.ForeignKeyConstraint(['rule_pk'], ['sensitive_rules.id'], name=op.f('fk_sensitive_alerts_rule_pk_sensitive_rules')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sensitive_alerts')),
    sa.UniqueConstraint('message_pk', 'rule_pk', 'word', name=op.f('uq_sensitive_alerts_message_pk_rule_pk_word'))
    )
    with op.batch_alter_table('sensitive_alerts', schema=None) as batch_op:
        batch_op.create_index('ix_sensitive_alerts_corp_id_at', ['corp_id', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sensitive_alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_sensitive_alerts_corp_id_at')

    op.drop_table('sensitive_alerts')
    with op.batch_alter_table('reply_timeouts', schema=None) as batch_op:
        batch_op.drop_index('ix_reply_timeouts_corp_id_message_at')

    op.drop_table('reply_timeouts')
    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.drop_index('ix_broadcasts_corp_id_created_at')

    op.drop_table('broadcasts')
    op.drop_table('work_calendars')
    with op.batch_alter_table('sensitive_rules', schema=None) as batch_op:
        batch_op.drop_index('ix_sensitive_rules_corp_id_enabled')

    op.drop_table('sensitive_rules')
    op.drop_table('moderation_settings')
    with op.batch_alter_table('message_templates', schema=None) as batch_op:
        batch_op.drop_index('ix_message_templates_corp_id_category')

    op.drop_table('message_templates')
