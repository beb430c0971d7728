"""WeCom's daily figures synced into the statistics tables (jobs/stats_sync.py) from the fake WeCom over HTTP:
the corp's local yesterday, once per local day whatever the number of ticks and workers, not before 06:00, a
failed sync kept on its claim and taken over later; and the fake's own limits (wecom/fake/stats.py)."""

from __future__ import annotations

import datetime as dt

import pytest
import requests
from sqlalchemy import select

from jobs.stats_sync import STALE_SYNC, sync_corp
from models import App, Staff
from models.stats import BehaviorDay, GroupChatDay, StatsSync
from support import CORP_ID
from wecom.client import WeComError

BJ = dt.timezone(dt.timedelta(hours=8))
MAR2 = int(dt.datetime(2026, 3, 2, tzinfo=BJ).timestamp())  # 2026-03-02 00:00 Beijing
NOW = dt.datetime(2026, 3, 3, 7, 0, tzinfo=BJ)  # 07:00 on the 3rd: the 2nd is synced


@pytest.fixture
def seeded(runtime, fake_wecom):  # type: ignore[no-untyped-def]
    with runtime.WriteSession.begin() as s:
        s.add_all([Staff(corp_id=CORP_ID, userid="zhangsan", name="张三"),
                   Staff(corp_id=CORP_ID, userid="lisi", name="李四"),
                   Staff(corp_id=CORP_ID, userid="gone", name="离职", status="resigned")])
    requests.post(f"{fake_wecom.url}/fake/stats", timeout=5, json={"corpid": CORP_ID, "behavior": [
        {"userid": "zhangsan", "stat_time": MAR2, "chat_cnt": 3, "message_cnt": 9, "reply_percentage": 66.67,
         "avg_reply_time": 5, "new_apply_cnt": 2, "new_contact_cnt": 1, "negative_feedback_cnt": 1},
        {"userid": "zhangsan", "stat_time": MAR2 - 86400, "chat_cnt": 50},  # the 1st: not asked for
    ], "groupchat": [
        {"owner": "zhangsan", "stat_time": MAR2, "data": {"new_chat_cnt": 1, "chat_total": 4, "chat_has_msg": 2,
                                                         "new_member_cnt": 6, "member_total": 40,
                                                         "member_has_msg": 5, "msg_total": 30}},
        {"owner": "lisi", "stat_time": MAR2, "data": {"chat_total": 1, "member_total": 3}}]}).raise_for_status()
    fake_wecom.clear_calls()
    return fake_wecom


def test_the_corps_yesterday_is_synced_once(runtime, seeded) -> None:  # type: ignore[no-untyped-def]
    assert sync_corp(CORP_ID, NOW, runtime) == {"corp_id": CORP_ID, "day": "2026-03-02", "members": 2, "owners": 2}
    behavior = seeded.calls("externalcontact/get_user_behavior_data")
    assert [c["body"] for c in behavior] == [{"userid": [u], "start_time": MAR2, "end_time": MAR2}
                                            for u in ("lisi", "zhangsan")]  # active members, one a call
    groups = seeded.calls("externalcontact/groupchat/statistic")
    assert [c["body"]["owner_filter"] for c in groups] == [{"userid_list": ["lisi", "zhangsan"]}]
    with runtime.Session() as s:
        zhang = s.scalar(select(BehaviorDay).where(BehaviorDay.userid == "zhangsan"))
        assert (zhang.day, zhang.chat_cnt, zhang.message_cnt, zhang.reply_percentage, zhang.avg_reply_time,
                zhang.new_apply_cnt, zhang.new_contact_cnt, zhang.negative_feedback_cnt) == (
            dt.date(2026, 3, 2), 3, 9, 66.67, 5, 2, 1, 1)
        li = s.scalar(select(BehaviorDay).where(BehaviorDay.userid == "lisi"))
        assert (li.chat_cnt, li.reply_percentage, li.avg_reply_time) == (0, None, None)  # no chats: no averages
        owners = {g.owner: (g.day, g.chat_total, g.new_member_cnt, g.msg_total) for g in s.scalars(select(GroupChatDay))}
        assert owners == {"zhangsan": (dt.date(2026, 3, 2), 4, 6, 30), "lisi": (dt.date(2026, 3, 2), 1, 0, 0)}
    seeded.clear_calls()
    for later in (NOW + dt.timedelta(hours=1), NOW + dt.timedelta(hours=16)):  # later ticks of the same day
        assert sync_corp(CORP_ID, later, runtime) is None
    assert seeded.calls() == []
    with runtime.Session() as s:
        assert s.scalar(select(StatsSync.members)) == 2 and len(s.scalars(select(BehaviorDay)).all()) == 2


