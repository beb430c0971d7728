"""the download centre (downloads), bulk actions (bulk_actions, bulk_items) and the notifications log
(notifications_log), models/operations.py

Revision ID: 0032_i17ops_operations
Revises: 0031_i17roles_roles_seats_audit
Create Date: 2026-11-29 12:10:00
"""
from alembic import op
import sqlalchemy as sa

from models.db import UTCDateTime


revision = "0032_i17ops_operations"
down_revision = "0031_i17roles_roles_seats_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "downloads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("userid", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("what", sa.String(length=32), nullable=False),
        sa.Column("filename", sa.String(length=160), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("file_key", sa.String(length=32), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("purged_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["job_runs.id"], name="fk_downloads_job_id_job_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_downloads"),
    )
    op.create_index("ix_downloads_owner_created_at", "downloads", ["corp_id", "owner", "created_at"])
    op.create_index("ix_downloads_expires_at", "downloads", ["expires_at"])
    op.create_table(
        "bulk_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("userid", sa.String(length=64), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["job_runs.id"], name="fk_bulk_actions_job_id_job_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_bulk_actions"),
    )
    op.create_index("ix_bulk_actions_corp_id", "bulk_actions", ["corp_id"])
    op.create_table(
        "bulk_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bulk_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("errcode", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=255), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("transfer_item_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["bulk_id"], ["bulk_actions.id"], name="fk_bulk_items_bulk_id_bulk_actions"),
        sa.PrimaryKeyConstraint("id", name="pk_bulk_items"),
    )
    op.create_index("ix_bulk_items_bulk_id_position", "bulk_items", ["bulk_id", "position"])
    op.create_table(
        "notifications_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("parties", sa.JSON(), nullable=False),
        sa.Column("msgtype", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("errcode", sa.Integer(), nullable=True),
        sa.Column("errmsg", sa.String(length=255), nullable=False),
        sa.Column("msgid", sa.String(length=128), nullable=False),
        sa.Column("invalid_users", sa.JSON(), nullable=False),
        sa.Column("unlicensed_users", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notifications_log"),
    )
    op.create_index("ix_notifications_log_corp_id_created_at", "notifications_log", ["corp_id", "created_at"])
    op.create_index("ix_notifications_log_outbox_id", "notifications_log", ["outbox_id"])


def downgrade() -> None:
    op.drop_table("notifications_log")
    op.drop_table("bulk_items")
    op.drop_table("bulk_actions")
    op.drop_table("downloads")
