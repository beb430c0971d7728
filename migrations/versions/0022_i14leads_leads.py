"""leads' own fields (gender, company, position, creator, custom fields, the customer link, assignment and
discard times, the manual-handling flag, the unique mobile), their tags and change history; assignment
rules; lead sources and their inbound requests' first answers (models/lead.py, models/lead_rules.py)

Revision ID: 0022_i14leads_leads
Revises: 0021_i12core_group_quit_notice
Create Date: 2026-11-29 09:40:00
"""
from alembic import op
from typing import Any

import sqlalchemy as sa

from models.db import UTCDateTime


revision = "0022_i14leads_leads"
down_revision = "0021_i12core_group_quit_notice"
branch_labels = None
depends_on = None

LEAD_COLUMNS: list[tuple[str, Any, bool, Any]] = [
    ("mobile_key", lambda: sa.String(length=32), True, None),
    ("gender", lambda: sa.String(length=8), False, ""),
    ("company", lambda: sa.String(length=128), False, ""),
    ("position", lambda: sa.String(length=64), False, ""),
    ("creator", lambda: sa.String(length=96), False, ""),
    ("fields", sa.JSON, False, None),
    ("needs_manual", sa.Boolean, False, sa.false()),
    ("customer_id", sa.Integer, True, None),
    ("assigned_at", UTCDateTime, True, None),
    ("discarded_at", UTCDateTime, True, None),
]


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        for name, kind, nullable, default in LEAD_COLUMNS:
            batch.add_column(sa.Column(name, kind(), nullable=True if name == "fields" else nullable,
                                       server_default=default))
    op.execute("UPDATE leads SET fields = '{}'")
    op.execute("UPDATE leads SET mobile_key = mobile WHERE mobile <> ''")
    with op.batch_alter_table("leads") as batch:
        batch.alter_column("fields", existing_type=sa.JSON(), nullable=False)
        for name, kind, _, default in LEAD_COLUMNS:
            if default is not None:
                batch.alter_column(name, existing_type=kind(), server_default=None)
        batch.create_unique_constraint(op.f("uq_leads_corp_id_mobile_key"), ["corp_id", "mobile_key"])
        batch.create_foreign_key(op.f("fk_leads_customer_id_customers"), "customers", ["customer_id"], ["id"])
    op.create_table(
        "lead_tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("tag_pk", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name=op.f("fk_lead_tags_lead_id_leads")),
        sa.ForeignKeyConstraint(["tag_pk"], ["tags.id"], name=op.f("fk_lead_tags_tag_pk_tags")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_tags")),
        sa.UniqueConstraint("lead_id", "tag_pk", name=op.f("uq_lead_tags_lead_id_tag_pk")),
    )
    op.create_table(
        "lead_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("old", sa.String(length=500), nullable=False),
        sa.Column("new", sa.String(length=500), nullable=False),
        sa.Column("actor", sa.String(length=96), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name=op.f("fk_lead_changes_lead_id_leads")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_changes")),
    )
    op.create_index("ix_lead_changes_lead_id_at", "lead_changes", ["lead_id", "at"])
    op.create_table(
        "lead_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("spread", sa.String(length=16), nullable=False),
        sa.Column("targets", sa.JSON(), nullable=False),
        sa.Column("turn", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_rules")),
    )
    op.create_table(
        "lead_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("disabled_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_sources")),
        sa.UniqueConstraint("corp_id", "name", name=op.f("uq_lead_sources_corp_id_name")),
    )
    op.create_table(
        "lead_inbound_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["lead_sources.id"],
                                name=op.f("fk_lead_inbound_requests_source_id_lead_sources")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_inbound_requests")),
        sa.UniqueConstraint("source_id", "key", name=op.f("uq_lead_inbound_requests_source_id_key")),
    )


def downgrade() -> None:
    op.drop_table("lead_inbound_requests")
    op.drop_table("lead_sources")
    op.drop_table("lead_rules")
    op.drop_table("lead_changes")
    op.drop_table("lead_tags")
    with op.batch_alter_table("leads") as batch:
        batch.drop_constraint(op.f("fk_leads_customer_id_customers"), type_="foreignkey")
        batch.drop_constraint(op.f("uq_leads_corp_id_mobile_key"), type_="unique")
        for name, *_ in reversed(LEAD_COLUMNS):
            batch.drop_column(name)
