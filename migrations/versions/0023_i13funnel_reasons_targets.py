"""sales, funnel and targets: the corp's list of lost reasons (a lost deal names one by id; the free-text
reasons already stored become the list's entries), sales targets, and the indexes the funnel, the targets'
completion and the per-member follow-up counts read (the stage history's index now covers the stage)

Revision ID: 0023_i13funnel_reasons_targets
Revises: 0022_i14leads_leads
Create Date: 2026-11-29 09:00:00
"""
from alembic import op
import sqlalchemy as sa

from models.db import UTCDateTime


revision = "0023_i13funnel_reasons_targets"
down_revision = "0022_i14leads_leads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lost_reasons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lost_reasons")),
        sa.UniqueConstraint("corp_id", "name", name=op.f("uq_lost_reasons_corp_id_name")),
    )
    with op.batch_alter_table("opportunities") as batch:
        batch.add_column(sa.Column("lost_reason_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_opportunities_lost_reason_id_lost_reasons"), "lost_reasons",
                                 ["lost_reason_id"], ["id"])
    # every distinct free-text reason becomes an entry of its corp's list, in alphabetical order
    conn = op.get_bind()
    reasons = conn.execute(sa.text("SELECT DISTINCT corp_id, lost_reason FROM opportunities "
                                   "WHERE lost_reason <> '' ORDER BY corp_id, lost_reason")).all()
    position: dict[str, int] = {}
    for corp_id, name in reasons:
        conn.execute(sa.text("INSERT INTO lost_reasons (corp_id, name, position, created_at) "
                             "VALUES (:c, :n, :p, CURRENT_TIMESTAMP)"),
                     {"c": corp_id, "n": name, "p": position.setdefault(corp_id, 0)})
        position[corp_id] += 1
    op.execute("UPDATE opportunities SET lost_reason_id = (SELECT r.id FROM lost_reasons r "
               "WHERE r.corp_id = opportunities.corp_id AND r.name = opportunities.lost_reason) "
               "WHERE lost_reason <> ''")
    with op.batch_alter_table("opportunities") as batch:
        batch.drop_column("lost_reason")
    op.create_index("ix_opportunities_corp_id_created_at", "opportunities", ["corp_id", "created_at"])
    op.create_index("ix_opportunities_corp_id_owner_userid_created_at", "opportunities",
                    ["corp_id", "owner_userid", "created_at"])
    op.create_index("ix_opportunity_stage_changes_to_stage_id_at", "opportunity_stage_changes",
                    ["to_stage_id", "at"])
    # the history index covers the stage too (made before the old one goes: MariaDB's FK needs an index)
    op.create_index("ix_opportunity_stage_changes_opportunity_id_at_to_stage_id", "opportunity_stage_changes",
                    ["opportunity_id", "at", "to_stage_id"])
    op.drop_index("ix_opportunity_stage_changes_opportunity_id_at", table_name="opportunity_stage_changes")
    op.create_index("ix_follow_ups_corp_id_at_userid_type_id", "follow_ups", ["corp_id", "at", "userid", "type_id"])
    op.create_table(
        "sales_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("userid", sa.String(length=64), nullable=True),
        sa.Column("dept_id", sa.Integer(), nullable=True),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=96), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_targets")),
    )
    op.create_index("ix_sales_targets_corp_id_start", "sales_targets", ["corp_id", "start"])


def downgrade() -> None:
    op.drop_index("ix_sales_targets_corp_id_start", table_name="sales_targets")
    op.drop_table("sales_targets")
    op.drop_index("ix_follow_ups_corp_id_at_userid_type_id", table_name="follow_ups")
    op.create_index("ix_opportunity_stage_changes_opportunity_id_at", "opportunity_stage_changes",
                    ["opportunity_id", "at"])
    op.drop_index("ix_opportunity_stage_changes_opportunity_id_at_to_stage_id", table_name="opportunity_stage_changes")
    op.drop_index("ix_opportunity_stage_changes_to_stage_id_at", table_name="opportunity_stage_changes")
    op.drop_index("ix_opportunities_corp_id_owner_userid_created_at", table_name="opportunities")
    op.drop_index("ix_opportunities_corp_id_created_at", table_name="opportunities")
    with op.batch_alter_table("opportunities") as batch:
        batch.add_column(sa.Column("lost_reason", sa.String(length=128), nullable=False, server_default=""))
    op.execute("UPDATE opportunities SET lost_reason = (SELECT r.name FROM lost_reasons r "
               "WHERE r.id = opportunities.lost_reason_id) WHERE lost_reason_id IS NOT NULL")
    with op.batch_alter_table("opportunities") as batch:
        batch.drop_constraint(op.f("fk_opportunities_lost_reason_id_lost_reasons"), type_="foreignkey")
        batch.drop_column("lost_reason_id")
    op.drop_table("lost_reasons")
