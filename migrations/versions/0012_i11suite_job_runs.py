"""job_runs: long admin work (directory and tag syncs, exports) with its progress

Revision ID: 0012_i11suite_job_runs
Revises: 0011_i10_dir_protocol
Create Date: 2026-11-29 06:40:00
"""
from alembic import op
import sqlalchemy as sa

import models.db


revision = "0012_i11suite_job_runs"
down_revision = "0011_i10_dir_protocol"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("started_at", models.db.UTCDateTime(), nullable=True),
        sa.Column("updated_at", models.db.UTCDateTime(), nullable=True),
        sa.Column("finished_at", models.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
    )
    op.create_index("ix_job_runs_corp_kind", "job_runs", ["corp_id", "kind"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_job_runs_corp_kind", table_name="job_runs")
    op.drop_table("job_runs")
