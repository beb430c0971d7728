"""companies, contacts and industries; a customer's company; follow-ups on a lead, a company, a contact or a
group as well as a customer (exactly one); a lead's last follow-up time

Revision ID: 0018_i13orgs_companies
Revises: 0017_i12api_groups
Create Date: 2026-11-29 09:00:00
"""
from alembic import op
import sqlalchemy as sa

from models.db import UTCDateTime


revision = "0018_i13orgs_companies"
down_revision = "0017_i12api_groups"
branch_labels = None
depends_on = None

SUBJECTS = ("customer_id", "lead_id", "company_id", "contact_id", "group_chat_id")
ONE_SUBJECT = " + ".join(f"(CASE WHEN {c} IS NULL THEN 0 ELSE 1 END)" for c in SUBJECTS) + " = 1"
SUBJECT_INDEXES = {"ix_follow_ups_lead_id_at": ["lead_id", "at"], "ix_follow_ups_company_id_at": ["company_id", "at"],
                   "ix_follow_ups_contact_id_at": ["contact_id", "at"],
                   "ix_follow_ups_corp_id_group_chat_id_at": ["corp_id", "group_chat_id", "at"]}


def upgrade() -> None:
    op.create_table(
        "industries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("preset", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_industries")),
        sa.UniqueConstraint("corp_id", "name", name=op.f("uq_industries_corp_id_name")),
    )
    op.create_table(
        "companies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("short_name", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("website", sa.String(length=256), nullable=False),
        sa.Column("province", sa.String(length=32), nullable=False),
        sa.Column("city", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=256), nullable=False),
        sa.Column("industry_id", sa.Integer(), nullable=True),
        sa.Column("size", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("deal", sa.Boolean(), nullable=False),
        sa.Column("owner_userid", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=96), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.Column("deleted_by", sa.String(length=96), nullable=True),
        sa.ForeignKeyConstraint(["industry_id"], ["industries.id"], name=op.f("fk_companies_industry_id_industries")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_companies")),
    )
    op.create_index("ix_companies_corp_id_deleted_at", "companies", ["corp_id", "deleted_at"])
    op.create_index("ix_companies_corp_id_owner_userid", "companies", ["corp_id", "owner_userid"])
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("mobile", sa.String(length=32), nullable=False),
        sa.Column("position", sa.String(length=64), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("owner_userid", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=96), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.Column("deleted_by", sa.String(length=96), nullable=True),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"], name=op.f("fk_contacts_company_id_companies")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_contacts_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("customer_id", name=op.f("uq_contacts_customer_id")),
    )
    op.create_index("ix_contacts_company_id", "contacts", ["company_id"])
    op.create_index("ix_contacts_corp_id_owner_userid", "contacts", ["corp_id", "owner_userid"])
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("company_id", sa.Integer(), nullable=True))
        batch.create_index("ix_customers_company_id", ["company_id"])  # before the key: MariaDB makes no index of its own
        batch.create_foreign_key(op.f("fk_customers_company_id_companies"), "companies", ["company_id"], ["id"])
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("last_followed_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("follow_ups") as batch:
        batch.alter_column("customer_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("lead_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("company_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("contact_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("group_chat_id", sa.String(length=64), nullable=True))
        for name, columns in SUBJECT_INDEXES.items():
            batch.create_index(name, columns)
        batch.create_foreign_key(op.f("fk_follow_ups_lead_id_leads"), "leads", ["lead_id"], ["id"])
        batch.create_foreign_key(op.f("fk_follow_ups_company_id_companies"), "companies", ["company_id"], ["id"])
        batch.create_foreign_key(op.f("fk_follow_ups_contact_id_contacts"), "contacts", ["contact_id"], ["id"])
        batch.create_check_constraint(op.f("ck_follow_ups_one_subject"), sa.text(ONE_SUBJECT))


def downgrade() -> None:
    op.execute("DELETE FROM follow_ups WHERE customer_id IS NULL")  # the other subjects' records go with them
    with op.batch_alter_table("follow_ups") as batch:
        batch.drop_constraint(op.f("ck_follow_ups_one_subject"), type_="check")
        batch.drop_constraint(op.f("fk_follow_ups_contact_id_contacts"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_follow_ups_company_id_companies"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_follow_ups_lead_id_leads"), type_="foreignkey")
        for name in SUBJECT_INDEXES:
            batch.drop_index(name)
        batch.drop_column("group_chat_id")
        batch.drop_column("contact_id")
        batch.drop_column("company_id")
        batch.drop_column("lead_id")
        batch.alter_column("customer_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("last_followed_at")
    with op.batch_alter_table("customers") as batch:
        batch.drop_constraint(op.f("fk_customers_company_id_companies"), type_="foreignkey")
        batch.drop_index("ix_customers_company_id")
        batch.drop_column("company_id")
    op.drop_table("contacts")  # with its indexes (MariaDB refuses to drop one a foreign key needs)
    op.drop_table("companies")
    op.drop_table("industries")
