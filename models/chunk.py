"""What one process_inbox chunk's transaction reads once instead of once per event (issue 18, processing).

A chunk is up to 20 callbacks of one burst, mostly of one corp, dispatched in one transaction. Their
handlers read the same corp settings (time zone, welcome messages, SOP plans, the messaging app) and look
up customers one by one; `jobs.events.process_chunk` opens a memo on the session (`open_memo`), the
handlers' `prepare` hooks load the chunk's customers in a few statements, and the reads below go through
`memo()`. Outside a chunk (the admin API, an effect, a test calling a handler) there is no memo and every
read goes to the database as before.

Only what no handler writes is memoised by value (configuration); ORM rows (customers) are memoised as
the session's own instances, so a handler's change to one is what the next event of the chunk sees.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import insert
from sqlalchemy.orm import Session

T = TypeVar("T")
MEMO = "chunk_memo"


def open_memo(session: Session) -> dict[Any, Any]:
    """Start memoising on `session` (for the rest of its transaction: the caller's chunk)."""
    memo_dict: dict[Any, Any] = {}
    session.info[MEMO] = memo_dict
    return memo_dict


def close_memo(session: Session) -> None:
    session.info.pop(MEMO, None)


def chunk_memo(session: Session) -> dict[Any, Any] | None:
    """The memo of the chunk `session` is processing; None outside one."""
    return session.info.get(MEMO)


def memo(session: Session, key: Any, load: Callable[[], T]) -> T:
    """`load()` once per chunk for `key` (every time outside a chunk)."""
    found = chunk_memo(session)
    if found is None:
        return load()
    if key not in found:
        found[key] = load()
    return found[key]


def add_later(session: Session, model: type[Any], values: dict[str, Any]) -> None:
    """A row nobody reads back in this transaction (a timeline entry): in a chunk, inserted with the chunk's
    others of `model` in one statement just before its commit (`insert_later`); else added to the session."""
    found = chunk_memo(session)
    if found is None:
        session.add(model(**values))
    else:
        found.setdefault(_LATER, {}).setdefault(model, []).append(values)


def insert_later(session: Session) -> None:
    """The chunk's `add_later` rows, one INSERT (executemany) per model."""
    found = chunk_memo(session) or {}
    for model, rows in found.pop(_LATER, {}).items():
        session.execute(insert(model), rows)


_LATER = object()
