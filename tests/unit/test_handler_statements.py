"""Statements per event in a process_inbox chunk (issue 18, processing): the ceiling per add_external_contact
event, so a handler that starts querying per event again fails here before it shows in the bench."""

from __future__ import annotations

from sqlalchemy import select
from statements import census

from models import App, Inbox

ADD = "change_external_contact/add_external_contact"


def app_pk(runtime) -> int:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return s.scalars(select(App.id).order_by(App.id)).first()


def test_census(runtime) -> None:  # type: ignore[no-untyped-def]
    from support import CORP_ID
    print(census(runtime.WriteSession, app_pk(runtime), CORP_ID))
