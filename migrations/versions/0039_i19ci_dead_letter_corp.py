"""dead_letters.corp_id: the corp a dead-lettered job worked for, so a corp-bound token lists its own

Backfilled where the job's args name it: process_event (an inbox row), deliver_outbox (an outbox row),
process_batch (the corp id itself). Others stay NULL: only a token for every corp sees those.

Revision ID: 0039_i19ci_dead_letter_corp
Revises: 0038_i19seg_follow_tags_customer
"""
import json

from alembic import op
import sqlalchemy as sa


revision = "0039_i19ci_dead_letter_corp"
down_revision = "0038_i19seg_follow_tags_customer"
branch_labels = None
depends_on = None

BY_ROW = {"process_event": "inbox", "deliver_outbox": "outbox"}


def upgrade() -> None:
    with op.batch_alter_table("dead_letters") as batch:
        batch.add_column(sa.Column("corp_id", sa.String(length=64), nullable=True))
        batch.create_index("ix_dead_letters_corp_id", ["corp_id"], unique=False)
    conn = op.get_bind()
    letters = conn.execute(sa.text("SELECT id, job, args FROM dead_letters WHERE job IN "
                                   "('process_event', 'deliver_outbox', 'process_batch')")).all()
    for pk, job, args in letters:
        args = json.loads(args) if isinstance(args, str) else args
        if not args:
            continue
        if job == "process_batch":
            corp = args[0] if isinstance(args[0], str) else None
        else:
            corp = conn.scalar(sa.text(f"SELECT corp_id FROM {BY_ROW[job]} WHERE id = :id"), {"id": args[0]})
        if corp:
            conn.execute(sa.text("UPDATE dead_letters SET corp_id = :corp WHERE id = :id"), {"corp": corp, "id": pk})


def downgrade() -> None:
    with op.batch_alter_table("dead_letters") as batch:
        batch.drop_index("ix_dead_letters_corp_id")
        batch.drop_column("corp_id")
