"""The manual's missing rules in the built areas (issue 17 item 6): channels (渠道) grouping
channel and group codes, a channel code's stored QR image; exclusive (互斥) tag groups; a welcome's group QR code; 删好友预警; scheduled broadcasts; custom fields enabled/disabled,
with a default option, a number's decimal places and a date's time.

Revision ID: 0034_i17rules_rules
Revises: 0033_i16smart_segments_tags
Create Date: 2026-11-29 12:00:00
"""
from alembic import op
import sqlalchemy as sa

from models.db import UTCDateTime


revision = "0034_i17rules_rules"
down_revision = "0033_i16smart_segments_tags"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=30), nullable=False),
        sa.Column("scene", sa.String(length=30), nullable=False),
        sa.Column("created_by", sa.String(length=96), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channels")),
    )
    op.create_index("ix_channels_corp_id_name", "channels", ["corp_id", "name"])
    with op.batch_alter_table("channel_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("qr_storage_key", sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(op.f("fk_channel_codes_channel_id_channels"), "channels", ["channel_id"], ["id"])
    with op.batch_alter_table("group_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f("fk_group_codes_channel_id_channels"), "channels", ["channel_id"], ["id"])
    with op.batch_alter_table("tag_groups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("exclusive", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("welcome_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("group_code_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("group_qr_as", sa.String(length=16), nullable=False, server_default="image"))
        batch_op.create_foreign_key(op.f("fk_welcome_messages_group_code_id_group_codes"), "group_codes",
                                    ["group_code_id"], ["id"])
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("send_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("corp_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notify_manager_on_staff_delete", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table("custom_fields", schema=None) as batch_op:
        batch_op.add_column(sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("default", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("decimals", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("with_time", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.drop_column("send_at")
    with op.batch_alter_table("corp_settings", schema=None) as batch_op:
        batch_op.drop_column("notify_manager_on_staff_delete")
    with op.batch_alter_table("group_codes", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_group_codes_channel_id_channels"), type_="foreignkey")
        batch_op.drop_column("channel_id")
    with op.batch_alter_table("channel_codes", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_channel_codes_channel_id_channels"), type_="foreignkey")
        batch_op.drop_column("qr_storage_key")
        batch_op.drop_column("channel_id")
    with op.batch_alter_table("welcome_messages", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_welcome_messages_group_code_id_group_codes"), type_="foreignkey")
        batch_op.drop_column("group_qr_as")
        batch_op.drop_column("group_code_id")
    with op.batch_alter_table("custom_fields", schema=None) as batch_op:
        for column in ("with_time", "decimals", "default", "enabled"):
            batch_op.drop_column(column)
    with op.batch_alter_table("tag_groups", schema=None) as batch_op:
        batch_op.drop_column("exclusive")
    op.drop_index("ix_channels_corp_id_name", table_name="channels")
    op.drop_table("channels")
