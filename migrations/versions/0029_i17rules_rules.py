"""The manual's missing rules in the built areas (issue 17 item 6): exclusive (互斥) tag groups; a welcome's group QR code; custom fields enabled/disabled,
with a default option, a number's decimal places and a date's time.

Revision ID: 0029_i17rules
Revises: 0028_i14fin_drop_lead_pool
Create Date: 2026-11-29 12:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0029_i17rules"
down_revision = "0028_i14fin_drop_lead_pool"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tag_groups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("exclusive", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("welcome_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("group_code_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("group_qr_as", sa.String(length=16), nullable=False, server_default="image"))
        batch_op.create_foreign_key(op.f("fk_welcome_messages_group_code_id_group_codes"), "group_codes",
                                    ["group_code_id"], ["id"])
    with op.batch_alter_table("custom_fields", schema=None) as batch_op:
        batch_op.add_column(sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("default", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("decimals", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("with_time", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("welcome_messages", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_welcome_messages_group_code_id_group_codes"), type_="foreignkey")
        batch_op.drop_column("group_qr_as")
        batch_op.drop_column("group_code_id")
    with op.batch_alter_table("custom_fields", schema=None) as batch_op:
        for column in ("with_time", "decimals", "default", "enabled"):
            batch_op.drop_column(column)
    with op.batch_alter_table("tag_groups", schema=None) as batch_op:
        batch_op.drop_column("exclusive")
