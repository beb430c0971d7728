"""group channel codes, their groups, scans and join ways; group welcome templates; group members by join
state (models/group_codes.py)

Revision ID: 0019_i12codes_group_codes
Revises: 0018_i13orgs_companies
Create Date: 2026-11-29 09:10:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from models.db import UTCDateTime


revision = "0019_i12codes_group_codes"
down_revision = "0018_i13orgs_companies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "group_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("app_pk", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=43), nullable=False),
        sa.Column("state", sa.String(length=30), nullable=False),
        sa.Column("name", sa.String(length=30), nullable=False),
        sa.Column("scene", sa.String(length=30), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("guide", sa.String(length=30), nullable=False),
        sa.Column("strategy", sa.String(length=16), nullable=False),
        sa.Column("next_index", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("abnormal_count", sa.Integer(), nullable=False),
        sa.Column("owner_userid", sa.String(length=64), nullable=False),
        sa.Column("creator_userid", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=96), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["app_pk"], ["apps.id"], name=op.f("fk_group_codes_app_pk_apps")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_codes")),
        sa.UniqueConstraint("corp_id", "state", name=op.f("uq_group_codes_corp_id_state")),
        sa.UniqueConstraint("slug", name=op.f("uq_group_codes_slug")),
    )
    op.create_index("ix_group_codes_corp_id_status", "group_codes", ["corp_id", "status"])
    op.create_index("ix_group_members_corp_id_join_state_joined_at", "group_members",
                    ["corp_id", "join_state", "joined_at"])
    op.create_table(
        "group_code_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("image", sa.LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql", "mariadb"), nullable=False),
        sa.Column("image_type", sa.String(length=16), nullable=False),
        sa.Column("image_bytes", sa.Integer(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["code_id"], ["group_codes.id"], name=op.f("fk_group_code_entries_code_id_group_codes")),
        sa.ForeignKeyConstraint(["group_id"], ["customer_groups.id"],
                                name=op.f("fk_group_code_entries_group_id_customer_groups")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_code_entries")),
        sa.UniqueConstraint("code_id", "group_id", name=op.f("uq_group_code_entries_code_id_group_id")),
    )
    op.create_table(
        "group_code_daily_stats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("scans", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["code_id"], ["group_codes.id"],
                                name=op.f("fk_group_code_daily_stats_code_id_group_codes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_code_daily_stats")),
        sa.UniqueConstraint("code_id", "day", "chat_id", name=op.f("uq_group_code_daily_stats_code_id_day_chat_id")),
    )
    op.create_table(
        "group_join_ways",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("scene", sa.Integer(), nullable=False),
        sa.Column("remark", sa.String(length=30), nullable=False),
        sa.Column("auto_create_room", sa.Boolean(), nullable=False),
        sa.Column("room_base_name", sa.String(length=40), nullable=False),
        sa.Column("room_base_id", sa.Integer(), nullable=True),
        sa.Column("chat_ids", sa.JSON(), nullable=False),
        sa.Column("config_id", sa.String(length=64), nullable=True),
        sa.Column("qr_code", sa.String(length=512), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["code_id"], ["group_codes.id"], name=op.f("fk_group_join_ways_code_id_group_codes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_join_ways")),
        sa.UniqueConstraint("code_id", name=op.f("uq_group_join_ways_code_id")),
    )
    op.create_table(
        "group_welcome_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("app_pk", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("material_id", sa.Integer(), nullable=True),
        sa.Column("notify", sa.Boolean(), nullable=False),
        sa.Column("template_id", sa.String(length=128), nullable=True),
        sa.Column("created_by", sa.String(length=96), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["app_pk"], ["apps.id"], name=op.f("fk_group_welcome_templates_app_pk_apps")),
        sa.ForeignKeyConstraint(["material_id"], ["materials.id"],
                                name=op.f("fk_group_welcome_templates_material_id_materials")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_welcome_templates")),
    )
    op.create_index("ix_group_welcome_templates_corp_id", "group_welcome_templates", ["corp_id"])


def downgrade() -> None:
    op.drop_table("group_welcome_templates")
    op.drop_table("group_join_ways")
    op.drop_table("group_code_daily_stats")
    op.drop_table("group_code_entries")
    op.drop_table("group_codes")
    op.drop_index("ix_group_members_corp_id_join_state_joined_at", table_name="group_members")
