"""roles and data scopes, member roles, seats (系统状态 and the corp's seat limit); the audit log's corp and
area (models/access.py, models/auth.py)

Revision ID: 0031_i17roles_roles_seats_audit
Revises: 0030_i16mass_mass_messages
Create Date: 2026-11-29 12:00:00
"""
from alembic import op
import sqlalchemy as sa

from models.db import UTCDateTime


revision = "0031_i17roles_roles_seats_audit"
down_revision = "0030_i16mass_mass_messages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=30), nullable=False),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column("data_scope", sa.String(length=16), nullable=False),
        sa.Column("departments", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=96), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roles")),
        sa.UniqueConstraint("corp_id", "name", name=op.f("uq_roles_corp_id_name")),
    )
    op.create_table(
        "member_roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("userid", sa.String(length=64), nullable=False),
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["role_id"], ["roles.id"], name=op.f("fk_member_roles_role_id_roles"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_roles")),
        sa.UniqueConstraint("corp_id", "userid", "role_id", name=op.f("uq_member_roles_corp_id_userid_role_id")),
    )
    op.create_index(op.f("ix_member_roles_role_id"), "member_roles", ["role_id"])
    op.create_table(
        "member_seats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("userid", sa.String(length=64), nullable=False),
        sa.Column("system_on", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_seats")),
        sa.UniqueConstraint("corp_id", "userid", name=op.f("uq_member_seats_corp_id_userid")),
    )
    with op.batch_alter_table("corp_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seat_limit", sa.Integer(), nullable=True))
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("corp_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("area", sa.String(length=64), nullable=False, server_default=""))
        batch_op.create_index("ix_audit_log_corp_at", ["corp_id", "at"])
    # the area of the rows written before: the action's part before its first dot
    op.execute("UPDATE audit_log SET area = CASE WHEN INSTR(action, '.') > 0 "
               "THEN SUBSTR(action, 1, INSTR(action, '.') - 1) ELSE action END")


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_corp_at")
        batch_op.drop_column("area")
        batch_op.drop_column("corp_id")
    with op.batch_alter_table("corp_settings", schema=None) as batch_op:
        batch_op.drop_column("seat_limit")
    op.drop_table("member_seats")
    op.drop_index(op.f("ix_member_roles_role_id"), table_name="member_roles")
    op.drop_table("member_roles")
    op.drop_table("roles")
