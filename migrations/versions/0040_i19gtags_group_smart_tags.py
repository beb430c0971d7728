"""smart tags on customer groups: a rule's subject (customer | group) and the group rules' hits

Revision ID: 0040_i19gtags_group_smart_tags
Revises: 0039_i19ci_dead_letter_corp
"""
from alembic import op
import sqlalchemy as sa

from models.db import UTCDateTime

revision = "0040_i19gtags_group_smart_tags"
down_revision = "0039_i19ci_dead_letter_corp"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("smart_tag_rules") as batch:
        batch.add_column(sa.Column("subject", sa.String(length=16), nullable=False, server_default="customer"))
    op.create_table(
        "smart_tag_group_hits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["customer_groups.id"],
                                name=op.f("fk_smart_tag_group_hits_group_id_customer_groups")),
        sa.ForeignKeyConstraint(["rule_id"], ["smart_tag_rules.id"],
                                name=op.f("fk_smart_tag_group_hits_rule_id_smart_tag_rules")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smart_tag_group_hits")),
        sa.UniqueConstraint("rule_id", "group_id", name=op.f("uq_smart_tag_group_hits_rule_id_group_id")),
    )
    op.create_index("ix_smart_tag_group_hits_group_id", "smart_tag_group_hits", ["group_id"])


def downgrade() -> None:
    op.drop_table("smart_tag_group_hits")  # with its indexes (MariaDB refuses to drop one a foreign key needs)
    with op.batch_alter_table("smart_tag_rules") as batch:
        batch.drop_column("subject")
