"""customer groups and their members' stints (models/groups.py)

Revision ID: 0014_i12core_groups
Revises: 0013_i13sales_opportunities
Create Date: 2026-11-29 09:00:00
"""
from alembic import op
import sqlalchemy as sa

from models.db import UTCDateTime


revision = "0014_i12core_groups"
down_revision = "0013_i13sales_opportunities"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("owner_userid", sa.String(length=64), nullable=False),
        sa.Column("notice", sa.Text(), nullable=False),
        sa.Column("admins", sa.JSON(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("group_created_at", UTCDateTime(), nullable=True),
        sa.Column("member_version", sa.String(length=64), nullable=False),
        sa.Column("staff_count", sa.Integer(), nullable=False),
        sa.Column("external_count", sa.Integer(), nullable=False),
        sa.Column("dismissed_at", UTCDateTime(), nullable=True),
        sa.Column("synced_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_groups")),
        sa.UniqueConstraint("corp_id", "chat_id", name=op.f("uq_customer_groups_corp_id_chat_id")),
    )
    op.create_index("ix_customer_groups_corp_id_owner_userid", "customer_groups", ["corp_id", "owner_userid"])
    op.create_index("ix_customer_groups_corp_id_group_created_at", "customer_groups",
                    ["corp_id", "group_created_at"])
    op.create_table(
        "group_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("member_type", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("unionid", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("group_nickname", sa.String(length=128), nullable=False),
        sa.Column("inviter_userid", sa.String(length=64), nullable=False),
        sa.Column("join_scene", sa.Integer(), nullable=True),
        sa.Column("join_state", sa.String(length=64), nullable=False),
        sa.Column("joined_at", UTCDateTime(), nullable=False),
        sa.Column("quit_at", UTCDateTime(), nullable=True),
        sa.Column("quit_scene", sa.Integer(), nullable=True),
        sa.Column("open_key", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["customer_groups.id"],
                                name=op.f("fk_group_members_group_id_customer_groups")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_group_members_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_members")),
        sa.UniqueConstraint("group_id", "open_key", name=op.f("uq_group_members_group_id_open_key")),
    )
    op.create_index("ix_group_members_group_id_joined_at", "group_members", ["group_id", "joined_at"])
    op.create_index("ix_group_members_group_id_quit_at", "group_members", ["group_id", "quit_at"])
    op.create_index("ix_group_members_corp_id_member_id", "group_members", ["corp_id", "member_id"])
    op.create_index("ix_group_members_customer_id", "group_members", ["customer_id"])


def downgrade() -> None:
    op.drop_table("group_members")
    op.drop_table("customer_groups")
