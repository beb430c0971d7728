"""hand-overs of customers and groups (transfers, transfer_items) and the automatic inheritance rule
(inherit_rules), models/transfer.py

Revision ID: 0026_i14xfer_transfers
Revises: 0025_i15radar_radar_sidebar
Create Date: 2026-11-29 09:40:00
"""
from alembic import op
import sqlalchemy as sa

from models.db import UTCDateTime


revision = "0026_i14xfer_transfers"
down_revision = "0025_i15radar_radar_sidebar"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transfers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("app_pk", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("handover_userid", sa.String(length=64), nullable=False),
        sa.Column("takeover_userid", sa.String(length=64), nullable=False),
        sa.Column("message", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=96), nullable=False),
        sa.Column("auto", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_transfers_corp_id_created_at", "transfers", ["corp_id", "created_at"])
    op.create_table(
        "transfer_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transfer_id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("external_userid", sa.String(length=64), nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("errcode", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("takeover_at", UTCDateTime(), nullable=True),
        sa.Column("polls", sa.Integer(), nullable=False),
        sa.Column("next_poll_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["transfer_id"], ["transfers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_transfer_items_transfer_id", "transfer_items", ["transfer_id"])
    op.create_index("ix_transfer_items_corp_id_external_userid", "transfer_items", ["corp_id", "external_userid"])
    op.create_index("ix_transfer_items_status_next_poll_at", "transfer_items", ["status", "next_poll_at"])
    op.create_table(
        "inherit_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("position", sa.String(length=64), nullable=False),
        sa.Column("spread", sa.String(length=16), nullable=False),
        sa.Column("fallback_userid", sa.String(length=64), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("last_run_day", sa.Date(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("corp_id"),
    )


def downgrade() -> None:
    op.drop_table("inherit_rules")
    op.drop_index("ix_transfer_items_status_next_poll_at", table_name="transfer_items")
    op.drop_index("ix_transfer_items_corp_id_external_userid", table_name="transfer_items")
    op.drop_index("ix_transfer_items_transfer_id", table_name="transfer_items")
    op.drop_table("transfer_items")
    op.drop_index("ix_transfers_corp_id_created_at", table_name="transfers")
    op.drop_table("transfers")
