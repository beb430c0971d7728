"""A follow-up task (every N days per customer) covers the customers its members add after it was created:
the add callback starts the cycle, for the task's members and departments only (a running task, not one
ended), a re-add after the relation ended restarts it, and the cycle's end reminds the member on the fake
WeCom. World: tests/unit/test_tasks.py's (zhangsan in 一组 under 销售部, lisi in 销售部)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update

from jobs.tasks import cycles_due
from models import Customer, FollowUpCycle, Task
from support import CORP_ID
from test_tasks import create, sent, world  # noqa: F401  (the fixture)

ADD = "change_external_contact/add_external_contact"
LOST = "change_external_contact/del_follow_user"


def cycles(runtime: Any, external_userid: str) -> dict[tuple[int, str], dt.datetime | None]:
    with runtime.Session() as s:
        return {(t, u): due for t, u, due in s.execute(
            select(FollowUpCycle.task_id, FollowUpCycle.userid, FollowUpCycle.due_at)
            .join(Customer, Customer.id == FollowUpCycle.customer_id).where(Customer.external_userid == external_userid))}


def test_a_customer_added_later_gets_a_cycle_in_the_tasks_that_target_the_member(  # type: ignore[no-untyped-def]
        client, runtime, sender, fake_wecom, world) -> None:  # noqa: F811
    dept = create(client, world["admin"], name="销售部三天一跟进", dept_ids=[1], every_days=3)
    lisi_only = create(client, world["admin"], name="李四五天一跟进", userids=["lisi"], every_days=5)
    ended = create(client, world["admin"], name="已结束", userids=["zhangsan"], every_days=2)
    assert client.post(f"/api/v1/tasks/{ended['id']}/end", headers=world["admin"]).status_code == 200
    before = client.get(f"/api/v1/tasks/{dept['id']}", headers=world["admin"]).get_json()["follow_up_customers"]

    assert sender.post(ADD, ExternalUserID="wmNewcomer", UserID="zhangsan").status_code == 200
    found = cycles(runtime, "wmNewcomer")
    assert list(found) == [(dept["id"], "zhangsan")]  # not lisi's task, not the ended one
    due = found[(dept["id"], "zhangsan")]
    assert due is not None and dt.timedelta(days=3) - dt.timedelta(minutes=5) < due - dt.datetime.now(dt.UTC) \
        <= dt.timedelta(days=3)
    assert client.get(f"/api/v1/tasks/{dept['id']}", headers=world["admin"]).get_json()["follow_up_customers"] \
        == before + 1
    assert sender.post(ADD, ExternalUserID="wmNewcomer", UserID="zhangsan").status_code == 200  # a replay
    assert cycles(runtime, "wmNewcomer") == found

    fake_wecom.clear_calls()
    assert cycles_due(due + dt.timedelta(minutes=1)) >= 1
    assert any(to == "zhangsan" and "已3天未跟进" in text for to, text in sent(fake_wecom))
    assert lisi_only["follow_up_customers"] == 2


def test_a_re_add_restarts_the_stopped_cycle_and_another_corps_task_is_untouched(  # type: ignore[no-untyped-def]
        client, runtime, sender, world) -> None:  # noqa: F811
    task = create(client, world["admin"], name="两天一跟进", userids=["zhangsan"], every_days=2)
    clock = iter(range(int(dt.datetime.now(dt.UTC).timestamp()) - 60, 2**31))

    def post(name: str) -> None:  # each event a second after the last: a re-add comes after the loss
        assert sender.post(name, ExternalUserID="wmBack", UserID="zhangsan", CreateTime=next(clock)).status_code == 200

    post(ADD)
    post(LOST)
    with runtime.WriteSession.begin() as s:  # the tick found the relation ended and stopped the cycle
        s.execute(update(FollowUpCycle).values(due_at=None))
        s.execute(update(Task).where(Task.id == task["id"]).values(corp_id="wwothercorp00001"))
    post(ADD)
    assert cycles(runtime, "wmBack") == {(task["id"], "zhangsan"): None}  # the task is another corp's now
    with runtime.WriteSession.begin() as s:
        s.execute(update(Task).where(Task.id == task["id"]).values(corp_id=CORP_ID))
    post(LOST)
    post(ADD)
    [due] = cycles(runtime, "wmBack").values()
    assert due is not None and due > dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
