"""WeCom's rate limit stops a batch of outbox rows (jobs/outbound.py `deliver_here`, jobs/rate_limits.py):
after the first 45009 of an effect, the batch's other rows of that effect are not called (each call into
WeCom's block is refused and counted, which keeps the block going) but wait for the block's end with no
attempt counted; a row delivered on its own meanwhile waits too."""

from __future__ import annotations

from sqlalchemy import select

from jobs.outbound import deliver_here, deliver_outbox
from models import App, Outbox
from models.db import utcnow
from support import CORP_ID


def pending_syncs(runtime, customers: list[str]) -> list[int]:  # type: ignore[no-untyped-def]
    with runtime.WriteSession.begin() as s:
        app_pk = s.scalar(select(App.id))
        rows = [Outbox(key=f"sync:{c}", corp_id=CORP_ID, job="sync_customer",
                       args={"app_pk": app_pk, "external_userid": c}) for c in customers]
        s.add_all(rows)
        s.flush()
        return [row.id for row in rows]


def rows(runtime) -> list[tuple[str, int, bool]]:  # type: ignore[no-untyped-def]
    """(status, attempts, due later) of each row, in id order."""
    with runtime.Session() as s:
        return [(status, attempts, due is not None and due > utcnow()) for status, attempts, due in s.execute(
            select(Outbox.status, Outbox.attempts, Outbox.next_attempt_at).order_by(Outbox.id))]


def test_a_batch_stops_at_its_first_rate_limit_refusal(runtime, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    customers = ["wmCustomer0001", "wmCustomer0002", "wmCustomer0001x", "wmCustomer0002x"]
    ids = pending_syncs(runtime, customers)
    fake_wecom.fault("externalcontact/get", 45009, count=1)
    deliver_here([(outbox_id, "outbound") for outbox_id in ids])
    assert [c["errcode"] for c in fake_wecom.calls("externalcontact/get")] == [45009]  # the others not called
    # all wait for the block's end; only the refused row's call counts as an attempt
    assert rows(runtime) == [("pending", 1, True)] + [("pending", 0, True)] * 3
    assert deliver_outbox(ids[1]) == "deferred"  # on its own too: no call while the block lasts
    assert len(fake_wecom.calls("externalcontact/get")) == 1
    assert rows(runtime)[1] == ("pending", 0, True)


def test_other_effects_of_the_batch_go_on(runtime, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    [sync] = pending_syncs(runtime, ["wmCustomer0001"])
    with runtime.WriteSession.begin() as s:
        tags = Outbox(key="tags", corp_id=CORP_ID, job="sync_corp_tags", args={"app_pk": s.scalar(select(App.id))})
        s.add(tags)
        s.flush()
        tags_id = tags.id
    fake_wecom.fault("externalcontact/get", 45009, count=1)
    deliver_here([(sync, "outbound"), (tags_id, "outbound")])
    assert len(fake_wecom.calls("externalcontact/get_corp_tag_list")) == 1
    assert [status for status, _, _ in rows(runtime)] == ["pending", "done"]
