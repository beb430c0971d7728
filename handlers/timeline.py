"""Writing the customer timeline from handlers: one entry per (customer, kind, source event)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from models import CustomerEvent
from models.db import get_or_create


def record(session: Session, customer_id: int, kind: str, source: str, at: dt.datetime,
           userid: str | None = None, fresh: bool = False, **detail: Any) -> bool:
    """Add a timeline entry; a replay of the same source event finds it and adds nothing (returns False),
    which is also how handlers tell a first delivery from a replay. `fresh`: the caller knows no entry of
    this source can exist (the event's first dispatch, `HandlerContext.first_attempt`): added unlooked-for,
    inserted with the transaction's next flush."""
    if fresh:
        session.add(CustomerEvent(customer_id=customer_id, kind=kind, source=source, at=at, userid=userid,
                                  detail=detail))
        return True
    _, created = get_or_create(session, CustomerEvent, {"customer_id": customer_id, "kind": kind, "source": source},
                               at=at, userid=userid, detail=detail)
    return created
