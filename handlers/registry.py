"""Routing key → handler functions, and the context a handler works in.

Registration is a decorator (`@on("change_external_contact/add_external_contact")`), dispatch runs every
handler of a key inside the caller's transaction. A handler never talks HTTP: what it wants done outside
the DB it writes to the outbox through `ctx.outbox(...)`, and the job layer runs it after commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Outbox, OutboxStatus
from wecom.events import Event


@dataclass
class HandlerContext:
    session: Session
    corp_id: str
    app_pk: int
    inbox_id: int | None = None
    pending_outbox: list[Outbox] = field(default_factory=list)
    first_attempt: bool = False
    """The inbox row had never been dispatched before (attempts was 0): its dispatch commits with the row's
    attempt count, so nothing keyed by this event (its outbox rows, its timeline entries, its welcome log)
    can exist yet, and handlers may add those rows without looking for them first."""

    def outbox(self, job: str, args: dict[str, Any], key: str, queue: str = "outbound",
               fresh: bool = False) -> Outbox:
        """Record an effect to run after commit. `key` makes it once-only: a handler that runs again
        for the same event finds its row instead of adding a second one. `fresh` skips that lookup where
        the key cannot exist yet (it names something first stored in this very transaction); the unique
        key still refuses a second row if that were ever wrong. A fresh row is inserted with the next
        flush, with the transaction's other rows (a kf page's answers: one flush, not one per answer), so
        it has no id until then."""
        row = None if fresh else self.session.scalar(select(Outbox).where(Outbox.key == key))
        if row is None:
            row = Outbox(
                key=key, corp_id=self.corp_id, job=job, args=args, queue=queue, inbox_id=self.inbox_id,
                status=OutboxStatus.pending.value,
            )
            self.session.add(row)
            if not fresh:
                self.session.flush()
        if row.status == OutboxStatus.pending.value:
            self.pending_outbox.append(row)
        return row


Handler = Callable[[HandlerContext, Event], None]
Preparer = Callable[[Session, list[tuple[str, Event]]], None]
E = TypeVar("E", bound=Event)
_HANDLERS: dict[str, list[Handler]] = {}
_PREPARERS: dict[str, list[Preparer]] = {}


def on(*routing_keys: str) -> Callable[[Callable[[HandlerContext, E], None]], Callable[[HandlerContext, E], None]]:
    """Register a handler for `routing_keys`; it takes the event class those keys parse to (`E`)."""
    def register(fn: Callable[[HandlerContext, E], None]) -> Callable[[HandlerContext, E], None]:
        for key in routing_keys:
            _HANDLERS.setdefault(key, []).append(fn)  # type: ignore[arg-type]  # the key decides the event class
        return fn

    return register


def prepares(*routing_keys: str) -> Callable[[Callable[[Session, list[tuple[str, E]]], None]],
                                              Callable[[Session, list[tuple[str, E]]], None]]:
    """Register a hook that loads, in a few statements, what the handlers of `routing_keys` will look up
    for a whole chunk of such events (`prepare`), into the chunk's memo (models/chunk.py); it takes the
    event class those keys parse to (`E`), as handlers do."""
    def register(fn: Callable[[Session, list[tuple[str, E]]], None]) -> Callable[[Session, list[tuple[str, E]]], None]:
        for key in routing_keys:
            _PREPARERS.setdefault(key, []).append(fn)  # type: ignore[arg-type]  # the key decides the event class
        return fn

    return register


def prepare(session: Session, events: list[tuple[str, Event]]) -> None:
    """Run each registered hook once, on the chunk's (corp id, event) pairs of its keys (the corp the inbox
    row was stored for, which handlers scope by), before they are dispatched."""
    by_hook: dict[Preparer, list[tuple[str, Event]]] = {}
    for corp_id, event in events:
        for hook in _PREPARERS.get(event.routing_key, []):
            by_hook.setdefault(hook, []).append((corp_id, event))
    for hook, mine in by_hook.items():
        hook(session, mine)


def handled_keys() -> frozenset[str]:
    return frozenset(_HANDLERS)


def dispatch(ctx: HandlerContext, event: Event) -> bool:
    """Run every handler for the event's key; False when none is registered (the row is 'unhandled')."""
    handlers = _HANDLERS.get(event.routing_key, [])
    for handler in handlers:
        handler(ctx, event)
    return bool(handlers)
