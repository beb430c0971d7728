"""tasks.kind holds `follow_up` (9 characters): VARCHAR(8) refused it on MariaDB (SQLite does not check)

Revision ID: 0037_i16_task_kind_width
Revises: 0036_i17media_msgtype_width
"""
from alembic import op
import sqlalchemy as sa


revision = "0037_i16_task_kind_width"
down_revision = "0036_i17media_msgtype_width"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.alter_column("kind", existing_type=sa.String(length=8), type_=sa.String(length=16),
                           existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.alter_column("kind", existing_type=sa.String(length=16), type_=sa.String(length=8),
                           existing_nullable=False)
