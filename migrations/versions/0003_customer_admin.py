"""customer admin: recycle bin, custom field values, export

Revision ID: 0003_customer_admin
Revises: 0002_contact_lifecycle
Create Date: 2026-11-23 16:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0003_customer_admin"
down_revision = "0002_contact_lifecycle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index('ix_customers_deleted_at', ['deleted_at'], unique=False)

    with op.batch_alter_table('customer_field_values', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unique_text', sa.String(length=191), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f('uq_customer_field_values_unique_text_field_id'), ['unique_text', 'field_id'])


def downgrade() -> None:
    with op.batch_alter_table('customer_field_values', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_customer_field_values_unique_text_field_id'), type_='unique')
        batch_op.drop_column('unique_text')

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index('ix_customers_deleted_at')
