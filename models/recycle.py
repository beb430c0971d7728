"""The customer recycle bin (004 §4.5): soft delete, restore, and the purge that ends it.

A deleted customer keeps every row (follow relations, their tags, field values, timeline) and only gets
`deleted_at`/`deleted_by`, so a restore is exact and the unique field values stay reserved meanwhile.
The purge hard-deletes the customer with every row that hangs off it; those rows are found through the
foreign keys of the schema, so a table added later that points at a customer (or at a row pointing at
one) is purged too instead of blocking the delete (a nullable reference is cleared instead).

Here and not in handlers/ or web/ because all three use it: the API deletes and restores, the purge job
and CLI purge, and a customer who adds a member again comes back (see `restore`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.orm import Session

from models.customer import Customer
from models.db import Base, utcnow
from models.settings import CorpSettings
from models.timeline import CustomerEvent

# For corps that never saved their settings: the column's own default, so the two cannot drift apart.
DEFAULT_RETENTION_DAYS: int = CorpSettings.__table__.c.recycle_retention_days.default.arg
PURGE_BATCH = 500


def _timeline(session: Session, customer: Customer, kind: str, actor: str, source: str | None) -> None:
    session.add(CustomerEvent(customer_id=customer.id, kind=kind, detail={"by": actor},
                              source=source or f"{kind}:{uuid.uuid4().hex}", at=utcnow()))


def soft_delete(session: Session, customer: Customer, actor: str) -> None:
    """Move the customer to the recycle bin; a second delete changes nothing."""
    if customer.deleted_at is not None:
        return
    customer.deleted_at = utcnow()
    customer.deleted_by = actor
    _timeline(session, customer, "deleted", actor, None)


def restore(session: Session, customer: Customer, actor: str, source: str | None = None) -> bool:
    """Take the customer out of the recycle bin with everything it had; False if it was not in it.

    `source` names the event that caused it (the add handler passes `inbox:<id>`), so a replayed event
    restores once and writes one timeline entry.
    """
    if customer.deleted_at is None:
        return False
    if source is not None and session.scalar(select(CustomerEvent.id).where(
            CustomerEvent.customer_id == customer.id, CustomerEvent.kind == "restored",
            CustomerEvent.source == source)) is not None:
        return False  # that event restored the customer once already; its replay must not undo a later delete
    customer.deleted_at = None
    customer.deleted_by = None
    _timeline(session, customer, "restored", actor, source)
    return True


def retention_days(session: Session, corp_id: str) -> int:
    days = session.scalar(select(CorpSettings.recycle_retention_days).where(CorpSettings.corp_id == corp_id))
    return days if days is not None else DEFAULT_RETENTION_DAYS


def purge_after(deleted_at: dt.datetime, days: int) -> dt.datetime:
    return deleted_at + dt.timedelta(days=days)


def _dependents(table: Table) -> list[tuple[Table, str, str]]:
    """(child table, its FK column, the referenced column) for every table with a foreign key to `table`."""
    return [(child, fk.parent.name, fk.column.name)
            for child in Base.metadata.sorted_tables
            for fk in child.foreign_keys if fk.column.table is table and child is not table]


def _delete_tree(session: Session, table: Table, column: str, values: list[object]) -> int:
    """Delete the rows of `table` whose `column` is in `values`, after every row that depends on them.

    A row that needs its parent (NOT NULL foreign key: a follow relation, a field value) goes with it, as
    does a row the parent is the subject of (a column marked `info={"subject": True}`: a follow-up, whose
    subject may be another kind of row); a row that only may name one (nullable: a staff member's plan
    "optionally about one customer") stays and forgets it, as ON DELETE SET NULL would."""
    if not values:
        return 0
    for child, fk_column, ref_column in _dependents(table):
        keys = list(values if ref_column == column else session.scalars(
            select(table.c[ref_column]).where(table.c[column].in_(values))).all())
        if child.c[fk_column].nullable and not child.c[fk_column].info.get("subject"):
            if keys:
                session.execute(update(child).where(child.c[fk_column].in_(keys)).values({fk_column: None}))
        else:
            _delete_tree(session, child, fk_column, keys)
    return session.execute(delete(table).where(table.c[column].in_(values))).rowcount  # type: ignore[attr-defined]


def purge(session: Session, customer_ids: Iterable[int]) -> int:
    """Hard-delete these customers and every row depending on them; returns how many customers went."""
    return _delete_tree(session, cast(Table, Customer.__table__), "id", list(customer_ids))


def expired(session: Session, now: dt.datetime, limit: int = PURGE_BATCH) -> list[int]:
    """Ids of binned customers whose corp's retention has run out, oldest deletion first."""
    out: list[int] = []
    corps = session.scalars(select(Customer.corp_id).where(Customer.deleted_at.is_not(None)).distinct()).all()
    for corp_id in corps:
        cutoff = now - dt.timedelta(days=retention_days(session, corp_id))
        out += session.scalars(select(Customer.id).where(
            Customer.corp_id == corp_id, Customer.deleted_at.is_not(None), Customer.deleted_at <= cutoff)
            .order_by(Customer.deleted_at).limit(limit - len(out))).all()
        if len(out) >= limit:
            break
    return out
