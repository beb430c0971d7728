"""sales, first slice: follow-ups from every door (via) with a type from the corp's list, a customer's last
follow-up time, opportunity
stages, opportunities and their stage history, the corp's stage flags

Revision ID: 0013_i13sales_opportunities
Revises: 0012_i11suite_job_runs
Create Date: 2026-11-29 07:30:00
"""
from alembic import op
import sqlalchemy as sa

from models.db import UTCDateTime


revision = "0013_i13sales_opportunities"
down_revision = "0012_i11suite_job_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "follow_up_types",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_up_types")),
        sa.UniqueConstraint("corp_id", "name", name=op.f("uq_follow_up_types_corp_id_name")),
    )
    with op.batch_alter_table("follow_ups") as batch:
        batch.add_column(sa.Column("via", sa.String(length=16), nullable=False, server_default="bot"))
        batch.add_column(sa.Column("type_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_follow_ups_type_id_follow_up_types"), "follow_up_types", ["type_id"],
                                 ["id"])
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("last_followed_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("corp_settings") as batch:
        batch.add_column(sa.Column("allow_stage_skip", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("allow_reopen_lost", sa.Boolean(), nullable=False, server_default=sa.false()))
    # the customers that already have follow-ups (the bot's) get their last one's time
    op.execute("UPDATE customers SET last_followed_at = (SELECT MAX(f.at) FROM follow_ups f "
               "WHERE f.customer_id = customers.id)")
    op.create_table(
        "opportunity_stages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunity_stages")),
    )
    op.create_index("ix_opportunity_stages_corp_id_position", "opportunity_stages", ["corp_id", "position"])
    op.create_table(
        "opportunities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("stage_id", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("expected_close", sa.Date(), nullable=False),
        sa.Column("owner_userid", sa.String(length=64), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("lost_reason", sa.String(length=128), nullable=False),
        sa.Column("created_by", sa.String(length=96), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_opportunities_customer_id_customers")),
        sa.ForeignKeyConstraint(["stage_id"], ["opportunity_stages.id"],
                                name=op.f("fk_opportunities_stage_id_opportunity_stages")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunities")),
    )
    op.create_index("ix_opportunities_corp_id_stage_id", "opportunities", ["corp_id", "stage_id"])
    op.create_index("ix_opportunities_customer_id", "opportunities", ["customer_id"])
    op.create_table(
        "opportunity_stage_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("from_stage_id", sa.Integer(), nullable=True),
        sa.Column("to_stage_id", sa.Integer(), nullable=False),
        sa.Column("userid", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.String(length=96), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["opportunity_id"], ["opportunities.id"],
                                name=op.f("fk_opportunity_stage_changes_opportunity_id_opportunities")),
        sa.ForeignKeyConstraint(["from_stage_id"], ["opportunity_stages.id"],
                                name=op.f("fk_opportunity_stage_changes_from_stage_id_opportunity_stages")),
        sa.ForeignKeyConstraint(["to_stage_id"], ["opportunity_stages.id"],
                                name=op.f("fk_opportunity_stage_changes_to_stage_id_opportunity_stages")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunity_stage_changes")),
    )
    op.create_index("ix_opportunity_stage_changes_opportunity_id_at", "opportunity_stage_changes",
                    ["opportunity_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_opportunity_stage_changes_opportunity_id_at", table_name="opportunity_stage_changes")
    op.drop_table("opportunity_stage_changes")
    op.drop_index("ix_opportunities_customer_id", table_name="opportunities")
    op.drop_index("ix_opportunities_corp_id_stage_id", table_name="opportunities")
    op.drop_table("opportunities")
    op.drop_index("ix_opportunity_stages_corp_id_position", table_name="opportunity_stages")
    op.drop_table("opportunity_stages")
    with op.batch_alter_table("corp_settings") as batch:
        batch.drop_column("allow_reopen_lost")
        batch.drop_column("allow_stage_skip")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("last_followed_at")
    with op.batch_alter_table("follow_ups") as batch:
        batch.drop_constraint(op.f("fk_follow_ups_type_id_follow_up_types"), type_="foreignkey")
        batch.drop_column("type_id")
        batch.drop_column("via")
    op.drop_table("follow_up_types")
