"""The customer-contact path with jobs inline: channel-code routing, welcome outcomes, the end of a relation,
and the admin API around them. Callbacks are encrypted and posted as WeCom would; WeCom is the fake over HTTP.

The same path with real workers is in tests/integration/test_contact_lifecycle.py; this file holds the
branches that need no worker (inline jobs have no retries, so 41096 is tested there).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from contact_support import (ADD, ADD_HALF, DEL_BY_STAFF, LEFT, LOST, TEAM, TRANSFER_FAIL, add_fields, code_body,
                             contact_way, issue_welcome_code, scan, welcomes)
from models import (AuditLog, ChannelCode, ChannelDailyStat, Customer, CustomerEvent, DeadLetter, FollowRelation, Inbox,
                    Outbox, Staff,
                    WelcomeLog, WelcomeMessage)
from support import MISSING_ID


@pytest.fixture
def team(fake_wecom):  # type: ignore[no-untyped-def]
    fake_wecom.seed(TEAM)
    return fake_wecom


@pytest.fixture
def admin(make_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return make_token("super_admin")


def tag_pks(client, admin: dict[str, str]) -> list[int]:  # type: ignore[no-untyped-def]
    """Two tags created through the API (inline: add_corp_tag has run, they have WeCom ids)."""
    r = client.post("/api/v1/tag-groups", json={"name": "来源", "tags": [{"name": "展会"}, {"name": "官网"}]},
                    headers=admin)
    assert r.status_code == 202, r.get_json()
    group = client.get("/api/v1/tag-groups", headers=admin).get_json()["items"][0]
    assert not group["pending"]
    return [t["id"] for t in group["tags"]]


def make_code(client, admin: dict[str, str], **overrides: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/channel-codes", json={**code_body([], welcome=None), **overrides}, headers=admin)
    assert r.status_code == 202, r.get_json()
    [code] = r.get_json()["items"]
    assert code["config_id"], "create_contact_way ran inline"
    return code


def customer_scans(sender, fake, code: dict[str, Any], external_userid: str, name: str, **extra: Any) -> str:  # type: ignore[no-untyped-def]
    """Scan the code in the fake and post the add event WeCom sends; returns who got the customer."""
    hit = scan(fake, code["config_id"], external_userid, name)
    assert sender.post(ADD, **add_fields(hit, **extra)).status_code == 200
    return hit["userid"]


def code_row(runtime, code_id: int) -> ChannelCode:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        row = s.get(ChannelCode, code_id)
        s.expunge(row)
        return row


# -- routing ---------------------------------------------------------------------------------------------------
def test_each_add_hands_the_code_to_the_next_member(sender, team, client, admin) -> None:
    code = make_code(client, admin)
    assert customer_scans(sender, team, code, "wmR1", "一") == "zhangsan"
    assert contact_way(team, code["config_id"])["user"] == ["lisi"]
    assert customer_scans(sender, team, code, "wmR2", "二") == "lisi"
    assert contact_way(team, code["config_id"])["user"] == ["zhangsan"]


def test_round_robin_goes_on_after_whoever_got_the_customer(sender, runtime, team, client, admin) -> None:
    """Two customers scan before the first rewrite lands (both reach zhangsan): the code still moves on to
    lisi, not past her; at the daily limit zhangsan is skipped in his turn."""
    code = make_code(client, admin, members=["zhangsan", "lisi", "zhaoliu"], daily_limit=2)
    assert contact_way(team, code["config_id"])["user"] == ["zhangsan"]
    hits = [scan(team, code["config_id"], f"wmRace{i}", f"客户{i}") for i in range(2)]
    for hit in hits:
        sender.post(ADD, **add_fields(hit))
    assert [h["userid"] for h in hits] == ["zhangsan", "zhangsan"]
    assert contact_way(team, code["config_id"])["user"] == ["lisi"]
    assert customer_scans(sender, team, code, "wmC3", "客户3") == "lisi"
    assert customer_scans(sender, team, code, "wmC4", "客户4") == "zhaoliu"
    assert contact_way(team, code["config_id"])["user"] == ["lisi"]  # zhangsan's turn, but he has 2 today
    with runtime.Session() as s:
        adds = dict(s.execute(select(ChannelDailyStat.userid, ChannelDailyStat.adds)).all())
    assert adds == {"zhangsan": 2, "lisi": 1, "zhaoliu": 1}
    assert [c["body"]["user"] for c in team.calls("externalcontact/update_contact_way")] == [
        ["lisi"], ["zhaoliu"], ["lisi"]]


def test_overflow_keeps_the_first_member_until_the_limit(sender, team, client, admin) -> None:
    code = make_code(client, admin, members=["zhangsan", "lisi"], assign_mode="overflow", daily_limit=2)
    got = [customer_scans(sender, team, code, f"wmO{i}", f"客户{i}") for i in range(4)]
    assert got == ["zhangsan", "zhangsan", "lisi", "lisi"]
    assert contact_way(team, code["config_id"])["user"] == ["wangwu"]  # everyone full: the backup


def test_members_leaving_hand_the_code_to_the_backups_then_it_is_abnormal(sender, runtime, team, client,
                                                                          admin) -> None:
    code = make_code(client, admin)
    sender.post(LEFT, UserID="zhangsan")
    assert contact_way(team, code["config_id"])["user"] == ["lisi"]  # the current member left: next one
    sender.post(LEFT, UserID="lisi")
    assert contact_way(team, code["config_id"])["user"] == ["wangwu"]
    assert code_row(runtime, code["id"]).status == "normal"
    assert customer_scans(sender, team, code, "wmLate1", "晚到") == "wangwu"
    sender.post(LEFT, UserID="wangwu")
    assert code_row(runtime, code["id"]).status == "abnormal"
    assert client.get(f"/api/v1/channel-codes/{code['id']}", headers=admin).get_json()["status"] == "abnormal"
    assert len(team.calls("externalcontact/update_contact_way")) == 2  # nobody to route to: no rewrite


def test_a_member_who_comes_back_takes_the_code_back_from_the_backup(sender, runtime, team, client, admin) -> None:
    code = make_code(client, admin, members=["zhangsan"])
    sender.post(LEFT, UserID="zhangsan")
    assert contact_way(team, code["config_id"])["user"] == ["wangwu"]
    sender.post("change_contact/update_user", UserID="zhangsan", NewUserID="", Status=1)
    assert contact_way(team, code["config_id"])["user"] == ["zhangsan"]


def test_a_renamed_member_stays_on_the_code(sender, runtime, team, client, admin) -> None:
    code = make_code(client, admin)
    sender.post("change_contact/update_user", UserID="zhangsan", NewUserID="zhangsan2")
    row = client.get(f"/api/v1/channel-codes/{code['id']}", headers=admin).get_json()
    assert (row["members"], row["current_users"]) == (["zhangsan2", "lisi"], ["zhangsan2"])


def test_a_new_code_skips_members_who_left(sender, team, client, admin) -> None:
    sender.post(LEFT, UserID="zhangsan")
    code = make_code(client, admin)
    assert (code["current_users"], code["status"]) == (["lisi"], "normal")
    assert contact_way(team, code["config_id"])["user"] == ["lisi"]


def test_half_add_then_full_add_count_once(sender, runtime, team, client, admin) -> None:
    code = make_code(client, admin)
    hit = scan(team, code["config_id"], "wmHalf", "半")
    sender.post(ADD_HALF, **add_fields(hit, WelcomeCode=""))
    sender.post(ADD, **add_fields(hit, WelcomeCode=""))
    with runtime.Session() as s:
        assert s.scalar(select(ChannelDailyStat.adds)) == 1
    assert len(team.calls("externalcontact/update_contact_way")) == 1


# -- welcome outcomes --------------------------------------------------------------------------------------------
@pytest.fixture
def default_welcome(client, admin) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/welcome-messages", json={"text": "#nickname#，欢迎光临"}, headers=admin)
    assert r.status_code == 201
    return r.get_json()


def welcome_log(runtime) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return s.execute(select(WelcomeLog.welcome_code, WelcomeLog.status)).all()


def test_an_add_without_welcome_code_sends_nothing(sender, runtime, team, default_welcome) -> None:
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan", State="", WelcomeCode="")
    assert team.calls("externalcontact/send_welcome_msg") == []
    assert welcome_log(runtime) == []
    with runtime.Session() as s:
        assert s.scalars(select(Outbox.job)).all() == ["sync_customer"]


def test_no_welcome_configured_is_logged_as_skipped(sender, runtime, team) -> None:
    code = issue_welcome_code(team, "zhangsan", "wmCustomer0001")
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan", State="", WelcomeCode=code)
    assert welcome_log(runtime) == [(code, "skipped")]
    assert team.calls("externalcontact/send_welcome_msg") == []


def test_the_default_welcome_is_rendered_for_the_customer(sender, runtime, team, default_welcome) -> None:
    code = issue_welcome_code(team, "zhangsan", "wmCustomer0001")
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan", State="", WelcomeCode=code)
    [sent] = welcomes(team)
    assert (sent["code"], sent["text"]) == (code, {"content": "王小明😀，欢迎光临"})
    assert welcome_log(runtime) == [(code, "sent")]


def test_a_welcome_without_nickname_costs_no_profile_fetch_and_carries_its_attachments(
        sender, runtime, team, client, admin) -> None:
    link = client.post("/api/v1/materials", json={"kind": "link", "title": "产品手册",
                                                  "payload": {"url": "https://example.invalid/b"}}, headers=admin)
    assert link.status_code == 201
    r = client.post("/api/v1/welcome-messages", json={"scope": "staff", "userid": "zhangsan", "text": "欢迎",
                                                      "material_ids": [link.get_json()["id"]]}, headers=admin)
    assert r.status_code == 201
    code = issue_welcome_code(team, "zhangsan", "wmCustomer0001")
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan", State="", WelcomeCode=code)
    [sent] = welcomes(team)
    assert sent["text"] == {"content": "欢迎"}
    assert sent["attachments"] == [{"msgtype": "link", "link": {"title": "产品手册", "picurl": "", "desc": "",
                                                                 "url": "https://example.invalid/b"}}]
    assert len(team.calls("externalcontact/get")) == 1  # the profile sync only


def test_a_welcome_21_seconds_after_the_event_is_not_attempted(sender, runtime, team, default_welcome) -> None:
    code = issue_welcome_code(team, "zhangsan", "wmCustomer0001")
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan", State="", WelcomeCode=code,
                CreateTime=int(time.time()) - 21)
    assert team.calls("externalcontact/send_welcome_msg") == []
    assert welcome_log(runtime) == [(code, "missed")]
    assert len(team.calls("externalcontact/get")) == 1  # the profile sync, not the welcome


@pytest.mark.parametrize("errcode, status", [(41051, "chat_started"), (41050, "missed")])
def test_used_or_expired_codes_are_final_and_logged(sender, runtime, team, default_welcome, errcode,
                                                    status) -> None:
    code = issue_welcome_code(team, "zhangsan", "wmCustomer0001")
    team.fault("externalcontact/send_welcome_msg", errcode)
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan", State="", WelcomeCode=code)
    assert [c["errcode"] for c in team.calls("externalcontact/send_welcome_msg")] == [errcode]
    assert welcome_log(runtime) == [(code, status)]
    with runtime.Session() as s:
        assert s.scalar(select(Outbox.status).where(Outbox.job == "send_welcome")) == "done"
        assert s.scalar(select(func.count()).select_from(DeadLetter)) == 0


def test_wecom_busy_until_the_window_closes_is_a_miss_not_a_dead_letter(sender, runtime, team,
                                                                          default_welcome) -> None:
    code = issue_welcome_code(team, "zhangsan", "wmCustomer0001")
    requests.post(f"{team.url}/fake/faults", json={"path": "externalcontact/send_welcome_msg", "errcode": 41096,
                                                   "delay": 2.5}, timeout=5).raise_for_status()
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan", State="", WelcomeCode=code,
                CreateTime=int(time.time()) - 18)  # the window closes 1-2 s from now, while WeCom stalls
    assert [c["errcode"] for c in team.calls("externalcontact/send_welcome_msg")] == [41096]
    assert welcome_log(runtime) == [(code, "missed")]
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(DeadLetter)) == 0


def test_a_rejected_welcome_is_logged_failed_and_dead_lettered(sender, runtime, team, default_welcome) -> None:
    code = issue_welcome_code(team, "zhangsan", "wmCustomer0001")
    team.fault("externalcontact/send_welcome_msg", 40058)
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan", State="", WelcomeCode=code)
    assert welcome_log(runtime) == [(code, "failed")]
    with runtime.Session() as s:
        assert s.scalar(select(Outbox.status).where(Outbox.job == "send_welcome")) == "failed"
        assert "40058" in s.scalar(select(DeadLetter.error))


# -- the end of a relation ---------------------------------------------------------------------------------------
def relation(runtime, external_userid: str, userid: str) -> FollowRelation:  # type: ignore[no-untyped-def]
    from models import Customer

    with runtime.Session() as s:
        row = s.scalar(select(FollowRelation).join(Customer).where(
            Customer.external_userid == external_userid, FollowRelation.userid == userid))
        s.expunge(row)
        return row


def recipients(fake) -> list[str]:  # type: ignore[no-untyped-def]
    return [c["body"]["touser"] for c in fake.calls("message/send")]


@pytest.mark.parametrize("setting, manager_left, expected", [
    (False, False, "zhangsan"), (True, False, "zhangsan|boss"), (True, True, "zhangsan"),
])
def test_a_lost_customer_is_told_to_the_member_and_their_manager_if_set(
        sender, runtime, team, client, admin, setting, manager_left, expected) -> None:
    assert client.patch("/api/v1/settings", json={"notify_manager_on_loss": setting},
                        headers=admin).status_code == 200
    if manager_left:
        sender.post(LEFT, UserID="boss")
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan", WelcomeCode="")
    sender.post(LOST, ExternalUserID="wmCustomer0001", UserID="zhangsan")
    assert recipients(team) == [expected]
    [call] = team.calls("message/send")
    assert "王小明😀" in call["body"]["text"]["content"] and "张三" in call["body"]["text"]["content"]
    assert relation(runtime, "wmCustomer0001", "zhangsan").status == "deleted_by_customer"


@pytest.mark.parametrize("source, status", [("DELETE_BY_TRANSFER", "transferred"), ("", "deleted_by_staff")])
def test_a_member_deleting_the_customer_is_no_loss_notification(sender, runtime, team, source, status) -> None:
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan", WelcomeCode="")
    sender.post(DEL_BY_STAFF, ExternalUserID="wmCustomer0001", UserID="zhangsan", Source=source)
    assert relation(runtime, "wmCustomer0001", "zhangsan").status == status
    assert team.calls("message/send") == []


def test_transfer_fail_marks_the_relation_being_handed_over(sender, runtime, team) -> None:
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan", WelcomeCode="")
    sender.post(LEFT, UserID="zhangsan")
    assert relation(runtime, "wmCustomer0001", "zhangsan").inherit_status == "to_inherit"
    sender.post(TRANSFER_FAIL, ExternalUserID="wmCustomer0001", UserID="lisi", FailReason="customer_refused")
    follow = relation(runtime, "wmCustomer0001", "zhangsan")
    assert (follow.inherit_status, follow.transfer_fail_reason) == ("failed", "customer_refused")


def test_replaying_a_stream_keeps_a_lost_customer_lost(sender, runtime, team, client, admin) -> None:
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan", WelcomeCode="",
                CreateTime=int(time.time()) - 60)
    sender.post(LOST, ExternalUserID="wmCustomer0001", UserID="zhangsan")
    sender.post(ADD, ExternalUserID="wmCustomer0002", UserID="lisi", WelcomeCode="")
    sender.post(TRANSFER_FAIL, ExternalUserID="wmCustomer0002", UserID="zhangsan", FailReason="customer_refused")
    calls = len(team.calls())
    with runtime.Session() as s:
        ids = s.scalars(select(Inbox.id).order_by(Inbox.id)).all()
    for _ in range(2):
        for inbox_id in ids:
            assert client.post(f"/api/v1/events/{inbox_id}/replay", headers=admin).status_code == 202
    follow = relation(runtime, "wmCustomer0001", "zhangsan")
    assert follow.status == "deleted_by_customer"
    assert relation(runtime, "wmCustomer0002", "lisi").inherit_status == ""
    assert len(team.calls()) == calls


def test_a_re_add_after_a_loss_brings_the_relation_back(sender, runtime, team) -> None:
    now = int(time.time())
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan", WelcomeCode="", CreateTime=now - 60)
    sender.post(LOST, ExternalUserID="wmCustomer0001", UserID="zhangsan", CreateTime=now - 30)
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan", WelcomeCode="", State="again",
                CreateTime=now)
    follow = relation(runtime, "wmCustomer0001", "zhangsan")
    assert (follow.status, follow.status_changed_at) == ("active", dt.datetime.fromtimestamp(now, dt.UTC))


# -- admin API ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("change, field", [
    ({"kind": "triple"}, "kind"),
    ({"members": []}, "members"),
    ({"backups": []}, "backups"),
    ({"kind": "single"}, "members"),
    ({"scene": "场" * 31}, "scene"),
    ({"daily_limit": 0}, "daily_limit"),
    ({"assign_mode": "random"}, "assign_mode"),
    ({"members": [f"u{i}" for i in range(101)]}, "members"),
    ({"welcome": {"text": "字" * 101}}, "text"),
    ({"channel": ""}, "channel"),
    ({"members": "zhangsan"}, "members"),
    ({"backups": [1]}, "backups"),
    ({"departments": ["销售部"]}, "departments"),
    ({"tag_ids": "1"}, "tag_ids"),
    ({"welcome": "你好"}, "welcome"),
    ({"welcome": {"text": "x", "material_ids": [42]}}, "material_ids"),
])
def test_a_bad_channel_code_is_refused_and_changes_nothing(runtime, team, client, admin, change, field) -> None:
    r = client.post("/api/v1/channel-codes", json={**code_body([]), **change}, headers=admin)
    assert r.status_code == 422
    assert field in r.get_json()["error"]["fields"]
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(ChannelCode)) == 0
        assert s.scalar(select(func.count()).select_from(Outbox)) == 0
    assert team.calls("externalcontact/add_contact_way") == []


def test_a_code_with_an_unknown_or_pending_tag_is_refused(runtime, team, client, admin) -> None:
    team.fault("externalcontact/add_corp_tag", -1, count=10)  # WeCom busy: the new tags stay pending
    client.post("/api/v1/tag-groups", json={"name": "来源", "tags": [{"name": "展会"}]}, headers=admin)
    pending = client.get("/api/v1/tag-groups", headers=admin).get_json()["items"][0]
    assert pending["pending"]
    for tag_ids in ([MISSING_ID], [pending["tags"][0]["id"]]):
        r = client.post("/api/v1/channel-codes", json=code_body(tag_ids), headers=admin)
        assert (r.status_code, r.get_json()["error"]["fields"]) == (422, {"tag_ids": "every tag must exist in WeCom"})
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(ChannelCode)) == 0


def test_a_tag_deleted_after_the_code_was_made_is_not_applied(sender, runtime, team, client, admin) -> None:
    tags = tag_pks(client, admin)
    code = make_code(client, admin, tag_ids=tags)
    assert client.delete(f"/api/v1/tags/{tags[0]}", headers=admin).status_code == 202
    customer_scans(sender, team, code, "wmT", "标签客户")
    [mark] = team.calls("externalcontact/mark_tag")
    assert (mark["errcode"], mark["body"]["add_tag"]) == (0, [code["tag_ids"][1]])


def test_a_single_code_routes_to_one_backup_when_its_member_leaves(sender, team, client, admin) -> None:
    r = client.post("/api/v1/channel-codes", json=code_body([], kind="single", members=["zhangsan"],
                                                            backups=["wangwu", "zhaoliu"]), headers=admin)
    [code] = r.get_json()["items"]
    sender.post(LEFT, UserID="zhangsan")
    [update] = team.calls("externalcontact/update_contact_way")
    assert (update["errcode"], update["body"]["user"]) == (0, ["wangwu"])


def test_a_batch_makes_one_single_code_per_member_with_its_tags_and_welcome(runtime, team, client, admin) -> None:
    tags = tag_pks(client, admin)
    r = client.post("/api/v1/channel-codes", json=code_body(tags, kind="batch_single"), headers=admin)
    assert r.status_code == 202
    items = r.get_json()["items"]
    assert [(c["kind"], c["members"], c["backups"]) for c in items] == [
        ("single", ["zhangsan"], ["wangwu"]), ("single", ["lisi"], ["wangwu"])]
    ways = team.calls("externalcontact/add_contact_way")
    assert [(w["body"]["type"], w["body"]["user"], w["body"]["state"]) for w in ways] == [
        (1, ["zhangsan"], items[0]["state"]), (1, ["lisi"], items[1]["state"])]
    with runtime.Session() as s:
        assert sorted(s.scalars(select(WelcomeMessage.code_id))) == [c["id"] for c in items]
        assert s.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "channel_code.create")) == 2


def test_members_cannot_manage_codes_and_deleting_removes_the_way(team, client, admin, make_token) -> None:
    member = make_token("member", userid="zhangsan")
    assert client.post("/api/v1/channel-codes", json=code_body([]), headers=member).status_code == 403
    code = make_code(client, admin)
    assert client.delete(f"/api/v1/channel-codes/{code['id']}", headers=admin).status_code == 202
    assert [c["body"] for c in team.calls("externalcontact/del_contact_way")] == [{"config_id": code["config_id"]}]
    assert client.get(f"/api/v1/channel-codes/{code['id']}", headers=admin).status_code == 404
    assert client.delete(f"/api/v1/channel-codes/{code['id']}", headers=admin).status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"text": ""}, "text"),
    ({"scope": "code", "text": "x"}, "scope"),
    ({"scope": "staff", "text": "x"}, "userid"),
    ({"text": "x", "start_minute": 60}, "start_minute"),
    ({"text": "x", "start_minute": 60, "end_minute": 1440}, "end_minute"),
    ({"text": "x", "start_minute": 60, "end_minute": 60}, "start_minute"),
    ({"text": 5}, "text"),
    ({"text": "x", "material_ids": "1"}, "material_ids"),
])
def test_a_bad_welcome_is_refused(runtime, team, client, admin, body, field) -> None:
    r = client.post("/api/v1/welcome-messages", json=body, headers=admin)
    assert r.status_code == 422 and field in r.get_json()["error"]["fields"]
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(WelcomeMessage)) == 0


def test_a_welcome_with_an_unknown_material_is_refused(team, client, admin) -> None:
    r = client.post("/api/v1/welcome-messages", json={"text": "x", "material_ids": [42]}, headers=admin)
    assert (r.status_code, r.get_json()["error"]["fields"]) == (
        422, {"material_ids": "every material must exist and be an image, link or mini-program"})


@pytest.mark.parametrize("body, field", [
    ({"kind": "video", "payload": {}}, "kind"),
    ({"kind": "link", "payload": {}}, "payload"),
    ({"kind": "miniprogram", "payload": {"appid": "wx1"}}, "payload"),
    ({"kind": "link", "payload": "https://example.invalid"}, "payload"),
])
def test_a_bad_material_is_refused(team, client, admin, body, field) -> None:
    r = client.post("/api/v1/materials", json=body, headers=admin)
    assert r.status_code == 422 and field in r.get_json()["error"]["fields"]


@pytest.mark.parametrize("body, field", [
    ({"notify_manager_on_loss": "yes"}, "notify_manager_on_loss"),
    ({"recycle_retention_days": 0}, "recycle_retention_days"),
    ({"recycle_retention_days": True}, "recycle_retention_days"),
    ({"colour": "red"}, "colour"),
])
def test_bad_settings_are_refused_and_change_nothing(team, client, admin, body, field) -> None:
    r = client.patch("/api/v1/settings", json=body, headers=admin)
    assert r.status_code == 422 and field in r.get_json()["error"]["fields"]
    assert client.get("/api/v1/settings", headers=admin).get_json()["notify_manager_on_loss"] is False


def test_only_a_super_admin_changes_settings(team, client, make_token) -> None:
    r = client.patch("/api/v1/settings", json={"notify_manager_on_loss": True}, headers=make_token("admin"))
    assert r.status_code == 403


def test_staff_synced_by_the_add_know_their_manager(sender, runtime, team) -> None:
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan", WelcomeCode="")
    with runtime.Session() as s:
        assert s.scalar(select(Staff.manager_userid).where(Staff.userid == "zhangsan")) == "boss"


def test_editing_a_code_rewrites_it_in_wecom(sender, runtime, team, client, admin) -> None:
    code = make_code(client, admin)
    r = client.patch(f"/api/v1/channel-codes/{code['id']}", headers=admin, json={
        "members": ["lisi", "zhaoliu"], "remark": "新备注", "accept_policy": "manual",
        "welcome": {"text": "新的欢迎 #nickname#"}})
    assert r.status_code == 202, r.get_json()
    assert (r.get_json()["members"], r.get_json()["current_users"]) == (["lisi", "zhaoliu"], ["lisi"])
    [update] = team.calls("externalcontact/update_contact_way")
    assert {k: update["body"][k] for k in ("user", "remark", "skip_verify")} == {
        "user": ["lisi"], "remark": "新备注", "skip_verify": False}
    hit = scan(team, code["config_id"], "wmEdit", "李雷")
    sender.post(ADD, **add_fields(hit))
    assert [w["text"]["content"] for w in welcomes(team)] == ["新的欢迎 李雷"]


def test_a_settings_only_edit_still_reaches_wecom_and_a_bad_edit_changes_nothing(team, client, admin) -> None:
    code = make_code(client, admin)
    assert client.patch(f"/api/v1/channel-codes/{code['id']}", json={"remark": "只改备注"},
                        headers=admin).status_code == 202
    assert [c["body"]["remark"] for c in team.calls("externalcontact/update_contact_way")] == ["只改备注"]
    for body, field in (({"kind": "single"}, "kind"), ({"members": []}, "members"), ({"daily_limit": -1},
                                                                                     "daily_limit")):
        r = client.patch(f"/api/v1/channel-codes/{code['id']}", json=body, headers=admin)
        assert r.status_code == 422 and field in r.get_json()["error"]["fields"]
    after = client.get(f"/api/v1/channel-codes/{code['id']}", headers=admin).get_json()
    assert (after["members"], after["daily_limit"], after["remark"]) == (["zhangsan", "lisi"], None, "只改备注")
    assert len(team.calls("externalcontact/update_contact_way")) == 1
    assert client.patch(f"/api/v1/channel-codes/{MISSING_ID}", json={}, headers=admin).status_code == 404


def test_a_deleted_welcome_is_no_longer_sent(sender, runtime, team, client, admin, default_welcome) -> None:
    assert client.delete(f"/api/v1/welcome-messages/{default_welcome['id']}", headers=admin).status_code == 200
    assert client.get("/api/v1/welcome-messages", headers=admin).get_json()["items"] == []
    code = issue_welcome_code(team, "zhangsan", "wmCustomer0001")
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan", State="", WelcomeCode=code)
    assert welcome_log(runtime) == [(code, "skipped")]
    assert client.delete(f"/api/v1/welcome-messages/{default_welcome['id']}", headers=admin).status_code == 404


def test_a_new_day_gives_the_code_back_to_its_members(sender, runtime, team, client, admin) -> None:
    from jobs.channels import reroute_codes_job

    code = make_code(client, admin, members=["zhangsan"], daily_limit=1)
    yesterday = int(time.time()) - 86400
    hit = scan(team, code["config_id"], "wmY", "昨天的客户")
    sender.post(ADD, **add_fields(hit, CreateTime=yesterday))  # counted on yesterday: the limit was reached then
    assert contact_way(team, code["config_id"])["user"] == ["wangwu"]
    assert reroute_codes_job() == 1
    assert contact_way(team, code["config_id"])["user"] == ["zhangsan"]
    assert reroute_codes_job() == 0  # routed to its member: nothing to do


def test_queued_rewrites_of_one_code_collapse_into_the_last(runtime, team, client, admin) -> None:
    from handlers.registry import HandlerContext
    from jobs.outbound import deliver_outbox

    code = make_code(client, admin)
    with runtime.WriteSession.begin() as s:
        ctx = HandlerContext(session=s, corp_id=code["corp_id"], app_pk=s.get(ChannelCode, code["id"]).app_pk)
        rows = [ctx.outbox("update_contact_way", {"app_pk": ctx.app_pk, "code_id": code["id"]},
                           key=f"rotate:{code['id']}:backlog-{i}").id for i in range(3)]
    assert [deliver_outbox(i) for i in rows] == ["done", "done", "done"]
    assert len(team.calls("externalcontact/update_contact_way")) == 1
    with runtime.Session() as s:
        assert [s.get(Outbox, i).result for i in rows[:2]] == [{"superseded_by": rows[1]}, {"superseded_by": rows[2]}]


def test_a_member_resigned_by_a_full_sync_loses_the_code_at_the_next_tick(sender, runtime, team, client,
                                                                          admin) -> None:
    from jobs.channels import reroute_codes_job

    code = make_code(client, admin)
    team.seed({"departments": [{"corpid": code["corp_id"], "id": 1, "name": "总部", "parentid": 0}],
               "users": [{**TEAM["users"][0], "status": 5}]})  # zhangsan has left (WeCom status 5)
    assert client.post("/api/v1/directory/sync", json={}, headers=admin).status_code == 202
    with runtime.Session() as s:
        assert s.scalar(select(Staff.status).where(Staff.userid == "zhangsan")) == "resigned"
    assert contact_way(team, code["config_id"])["user"] == ["zhangsan"]  # the sync itself does not re-route
    assert reroute_codes_job() == 1
    assert contact_way(team, code["config_id"])["user"] == ["lisi"]


def test_a_binned_customer_who_adds_again_comes_back_once(sender, client, runtime, team, admin) -> None:
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan", State="", WelcomeCode="")
    with runtime.Session() as s:
        customer_id = s.scalar(select(Customer.id))
    assert client.delete(f"/api/v1/customers/{customer_id}", headers=admin).status_code == 200
    assert client.get(f"/api/v1/customers/{customer_id}", headers=admin).status_code == 404

    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="lisi", State="", WelcomeCode="")
    assert client.get(f"/api/v1/customers/{customer_id}", headers=admin).status_code == 200
    with runtime.Session() as s:
        readd = s.scalar(select(func.max(Inbox.id)))
        restored = [e.detail["by"] for e in s.scalars(select(CustomerEvent).where(CustomerEvent.kind == "restored"))]
    assert restored == ["wecom:lisi"]

    # Binned again by an admin: replaying the add that restored it must not bring it back a second time.
    assert client.delete(f"/api/v1/customers/{customer_id}", headers=admin).status_code == 200
    assert client.post(f"/api/v1/events/{readd}/replay", headers=admin).status_code == 202
    assert client.get(f"/api/v1/customers/{customer_id}", headers=admin).status_code == 404


def test_auto_accept_in_working_hours_follows_the_corp_calendar(runtime, team, client, admin,
                                                                monkeypatch) -> None:
    import jobs.channels
    from jobs.channels import reroute_codes_job

    week = {"mon": [["09:00", "12:00"], ["13:00", "18:00"]], "tue": [], "wed": [], "thu": [], "fri": [],
            "sat": [], "sun": []}
    assert client.put("/api/v1/working-hours", json={"week": week, "holidays": []}, headers=admin).status_code == 200
    monday_1130 = dt.datetime(2026, 11, 23, 3, 30, tzinfo=dt.UTC)  # 11:30 in Asia/Shanghai
    monkeypatch.setattr(jobs.channels, "utcnow", lambda: monday_1130)
    code = make_code(client, admin, accept_policy="auto_in_working_hours")
    assert team.calls("externalcontact/add_contact_way")[-1]["body"]["skip_verify"] is True
    assert reroute_codes_job() == 0  # nothing turned since 11:25

    monkeypatch.setattr(jobs.channels, "utcnow", lambda: monday_1130 + dt.timedelta(minutes=32))  # 12:02, lunch
    assert reroute_codes_job() == 1
    assert contact_way(team, code["config_id"])["skip_verify"] is False
    monkeypatch.setattr(jobs.channels, "utcnow", lambda: monday_1130 + dt.timedelta(minutes=36))
    assert reroute_codes_job() == 0  # still lunch: no second rewrite
    monkeypatch.setattr(jobs.channels, "utcnow", lambda: monday_1130 + dt.timedelta(minutes=92))  # 13:02
    assert reroute_codes_job() == 1
    assert contact_way(team, code["config_id"])["skip_verify"] is True
