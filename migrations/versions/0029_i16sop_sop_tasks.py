"""SOP plans (their steps, enrolments, each step's run per customer, date scans' claims) and tasks (rounds,
assignments): issue 16 items 4 and 5.

Revision ID: 0029_i16sop_sop_tasks
Revises: 0028_i14fin_drop_lead_pool
Create Date: 2026-11-29 12:10:00
"""
from alembic import op
import sqlalchemy as sa
import models.db


revision = "0029_i16sop_sop_tasks"
down_revision = '0028_i14fin_drop_lead_pool'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sop_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('corp_id', sa.String(length=64), nullable=False),
    sa.Column('app_pk', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('channel_code_ids', sa.JSON(), nullable=False),
    sa.Column('tag_ids', sa.JSON(), nullable=False),
    sa.Column('date_field', sa.String(length=64), nullable=False),
    sa.Column('days_before', sa.Integer(), nullable=False),
    sa.Column('working_hours_only', sa.Boolean(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=96), nullable=False),
    sa.Column('created_at', models.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', models.db.UTCDateTime(), nullable=False),
    sa.Column('deleted_at', models.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['app_pk'], ['apps.id'], name=op.f('fk_sop_plans_app_pk_apps')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sop_plans'))
    )
    op.create_table('sop_date_scans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('created_at', models.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['sop_plans.id'], name=op.f('fk_sop_date_scans_plan_id_sop_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sop_date_scans')),
    sa.UniqueConstraint('plan_id', 'day', name=op.f('uq_sop_date_scans_plan_id_day'))
    )
    op.create_table('sop_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=30), nullable=False),
    sa.Column('day', sa.Integer(), nullable=True),
    sa.Column('at_minute', sa.Integer(), nullable=True),
    sa.Column('hours_after', sa.Integer(), nullable=True),
    sa.Column('via', sa.String(length=8), nullable=False),
    sa.Column('messages', sa.JSON(), nullable=False),
    sa.Column('created_at', models.db.UTCDateTime(), nullable=False),
    sa.Column('deleted_at', models.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['plan_id'], ['sop_plans.id'], name=op.f('fk_sop_steps_plan_id_sop_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sop_steps'))
    )
    op.create_table('sop_enrolments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('corp_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('userid', sa.String(length=64), nullable=False),
    sa.Column('cycle', sa.String(length=8), nullable=False),
    sa.Column('anchor_at', models.db.UTCDateTime(), nullable=False),
    sa.Column('stopped_at', models.db.UTCDateTime(), nullable=True),
    sa.Column('stop_reason', sa.String(length=32), nullable=False),
    sa.Column('created_at', models.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_sop_enrolments_customer_id_customers')),
    sa.ForeignKeyConstraint(['plan_id'], ['sop_plans.id'], name=op.f('fk_sop_enrolments_plan_id_sop_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sop_enrolments')),
    sa.UniqueConstraint('plan_id', 'customer_id', 'cycle', name=op.f('uq_sop_enrolments_plan_id_customer_id_cycle'))
    )
    with op.batch_alter_table('sop_enrolments', schema=None) as batch_op:
        batch_op.create_index('ix_sop_enrolments_customer', ['customer_id'], unique=False)

    op.create_table('tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('corp_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=30), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('attachments', sa.JSON(), nullable=False),
    sa.Column('proof_required', sa.Boolean(), nullable=False),
    sa.Column('repeat', sa.String(length=8), nullable=False),
    sa.Column('repeat_day', sa.Integer(), nullable=True),
    sa.Column('at_minute', sa.Integer(), nullable=True),
    sa.Column('starts_at', models.db.UTCDateTime(), nullable=False),
    sa.Column('ends_at', models.db.UTCDateTime(), nullable=True),
    sa.Column('valid_minutes', sa.Integer(), nullable=True),
    sa.Column('warn_minutes', sa.Integer(), nullable=True),
    sa.Column('userids', sa.JSON(), nullable=False),
    sa.Column('dept_ids', sa.JSON(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('every_days', sa.Integer(), nullable=True),
    sa.Column('next_issue_at', models.db.UTCDateTime(), nullable=True),
    sa.Column('ended_at', models.db.UTCDateTime(), nullable=True),
    sa.Column('created_by', sa.String(length=96), nullable=False),
    sa.Column('created_at', models.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', models.db.UTCDateTime(), nullable=False),
    sa.Column('deleted_at', models.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_tasks_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks'))
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_next_issue', ['next_issue_at'], unique=False)

    op.create_table('sop_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=False),
    sa.Column('due_at', models.db.UTCDateTime(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('fired_at', models.db.UTCDateTime(), nullable=True),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['enrolment_id'], ['sop_enrolments.id'], name=op.f('fk_sop_runs_enrolment_id_sop_enrolments')),
    sa.ForeignKeyConstraint(['step_id'], ['sop_steps.id'], name=op.f('fk_sop_runs_step_id_sop_steps')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sop_runs')),
    sa.UniqueConstraint('enrolment_id', 'step_id', name=op.f('uq_sop_runs_enrolment_id_step_id'))
    )
    with op.batch_alter_table('sop_runs', schema=None) as batch_op:
        batch_op.create_index('ix_sop_runs_due', ['status', 'due_at'], unique=False)

    op.create_table('task_rounds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('corp_id', sa.String(length=64), nullable=False),
    sa.Column('issued_at', models.db.UTCDateTime(), nullable=False),
    sa.Column('deadline_at', models.db.UTCDateTime(), nullable=True),
    sa.Column('warn_at', models.db.UTCDateTime(), nullable=True),
    sa.Column('warned_at', models.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_task_rounds_task_id_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_rounds')),
    sa.UniqueConstraint('task_id', 'issued_at', name=op.f('uq_task_rounds_task_id_issued_at'))
    )
    with op.batch_alter_table('task_rounds', schema=None) as batch_op:
        batch_op.create_index('ix_task_rounds_warn', ['warned_at', 'warn_at'], unique=False)

    op.create_table('task_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('userid', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('done_at', models.db.UTCDateTime(), nullable=True),
    sa.Column('proofs', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['round_id'], ['task_rounds.id'], name=op.f('fk_task_assignments_round_id_task_rounds')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_task_assignments_task_id_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_assignments')),
    sa.UniqueConstraint('round_id', 'userid', name=op.f('uq_task_assignments_round_id_userid'))
    )
    with op.batch_alter_table('task_assignments', schema=None) as batch_op:
        batch_op.create_index('ix_task_assignments_task', ['task_id', 'userid'], unique=False)
    op.create_table('follow_up_cycles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('corp_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('userid', sa.String(length=64), nullable=False),
    sa.Column('due_at', models.db.UTCDateTime(), nullable=True),
    sa.Column('reminded', sa.Integer(), nullable=False),
    sa.Column('last_reminded_at', models.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_follow_up_cycles_customer_id_customers')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_follow_up_cycles_task_id_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_up_cycles')),
    sa.UniqueConstraint('task_id', 'customer_id', 'userid', name=op.f('uq_follow_up_cycles_task_id_customer_id_userid'))
    )
    with op.batch_alter_table('follow_up_cycles', schema=None) as batch_op:
        batch_op.create_index('ix_follow_up_cycles_due', ['due_at'], unique=False)


def downgrade() -> None:
    # dropping a table drops its indexes (MariaDB refuses to drop one a foreign key uses on its own)
    for table in ("follow_up_cycles", "task_assignments", "task_rounds", "sop_runs", "tasks", "sop_enrolments", "sop_steps",
                  "sop_date_scans", "sop_plans"):
        op.drop_table(table)
