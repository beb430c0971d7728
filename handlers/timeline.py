"""Writing the customer timeline from handlers: one entry per (customer, kind, source event)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from models import CustomerEvent
from models.chunk import add_later
from models.db import get_or_create


def record(session: Session, customer_id: int, kind: str, source: str, at: dt.datetime,
           userid: str | None = None, fresh: bool = False, **detail: Any) -> bool:
    """Add a timeline entry; a replay of the same source event finds it and adds nothing (returns False),
    which is also how handlers tell a first delivery from a replay. `fresh`: the caller knows no entry of
    this source can exist (the event's first dispatch, `HandlerContext.first_attempt`): added unlooked-for,
    in a chunk with the chunk's other entries in one statement (models/chunk.py `add_later`)."""
    if fresh:
        add_later(session, CustomerEvent, {"customer_id": customer_id, "kind": kind, "source": source, "at": at,
                                           "userid": userid, "detail": detail})
        return True
    _, created = get_or_create(session, CustomerEvent, {"customer_id": customer_id, "kind": kind, "source": source},
                               at=at, userid=userid, detail=detail)
    return created
