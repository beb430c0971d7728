"""segments (客户分组 / 人群包) and their static snapshots; smart-tag rules, their hits and daily claims
(models/segments.py, models/smart_tags.py); indexes for finding a tag's, a field value's and a follow-up
range's customers

Revision ID: 0033_i16smart_segments_tags
Revises: 0032_i17ops_operations
Create Date: 2026-11-29 12:00:00
"""
from alembic import op
import sqlalchemy as sa

from models.db import UTCDateTime


revision = "0033_i16smart_segments_tags"
down_revision = "0032_i17ops_operations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("refreshed_at", UTCDateTime(), nullable=True),
        sa.Column("created_by", sa.String(length=96), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint("corp_id", "name", name=op.f("uq_segments_corp_id_name")),
    )
    op.create_table(
        "segment_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_segment_members_customer_id_customers")),
        sa.ForeignKeyConstraint(["segment_id"], ["segments.id"], name=op.f("fk_segment_members_segment_id_segments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_members")),
        sa.UniqueConstraint("segment_id", "customer_id", name=op.f("uq_segment_members_segment_id_customer_id")),
    )
    op.create_index("ix_segment_members_customer_id", "segment_members", ["customer_id"])
    op.create_table(
        "smart_tag_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("tag_pks", sa.JSON(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("triggers", sa.String(length=255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=96), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smart_tag_rules")),
    )
    op.create_index("ix_smart_tag_rules_corp_id_enabled", "smart_tag_rules", ["corp_id", "enabled"])
    op.create_table(
        "smart_tag_hits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_smart_tag_hits_customer_id_customers")),
        sa.ForeignKeyConstraint(["rule_id"], ["smart_tag_rules.id"], name=op.f("fk_smart_tag_hits_rule_id_smart_tag_rules")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smart_tag_hits")),
        sa.UniqueConstraint("rule_id", "customer_id", name=op.f("uq_smart_tag_hits_rule_id_customer_id")),
    )
    op.create_index("ix_smart_tag_hits_customer_id", "smart_tag_hits", ["customer_id"])
    op.create_table(
        "smart_tag_scans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("tagged", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smart_tag_scans")),
        sa.UniqueConstraint("corp_id", "day", name=op.f("uq_smart_tag_scans_corp_id_day")),
    )
    op.create_index("ix_follow_tags_tag_pk_follow_id", "follow_tags", ["tag_pk", "follow_id"])
    op.create_index("ix_customer_field_values_field_id_text", "customer_field_values", ["field_id", "text"])
    op.create_index("ix_customers_corp_id_last_followed_at", "customers", ["corp_id", "last_followed_at"])


def _drop_fk_index(table: str, index: str, column: str, referent: str) -> None:
    """Drop an index whose first column has a foreign key: MariaDB dropped the key's own index when this one
    came and refuses to drop the only one it can use, so the key is dropped and made again (with its index)."""
    fk = f"fk_{table}_{column}_{referent}"
    mysql = op.get_bind().dialect.name in ("mysql", "mariadb")
    if mysql:
        op.drop_constraint(fk, table, type_="foreignkey")
    op.drop_index(index, table_name=table)
    if mysql:
        op.create_foreign_key(fk, table, referent, [column], ["id"])


def downgrade() -> None:
    op.drop_index("ix_customers_corp_id_last_followed_at", table_name="customers")
    _drop_fk_index("customer_field_values", "ix_customer_field_values_field_id_text", "field_id", "custom_fields")
    _drop_fk_index("follow_tags", "ix_follow_tags_tag_pk_follow_id", "tag_pk", "tags")
    # the new tables go with their indexes (MariaDB refuses to drop one a foreign key needs)
    op.drop_table("smart_tag_scans")
    op.drop_table("smart_tag_hits")
    op.drop_table("smart_tag_rules")
    op.drop_table("segment_members")
    op.drop_table("segments")
