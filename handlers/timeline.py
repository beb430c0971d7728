"""Writing the customer timeline from handlers: one entry per (customer, kind, source event)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from models import CustomerEvent
from models.db import get_or_create


def record(session: Session, customer_id: int, kind: str, source: str, at: dt.datetime,
           userid: str | None = None, **detail: Any) -> bool:
    """Add a timeline entry; a replay of the same source event finds it and adds nothing (returns False),
    which is also how handlers tell a first delivery from a replay."""
    _, created = get_or_create(session, CustomerEvent, {"customer_id": customer_id, "kind": kind, "source": source},
                               at=at, userid=userid, detail=detail)
    return created
