"""link radar (radar_links, radar_opens, radar_settings, radar_tag_rules, radar_tagged); the sidebar's
configuration and auxiliary components (sidebar_configs, sidebar_components)

Revision ID: 0025_i15radar_radar_sidebar
Revises: 0024_i15lib_library
Create Date: 2026-11-29 09:50:00
"""
from alembic import op
import sqlalchemy as sa

from models.db import UTCDateTime


revision = "0025_i15radar_radar_sidebar"
down_revision = "0024_i15lib_library"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "radar_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("material_id", sa.Integer(), nullable=False),
        sa.Column("userid", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_radar_links_customer_id_customers")),
        sa.ForeignKeyConstraint(["material_id"], ["materials.id"], name=op.f("fk_radar_links_material_id_materials")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_radar_links")),
        sa.UniqueConstraint("code", name=op.f("uq_radar_links_code")),
        sa.UniqueConstraint("material_id", "userid", "customer_id",
                            name=op.f("uq_radar_links_material_id_userid_customer_id")),
    )
    op.create_index("ix_radar_links_corp_id_customer_id", "radar_links", ["corp_id", "customer_id"])
    op.create_table(
        "radar_opens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("reader", sa.String(length=32), nullable=False),
        sa.Column("agent", sa.String(length=16), nullable=False),
        sa.Column("dwell_seconds", sa.Integer(), nullable=False),
        sa.Column("reached_bottom", sa.Boolean(), nullable=False),
        sa.Column("beacons", sa.Integer(), nullable=False),
        sa.Column("notified_at", UTCDateTime(), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["link_id"], ["radar_links.id"], name=op.f("fk_radar_opens_link_id_radar_links")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_radar_opens")),
    )
    op.create_index("ix_radar_opens_link_id_at", "radar_opens", ["link_id", "at"])
    op.create_index("ix_radar_opens_corp_id_notified_at", "radar_opens", ["corp_id", "notified_at"])
    op.create_table(
        "radar_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("notify", sa.String(length=16), nullable=False),
        sa.Column("batch_minutes", sa.Integer(), nullable=False),
        sa.Column("last_digest_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_radar_settings")),
        sa.UniqueConstraint("corp_id", name=op.f("uq_radar_settings_corp_id")),
    )
    op.create_table(
        "radar_tag_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("material_id", sa.Integer(), nullable=False),
        sa.Column("tag_pk", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["material_id"], ["materials.id"],
                                name=op.f("fk_radar_tag_rules_material_id_materials")),
        sa.ForeignKeyConstraint(["tag_pk"], ["tags.id"], name=op.f("fk_radar_tag_rules_tag_pk_tags")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_radar_tag_rules")),
        sa.UniqueConstraint("material_id", name=op.f("uq_radar_tag_rules_material_id")),
    )
    op.create_table(
        "radar_tagged",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("material_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_radar_tagged_customer_id_customers")),
        sa.ForeignKeyConstraint(["material_id"], ["materials.id"], name=op.f("fk_radar_tagged_material_id_materials")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_radar_tagged")),
        sa.UniqueConstraint("material_id", "customer_id", name=op.f("uq_radar_tagged_material_id_customer_id")),
    )
    op.create_table(
        "sidebar_configs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("pages", sa.JSON(), nullable=False),
        sa.Column("sections", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sidebar_configs")),
        sa.UniqueConstraint("corp_id", name=op.f("uq_sidebar_configs_corp_id")),
    )
    op.create_table(
        "sidebar_components",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=30), nullable=False),
        sa.Column("url", sa.String(length=512), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sidebar_components")),
    )


def downgrade() -> None:
    op.drop_table("sidebar_components")
    op.drop_table("sidebar_configs")
    op.drop_table("radar_tagged")
    op.drop_table("radar_tag_rules")
    op.drop_table("radar_settings")
    op.drop_index("ix_radar_opens_corp_id_notified_at", table_name="radar_opens")
    op.drop_index("ix_radar_opens_link_id_at", table_name="radar_opens")
    op.drop_table("radar_opens")
    op.drop_index("ix_radar_links_corp_id_customer_id", table_name="radar_links")
    op.drop_table("radar_links")
