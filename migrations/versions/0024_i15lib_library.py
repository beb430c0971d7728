"""the sidebar libraries: category trees (library_categories); knowledge items gain kind, owner, category,
url, attachments, sort and uses; materials gain category, an uploaded file and uses (models/library.py)

Revision ID: 0024_i15lib_library
Revises: 0023_i13funnel_reasons_targets
Create Date: 2026-11-29 09:45:00
"""
from alembic import op
import sqlalchemy as sa

from models.db import UTCDateTime


revision = "0024_i15lib_library"
down_revision = "0023_i13funnel_reasons_targets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "library_categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("section", sa.String(length=16), nullable=False),
        sa.Column("owner_userid", sa.String(length=64), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=30), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_library_categories")),
    )
    op.create_index("ix_library_categories_tree", "library_categories", ["corp_id", "section", "owner_userid"])
    with op.batch_alter_table("knowledge_items") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="qa"))
        batch.add_column(sa.Column("owner_userid", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("category_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("url", sa.String(length=2048), nullable=True))
        batch.add_column(sa.Column("attachments", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("sort", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("uses", sa.Integer(), nullable=False, server_default="0"))
        batch.create_foreign_key(op.f("fk_knowledge_items_category_id_library_categories"), "library_categories",
                                 ["category_id"], ["id"])
    op.execute("UPDATE knowledge_items SET attachments = '[]'")
    with op.batch_alter_table("knowledge_items") as batch:
        batch.alter_column("attachments", existing_type=sa.JSON(), nullable=False)
    with op.batch_alter_table("materials") as batch:
        batch.add_column(sa.Column("category_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("storage_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("filename", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("content_type", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("size", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("uses", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("updated_at", UTCDateTime(), nullable=True))
        batch.create_foreign_key(op.f("fk_materials_category_id_library_categories"), "library_categories",
                                 ["category_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("materials") as batch:
        batch.drop_constraint(op.f("fk_materials_category_id_library_categories"), type_="foreignkey")
        for column in ("updated_at", "uses", "size", "content_type", "filename", "storage_key", "category_id"):
            batch.drop_column(column)
    with op.batch_alter_table("knowledge_items") as batch:
        batch.drop_constraint(op.f("fk_knowledge_items_category_id_library_categories"), type_="foreignkey")
        for column in ("uses", "sort", "attachments", "url", "category_id", "owner_userid", "kind"):
            batch.drop_column(column)
    op.drop_index("ix_library_categories_tree", table_name="library_categories")
    op.drop_table("library_categories")