def test_nothing_before_six_in_the_morning_local_time(runtime, seeded) -> None:  # type: ignore[no-untyped-def]
    assert sync_corp(CORP_ID, dt.datetime(2026, 3, 3, 5, 59, tzinfo=BJ), runtime) is None
    assert seeded.calls() == []
    with runtime.Session() as s:
        assert s.scalar(select(StatsSync)) is None


def test_a_failed_sync_is_kept_and_taken_over_later(runtime, seeded) -> None:  # type: ignore[no-untyped-def]
    seeded.fault("externalcontact/groupchat/statistic", 60011, count=1)
    with pytest.raises(WeComError):
        sync_corp(CORP_ID, NOW, runtime)
    with runtime.Session() as s:
        claim = s.scalar(select(StatsSync))
        assert claim.finished_at is None and "60011" in claim.error
        assert s.scalar(select(BehaviorDay)) is None  # nothing half-written
    assert sync_corp(CORP_ID, NOW + dt.timedelta(minutes=10), runtime) is None  # not stale yet
    done = sync_corp(CORP_ID, NOW + STALE_SYNC + dt.timedelta(minutes=1), runtime)
    assert done is not None and done["members"] == 2
    with runtime.Session() as s:
        assert s.scalar(select(StatsSync.error)) == "" and len(s.scalars(select(GroupChatDay)).all()) == 2


def wecom(runtime):  # type: ignore[no-untyped-def]
    """The API client of the test corp's app, as the sync gets it."""
    with runtime.Session() as s:
        return runtime.client_for_app(s.scalar(select(App.id).where(App.slug == "default")))


@pytest.mark.parametrize(("path", "body"), [
    ("externalcontact/get_user_behavior_data", {"start_time": MAR2, "end_time": MAR2}),
    ("externalcontact/get_user_behavior_data", {"userid": ["u"] * 101, "start_time": MAR2, "end_time": MAR2}),
    ("externalcontact/get_user_behavior_data", {"userid": ["u"], "start_time": MAR2, "end_time": MAR2 + 30 * 86400}),
    ("externalcontact/groupchat/statistic", {"day_begin_time": MAR2, "limit": 1001}),
    ("externalcontact/groupchat/statistic", {"day_begin_time": MAR2, "order_by": 5}),
])
def test_the_fake_refuses_what_wecom_refuses(runtime, seeded, path, body) -> None:  # type: ignore[no-untyped-def]
    client = wecom(runtime)
    with pytest.raises(WeComError) as caught:
        client.post(path, data=body)
    assert caught.value.errcode == 40058


def test_the_fake_sums_days_and_owners(runtime, seeded) -> None:  # type: ignore[no-untyped-def]
    client = wecom(runtime)
    two = client.post("externalcontact/get_user_behavior_data", data=
                      {"userid": ["zhangsan", "lisi"], "start_time": MAR2 - 86400, "end_time": MAR2 + 3600})
    assert [(d["stat_time"], d["chat_cnt"]) for d in two["behavior_data"]] == [(MAR2 - 86400, 50), (MAR2, 3)]
    by_day = client.post("externalcontact/groupchat/statistic_group_by_day", data={"day_begin_time": MAR2})
    assert by_day["items"] == [{"stat_time": MAR2, "data": {
        "new_chat_cnt": 1, "chat_total": 5, "chat_has_msg": 2, "new_member_cnt": 6, "member_total": 43,
        "member_has_msg": 5, "msg_total": 30, "migrate_trainee_chat_cnt": 0}}]
    page = client.post("externalcontact/groupchat/statistic", data={"day_begin_time": MAR2, "order_by": 2, "limit": 1})
    assert (page["total"], page["next_offset"], page["items"][0]["owner"]) == (2, 1, "zhangsan")
