"""follow_tags.customer_id: the follow relation's customer copied onto each tag row, with an index (tag_pk,
customer_id), so a segment intersects its tags per customer on that narrow index alone (web/segment_query.py)
instead of looking each tag row's relation up; existing rows are filled from their relation. Two covering
indexes for the segment's other checks of a candidate: follow_relations (customer_id, status, added_at) and
customers (corp_id, deleted_at).

Revision ID: 0038_i19seg_follow_tags_customer
Revises: 0037_i16_task_kind_width
"""
from alembic import op
import sqlalchemy as sa


revision = "0038_i19seg_follow_tags_customer"
down_revision = "0037_i16_task_kind_width"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("follow_tags") as batch:
        batch.add_column(sa.Column("customer_id", sa.Integer(), nullable=True))
    op.execute("UPDATE follow_tags SET customer_id = "
               "(SELECT f.customer_id FROM follow_relations f WHERE f.id = follow_tags.follow_id)")
    with op.batch_alter_table("follow_tags") as batch:
        batch.alter_column("customer_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(op.f("fk_follow_tags_customer_id_customers"), "customers", ["customer_id"], ["id"])
        batch.create_index("ix_follow_tags_tag_pk_customer_id", ["tag_pk", "customer_id"])
    op.create_index("ix_follow_relations_customer_status_added", "follow_relations", ["customer_id", "status",
                                                                                      "added_at"])
    op.create_index("ix_customers_corp_id_deleted_at", "customers", ["corp_id", "deleted_at"])


def downgrade() -> None:
    op.drop_index("ix_customers_corp_id_deleted_at", "customers")
    op.drop_index("ix_follow_relations_customer_status_added", "follow_relations")
    with op.batch_alter_table("follow_tags") as batch:
        batch.drop_index("ix_follow_tags_tag_pk_customer_id")
        batch.drop_constraint(op.f("fk_follow_tags_customer_id_customers"), type_="foreignkey")
        batch.drop_column("customer_id")
