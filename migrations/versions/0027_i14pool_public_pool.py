"""the public pool (公海): pools, return reasons, pool moves, the daily scan's claims; the customer's pool
state and the corp's claim limit (models/pool.py)

Revision ID: 0027_i14pool_public_pool
Revises: 0026_i14xfer_transfers
Create Date: 2026-11-29 09:50:00
"""
from alembic import op
import sqlalchemy as sa

from models.db import UTCDateTime


revision = "0027_i14pool_public_pool"
down_revision = "0026_i14xfer_transfers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pools",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("departments", sa.JSON(), nullable=False),
        sa.Column("auto_recycle", sa.Boolean(), nullable=False),
        sa.Column("never_followed_days", sa.Integer(), nullable=True),
        sa.Column("not_friend_days", sa.Integer(), nullable=True),
        sa.Column("idle_days", sa.Integer(), nullable=True),
        sa.Column("no_deal_days", sa.Integer(), nullable=True),
        sa.Column("warn_days", sa.Integer(), nullable=True),
        sa.Column("claim_lock_days", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pools")),
        sa.UniqueConstraint("corp_id", "name", name=op.f("uq_pools_corp_id_name")),
    )
    op.create_table(
        "pool_return_reasons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pool_return_reasons")),
        sa.UniqueConstraint("corp_id", "name", name=op.f("uq_pool_return_reasons_corp_id_name")),
    )
    op.create_table(
        "pool_moves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("userid", sa.String(length=64), nullable=True),
        sa.Column("by", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("reason_id", sa.Integer(), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_pool_moves_customer_id_customers")),
        sa.ForeignKeyConstraint(["pool_id"], ["pools.id"], name=op.f("fk_pool_moves_pool_id_pools")),
        sa.ForeignKeyConstraint(["reason_id"], ["pool_return_reasons.id"],
                                name=op.f("fk_pool_moves_reason_id_pool_return_reasons")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pool_moves")),
    )
    op.create_index("ix_pool_moves_customer_id_at", "pool_moves", ["customer_id", "at"])
    op.create_index("ix_pool_moves_reason_id", "pool_moves", ["reason_id"])
    op.create_table(
        "pool_scans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("moved", sa.Integer(), nullable=False),
        sa.Column("warned", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pool_scans")),
        sa.UniqueConstraint("corp_id", "day", name=op.f("uq_pool_scans_corp_id_day")),
    )
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("pool_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("pooled_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("pool_left_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("pool_reason", sa.String(length=64), nullable=False, server_default=""))
        batch.add_column(sa.Column("assigned_at", UTCDateTime(), nullable=True))
        batch.create_index("ix_customers_pool_scan", ["pool_id", "pooled_at", "id"])  # before the key (MariaDB)
        batch.create_foreign_key(op.f("fk_customers_pool_id_pools"), "pools", ["pool_id"], ["id"])
        batch.create_index("ix_customers_corp_id_owner_userid", ["corp_id", "owner_userid"])
    with op.batch_alter_table("corp_settings") as batch:
        batch.add_column(sa.Column("pool_claim_limit", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("corp_settings") as batch:
        batch.drop_column("pool_claim_limit")
    with op.batch_alter_table("customers") as batch:
        batch.drop_index("ix_customers_corp_id_owner_userid")
        batch.drop_constraint(op.f("fk_customers_pool_id_pools"), type_="foreignkey")
        batch.drop_index("ix_customers_pool_scan")
        for column in ("assigned_at", "pool_reason", "pool_left_by", "pooled_at", "pool_id"):
            batch.drop_column(column)
    op.drop_table("pool_scans")
    op.drop_index("ix_pool_moves_reason_id", "pool_moves")
    op.drop_index("ix_pool_moves_customer_id_at", "pool_moves")
    op.drop_table("pool_moves")
    op.drop_table("pool_return_reasons")
    op.drop_table("pools")
