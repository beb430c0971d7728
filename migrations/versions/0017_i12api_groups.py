"""group tags (群标签), group custom fields (custom_fields.subject + group_field_values), the corp's
group-activity rule (活跃群设置)

Revision ID: 0017_i12api_groups
Revises: 0016_i13files_attachments
Create Date: 2026-11-29 09:10:00
"""
from alembic import op
import sqlalchemy as sa

from models.db import UTCDateTime


revision = "0017_i12api_groups"
down_revision = "0016_i13files_attachments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "group_tag_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("order", sa.Integer(), nullable=False),
        sa.Column("exclusive", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_tag_groups")),
        sa.UniqueConstraint("corp_id", "name", name=op.f("uq_group_tag_groups_corp_id_name")),
    )
    op.create_table(
        "group_tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("tag_group_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("order", sa.Integer(), nullable=False),
        sa.Column("colour", sa.String(length=16), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["tag_group_id"], ["group_tag_groups.id"],
                                name=op.f("fk_group_tags_tag_group_id_group_tag_groups")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_tags")),
        sa.UniqueConstraint("tag_group_id", "name", name=op.f("uq_group_tags_tag_group_id_name")),
    )
    op.create_table(
        "group_taggings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.Column("tagged_by", sa.String(length=96), nullable=False),
        sa.Column("tagged_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["customer_groups.id"],
                                name=op.f("fk_group_taggings_group_id_customer_groups")),
        sa.ForeignKeyConstraint(["tag_id"], ["group_tags.id"], name=op.f("fk_group_taggings_tag_id_group_tags")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_taggings")),
        sa.UniqueConstraint("group_id", "tag_id", name=op.f("uq_group_taggings_group_id_tag_id")),
    )
    op.create_index("ix_group_taggings_tag_id", "group_taggings", ["tag_id"])
    op.create_table(
        "group_activity_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("min_active_percent", sa.Integer(), nullable=False),
        sa.Column("min_message_percent", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=96), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_activity_rules")),
        sa.UniqueConstraint("corp_id", name=op.f("uq_group_activity_rules_corp_id")),
    )
    with op.batch_alter_table("custom_fields") as batch:
        batch.add_column(sa.Column("subject", sa.String(length=16), nullable=False, server_default="customer"))
    op.create_table(
        "group_field_values",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("field_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("text", sa.String(length=191), nullable=False),
        sa.Column("unique_text", sa.String(length=191), nullable=True),
        sa.ForeignKeyConstraint(["group_id"], ["customer_groups.id"],
                                name=op.f("fk_group_field_values_group_id_customer_groups")),
        sa.ForeignKeyConstraint(["field_id"], ["custom_fields.id"],
                                name=op.f("fk_group_field_values_field_id_custom_fields")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_field_values")),
        sa.UniqueConstraint("group_id", "field_id", name=op.f("uq_group_field_values_group_id_field_id")),
        sa.UniqueConstraint("unique_text", "field_id", name=op.f("uq_group_field_values_unique_text_field_id")),
    )


def downgrade() -> None:
    op.drop_table("group_field_values")
    with op.batch_alter_table("custom_fields") as batch:
        batch.drop_column("subject")
    op.drop_table("group_activity_rules")
    op.drop_table("group_taggings")
    op.drop_table("group_tags")
    op.drop_table("group_tag_groups")
