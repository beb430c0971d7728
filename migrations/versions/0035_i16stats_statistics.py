"""statistics (004 §8): WeCom's daily figures (联系客户统计, 群聊数据统计), the daily sync's claims, the corp's
visit rule (回访设置); indexes for the customer and staff analyses (models/stats.py)

Revision ID: 0035_i16stats_statistics
Revises: 0034_i17rules_rules
Create Date: 2026-11-29 12:10:00
"""
from alembic import op
import sqlalchemy as sa

from models.db import UTCDateTime


revision = "0035_i16stats_statistics"
down_revision = "0034_i17rules_rules"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wecom_behavior_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("userid", sa.String(length=64), nullable=False),
        sa.Column("chat_cnt", sa.Integer(), nullable=False),
        sa.Column("message_cnt", sa.Integer(), nullable=False),
        sa.Column("reply_percentage", sa.Float(), nullable=True),
        sa.Column("avg_reply_time", sa.Integer(), nullable=True),
        sa.Column("negative_feedback_cnt", sa.Integer(), nullable=False),
        sa.Column("new_apply_cnt", sa.Integer(), nullable=False),
        sa.Column("new_contact_cnt", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wecom_behavior_days")),
        sa.UniqueConstraint("corp_id", "day", "userid", name=op.f("uq_wecom_behavior_days_corp_id_day_userid")),
    )
    op.create_table(
        "wecom_group_chat_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in (
            "new_chat_cnt", "chat_total", "chat_has_msg", "new_member_cnt", "member_total", "member_has_msg",
            "msg_total", "migrate_trainee_chat_cnt")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wecom_group_chat_days")),
        sa.UniqueConstraint("corp_id", "day", "owner", name=op.f("uq_wecom_group_chat_days_corp_id_day_owner")),
    )
    op.create_table(
        "stats_syncs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("owners", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_syncs")),
        sa.UniqueConstraint("corp_id", "day", name=op.f("uq_stats_syncs_corp_id_day")),
    )
    op.create_table(
        "visit_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("extra_days", sa.JSON(), nullable=False),
        sa.Column("skip_non_workdays", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_settings")),
        sa.UniqueConstraint("corp_id", name=op.f("uq_visit_settings_corp_id")),
    )
    op.create_index("ix_follow_relations_corp_added", "follow_relations", ["corp_id", "added_at", "userid"])
    op.create_index("ix_follow_relations_corp_status_changed", "follow_relations",
                    ["corp_id", "status", "status_changed_at", "userid"])
    op.create_index("ix_kf_sessions_corp_servicer_started", "kf_sessions",
                    ["corp_id", "servicer_userid", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_kf_sessions_corp_servicer_started", table_name="kf_sessions")
    op.drop_index("ix_follow_relations_corp_status_changed", table_name="follow_relations")
    op.drop_index("ix_follow_relations_corp_added", table_name="follow_relations")
    op.drop_table("visit_settings")
    op.drop_table("stats_syncs")
    op.drop_table("wecom_group_chat_days")
    op.drop_table("wecom_behavior_days")
