"""The sweeper and an outbox row's due time: a re-scheduled effect (a retry, a WeCom rate limit) is left
to RQ until it is due, and enqueued by the sweeper once it is overdue and still pending."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from jobs.maintenance import sweep
from models import App, Customer, Outbox
from models.db import utcnow
from support import CORP_ID


def pending_sync(runtime, due_in: float) -> int:  # type: ignore[no-untyped-def]
    with runtime.WriteSession.begin() as s:
        row = Outbox(key="sync:wmCustomer0001", corp_id=CORP_ID, job="sync_customer",
                     args={"app_pk": s.scalar(select(App.id)), "external_userid": "wmCustomer0001"},
                     created_at=utcnow() - dt.timedelta(minutes=10),
                     next_attempt_at=utcnow() + dt.timedelta(seconds=due_in))
        s.add(row)
        s.flush()
        return row.id


def test_a_row_not_yet_due_is_left_alone(runtime, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    pending_sync(runtime, due_in=60)
    assert sweep(older_than=0) == {"inbox": 0, "outbox": 0}
    assert fake_wecom.calls("externalcontact/get") == []
    with runtime.Session() as s:
        assert s.scalar(select(Outbox.status)) == "pending"


def test_an_overdue_row_is_enqueued_and_its_effect_runs(runtime, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    pending_sync(runtime, due_in=-30)
    assert sweep(older_than=60) == {"inbox": 0, "outbox": 0}  # due, but not yet `older_than` past it
    assert sweep(older_than=10) == {"inbox": 0, "outbox": 1}
    assert len(fake_wecom.calls("externalcontact/get")) == 1
    with runtime.Session() as s:
        assert s.scalar(select(Outbox.status)) == "done"
        assert s.scalar(select(Customer.name)) == "王小明😀"
