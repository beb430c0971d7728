"""Who owns (跟进) a customer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable


def choose_owner(current_owner: str | None, adders: Iterable[tuple[str, dt.datetime, bool]]) -> str | None:
    """The customer's single owner: keep the current one while they still follow the customer, otherwise
    the earliest active adder (manual 004 §4.1.1: by default the first member who added the customer).

    `adders` holds (userid, added_at, active) for every follow relation.
    """
    active = sorted((added_at, userid) for userid, added_at, is_active in adders if is_active)
    if current_owner and any(userid == current_owner for _, userid in active):
        return current_owner
    return active[0][1] if active else None
