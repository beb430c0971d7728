"""An app message to more members than message/send takes (1,000 userids in touser, doc 90236) goes out in
calls of 1,000 (jobs/app_messages.py `sent_to_staff`): WeCom's per-member answer is kept (an unknown
member reported, the others sent), each call is in the notifications log, and a retry after a failure
part-way does not send again to the members a call already reached."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from jobs.queue import enqueue_outbox, replay_dead_letter
from jobs.tasks import notify
from models import DeadLetter, NotificationLog, Outbox
from models.corp import messaging_app
from wecom.client import WeComError
from support import CORP_ID

MEMBERS = [f"m{n:04d}" for n in range(2500)]
UNKNOWN = MEMBERS[1234]  # not in WeCom's directory


def remind_everyone(runtime, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    """A task reminder (jobs/tasks.py `notify`, what a task round sends) to 2,500 members, one unknown."""
    fake_wecom.seed({"users": [{"corpid": CORP_ID, "userid": m, "name": m, "department": [1], "status": 1}
                               for m in MEMBERS if m != UNKNOWN]})
    with runtime.WriteSession.begin() as s:
        pending = notify(s, CORP_ID, MEMBERS, "新任务「回访」", "task_round:test")
    enqueue_outbox(pending)  # inline: delivered now


def delivered(fake_wecom) -> list[str]:  # type: ignore[no-untyped-def]
    log = requests.get(f"{fake_wecom.url}/fake/app_messages", timeout=5).json()
    return [entry["userid"] for entry in log["delivered"]]


def logged(runtime) -> list[tuple[str, int, list[str]]]:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return [(row.status, row.recipients.count("|") - 1, row.invalid_users)
                for row in s.scalars(select(NotificationLog).order_by(NotificationLog.id))]


def test_a_reminder_to_2500_members_is_three_calls_and_the_unknown_member_is_reported(runtime, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    remind_everyone(runtime, fake_wecom)
    calls = fake_wecom.calls("message/send")
    assert [(c["errcode"], len(c["body"]["touser"].split("|"))) for c in calls] == [(0, 1000), (0, 1000), (0, 500)]
    assert sorted(delivered(fake_wecom)) == sorted(set(MEMBERS) - {UNKNOWN})
    with runtime.Session() as s:
        status, result = s.execute(select(Outbox.status, Outbox.result)).one()
    assert (status, result["invaliduser"]) == ("done", UNKNOWN)
    assert logged(runtime) == [("sent", 1000, []), ("partial", 1000, [UNKNOWN]), ("sent", 500, [])]


def test_a_retry_after_a_failed_call_sends_only_to_the_members_not_reached(runtime, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    # The first call goes through; WeCom is then busy for the second and the client's retries of it: the row
    # is dead-lettered (inline mode has no RQ retry) with the first 1,000 members reached.
    fake_wecom.fault("message/send", -1, count=4, after=1)
    remind_everyone(runtime, fake_wecom)
    with runtime.Session() as s:
        [dead] = s.scalars(select(DeadLetter.id)).all()
        assert s.scalar(select(Outbox.status)) == "failed"
    assert logged(runtime) == [("sent", 1000, [])]
    assert replay_dead_letter(dead) is not None
    calls = [(c["errcode"], len(c["body"]["touser"].split("|"))) for c in fake_wecom.calls("message/send")]
    assert calls == [(0, 1000)] + [(-1, 1000)] * 4 + [(0, 1000), (0, 500)]
    assert sorted(delivered(fake_wecom)) == sorted(set(MEMBERS) - {UNKNOWN})  # each member once
    with runtime.Session() as s:
        status, result = s.execute(select(Outbox.status, Outbox.result)).one()
    assert (status, result["invaliduser"]) == ("done", UNKNOWN)
    assert logged(runtime) == [("sent", 1000, []), ("partial", 1000, [UNKNOWN]), ("sent", 500, [])]


def test_the_fake_refuses_more_than_1000_members_in_one_call(runtime, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        app_pk, agent_id = messaging_app(s, CORP_ID) or (0, 0)
    with pytest.raises(WeComError) as refused:
        runtime.client_for_app(app_pk).send_app_message(agent_id, MEMBERS[:1001], "text", {"content": "x"})
    assert refused.value.errcode == 40032
    assert delivered(fake_wecom) == []


def test_a_call_whose_members_are_all_unknown_fails_alone(runtime, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    known = MEMBERS[:1000] + MEMBERS[2000:]  # the second call's 1,000 are all unknown: WeCom answers 81013
    fake_wecom.seed({"users": [{"corpid": CORP_ID, "userid": m, "name": m, "department": [1], "status": 1}
                               for m in known]})
    with runtime.WriteSession.begin() as s:
        pending = notify(s, CORP_ID, MEMBERS, "新任务「回访」", "task_round:test")
    enqueue_outbox(pending)
    assert [c["errcode"] for c in fake_wecom.calls("message/send")] == [0, 81013, 0]
    assert sorted(delivered(fake_wecom)) == sorted(known)
    with runtime.Session() as s:
        status, result = s.execute(select(Outbox.status, Outbox.result)).one()
    assert (status, result["invaliduser"].split("|")) == ("done", MEMBERS[1000:2000])
    assert [(status, count) for status, count, _ in logged(runtime)] == [("sent", 1000), ("failed", 1000), ("sent", 500)]
