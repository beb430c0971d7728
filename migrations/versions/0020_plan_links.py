"""plans about a company or a contact (000 §7.2), beside a customer

Revision ID: 0020_plan_links
Revises: 0019_i12codes_group_codes
Create Date: 2026-11-29 09:45:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0020_plan_links"
down_revision = "0019_i12codes_group_codes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        batch.add_column(sa.Column("company_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("contact_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_plans_company_id_companies"), "companies", ["company_id"], ["id"])
        batch.create_foreign_key(op.f("fk_plans_contact_id_contacts"), "contacts", ["contact_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        batch.drop_constraint(op.f("fk_plans_contact_id_contacts"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_plans_company_id_companies"), type_="foreignkey")
        batch.drop_column("contact_id")
        batch.drop_column("company_id")
