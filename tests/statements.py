"""Counting the SQL statements a piece of work sends, for tests that pin a ceiling and benches that print
them: `with counted(engine) as log: ...` then `len(log)` or `log.by_verb()`."""

from __future__ import annotations

import collections
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


class StatementLog(list[str]):
    """The statements sent, in order (executemany counts once: it is one round trip's worth of work)."""

    def by_verb(self) -> dict[str, int]:
        """SELECT/INSERT/UPDATE/DELETE/SAVEPOINT/RELEASE … → how many."""
        return dict(collections.Counter(s.lstrip().split(None, 1)[0].upper() for s in self if s.strip()))


@contextmanager
def counted(engine: Engine) -> Iterator[StatementLog]:
    """Every statement any connection of `engine` sends inside the block (also SAVEPOINT and RELEASE, which
    SQLAlchemy sends through the same hook)."""
    log = StatementLog()

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        log.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield log
    finally:
        event.remove(engine, "before_cursor_execute", record)


@contextmanager
def commits(engine: Engine) -> Iterator[list[int]]:
    """How many transactions any connection of `engine` commits inside the block (`len()` of the list): on
    SQLite each holds the one write lock while it lasts."""
    log: list[int] = []

    def record(_conn: Any) -> None:
        log.append(1)

    event.listen(engine, "commit", record)
    try:
        yield log
    finally:
        event.remove(engine, "commit", record)


# -- statements per event kind, through the chunk processing the workers run ---------------------------

CENSUS_KINDS: dict[str, dict[str, Any]] = {
    "change_external_contact/add_external_contact": {"State": "", "WelcomeCode": "WELCOME-census-{tag}-{i}"},
    "change_external_contact/edit_external_contact": {},
    "change_external_contact/del_follow_user": {},
    "change_external_tag/create": {"Id": "etCensus{tag}{i:06d}"},
    "change_external_chat/update": {"ChatId": "wrCensus{tag}{i:06d}"},
    "kf_msg_or_event": {"Token": "ENCcensus{tag}{i:06d}"},
}
"""The kinds the ingress bench mixes, with the fields that make each callback its own."""


def census(write_session: Any, app_pk: int, corp_id: str, kinds: list[str] | None = None, per_chunk: int = 20,
           tag: str = "c", users: tuple[str, ...] = ("zhangsan",)) -> dict[str, float]:
    """Statements per event of each kind: `per_chunk` fresh callbacks of the kind stored `received` and
    processed as one process_inbox chunk (jobs.events.process_chunk) in one transaction of
    `write_session` (a writer sessionmaker), counted from the chunk's locking read to its commit. Contact
    events name new customers (adds) or the customers the adds of this census stored (edits, deletions),
    served by `users` in turn. The outbox rows planned are left pending (nothing is delivered)."""
    from jobs.events import process_chunk
    from models import Inbox
    from wecom.fake.sender import render_sample

    out: dict[str, float] = {}
    for kind in kinds or list(CENSUS_KINDS):
        rows = []
        for i in range(per_chunk):
            fields = {k: v.format(i=i, tag=tag) for k, v in CENSUS_KINDS[kind].items()}
            if kind.startswith("change_external_contact/"):
                fields.update(UserID=users[i % len(users)], ExternalUserID=f"wm{tag}Census{i:06d}")
            xml = render_sample(kind, corp_id=corp_id, **fields)
            rows.append(Inbox(app_pk=app_pk, corp_id=corp_id, dedup_key=f"census-{tag}-{kind}-{i}",
                              routing_key=kind, raw_xml=xml, status="received", attempts=0))
        with write_session.begin() as s:
            s.add_all(rows)
            s.flush()
            ids = [row.id for row in rows]
        engine = write_session.kw["bind"]
        with counted(engine) as log, write_session.begin() as s:
            found, taken, _pending = process_chunk(s, ids, budget=3600.0)
            assert taken == len(found) == per_chunk, (kind, taken, len(found))
        out[kind] = len(log) / per_chunk
    return out
