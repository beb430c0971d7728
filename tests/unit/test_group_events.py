"""change_external_chat end to end with jobs inline: the fake WeCom plays a group's life (its control routes
answer the event's XML, which the test posts encrypted as WeCom would), groupchat/get is answered by the fake
over HTTP, and what a user would see is read from our rows."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import func, select

from group_support import DAY, T0, at, fake_group, group_row, snapshot, stints
from jobs.events import replay_event
from models import Customer, Inbox, Outbox
from models.groups import CustomerGroup, GroupMember
from wecom.fake.groups import event_xml
from support import CORP_ID


@pytest.fixture
def post(sender, fake_wecom):  # type: ignore[no-untyped-def]
    """Change the group in the fake (no callback of its own) and post the event it answers."""
    def drive(route: str, **body) -> dict:  # type: ignore[no-untyped-def]
        out = fake_group(fake_wecom.url, route, callback=False, **body)
        assert sender.post_xml(out["xml"]).status_code == 200
        return out
    return drive


def gets(fake_wecom) -> int:  # type: ignore[no-untyped-def]
    return len(fake_wecom.calls("externalcontact/groupchat/get"))


def make_group(post, **extra) -> str:  # type: ignore[no-untyped-def]
    return post("", owner="zhangsan", name="VIP 群", notice="欢迎", admins=["lisi"], at=T0,
                members=[{"userid": "lisi", "type": 1}], **extra)["chat_id"]


def test_created_group_is_fetched_with_its_members_and_counts(post, runtime, fake_wecom) -> None:
    chat_id = make_group(post)
    with runtime.Session() as s:
        group = group_row(s, chat_id)
        assert (group.name, group.owner_userid, group.notice, group.admins) == ("VIP 群", "zhangsan", "欢迎", ["lisi"])
        assert (group.staff_count, group.external_count, group.group_created_at) == (2, 0, at(T0))
        assert group.member_version and group.dismissed_at is None
        assert stints(s, chat_id) == [("zhangsan", at(T0), None, 1, None), ("lisi", at(T0), None, 1, None)]
    assert gets(fake_wecom) == 1


def test_join_by_code_is_recorded_with_scene_state_and_a_customer_stub(post, runtime) -> None:
    chat_id = make_group(post)
    post(f"/{chat_id}/members", at=T0 + 60,
         members=[{"userid": "wmScan01", "join_scene": 3, "state": "gcode-7", "name": "扫码客", "unionid": "un1"}])
    with runtime.Session() as s:
        member = s.scalar(select(GroupMember).where(GroupMember.member_id == "wmScan01"))
        customer = s.get(Customer, member.customer_id)
        assert (member.join_scene, member.join_state, member.inviter_userid, member.joined_at) == \
            (3, "gcode-7", "zhangsan", at(T0 + 60))
        assert (customer.external_userid, customer.name, customer.unionid, customer.synced_at) == \
            ("wmScan01", "扫码客", "un1", None)
        assert not customer.follows  # a stub: nobody's contact
        assert (group_row(s, chat_id).staff_count, group_row(s, chat_id).external_count) == (2, 1)


def test_a_known_customer_joining_is_linked_to_their_row(post, sender, runtime) -> None:
    assert sender.post("change_external_contact/add_external_contact", UserID="zhangsan",
                       ExternalUserID="wmCustomer0001").status_code == 200
    chat_id = make_group(post)
    post(f"/{chat_id}/members", at=T0 + 5, members=[{"userid": "wmCustomer0001", "join_scene": 1}])
    with runtime.Session() as s:
        known = s.scalar(select(Customer.id).where(Customer.external_userid == "wmCustomer0001"))
        assert s.scalar(select(GroupMember.customer_id).where(GroupMember.member_id == "wmCustomer0001")) == known
        assert s.scalar(select(func.count()).select_from(Customer)) == 1


def test_quit_closes_the_stint_at_the_event_time_with_its_scene(post, runtime) -> None:
    chat_id = make_group(post)
    post(f"/{chat_id}/members", at=T0 + 10, members=[{"userid": "wmA"}, {"userid": "wmB"}])
    post(f"/{chat_id}/quit", at=T0 + 20, userids=["wmA"], quit_scene=1)
    with runtime.Session() as s:
        assert stints(s, chat_id)[2:] == [("wmA", at(T0 + 10), at(T0 + 20), 1, 1), ("wmB", at(T0 + 10), None, 1, None)]
        assert (group_row(s, chat_id).staff_count, group_row(s, chat_id).external_count) == (2, 1)


def test_joins_and_quits_over_several_days_leave_one_stint_per_stay(post, runtime) -> None:
    chat_id = make_group(post)
    post(f"/{chat_id}/members", at=T0 + DAY, members=[{"userid": "wmA"}])
    post(f"/{chat_id}/quit", at=T0 + 2 * DAY, userids=["wmA"], quit_scene=0)
    post(f"/{chat_id}/members", at=T0 + 3 * DAY, members=[{"userid": "wmA", "join_scene": 3}])
    post(f"/{chat_id}/members", at=T0 + 4 * DAY, members=[{"userid": "wmB", "join_scene": 2}])
    with runtime.Session() as s:
        assert stints(s, chat_id)[2:] == [("wmA", at(T0 + DAY), at(T0 + 2 * DAY), 1, 0),
                                          ("wmA", at(T0 + 3 * DAY), None, 3, None),
                                          ("wmB", at(T0 + 4 * DAY), None, 2, None)]
        assert s.scalar(select(func.count()).select_from(Customer)) == 2  # one row each, however often they join


def test_a_missed_update_is_repaired_by_a_refetch(post, fake_wecom, runtime) -> None:
    chat_id = make_group(post)
    fake_group(fake_wecom.url, f"/{chat_id}/members", callback=False, at=T0 + 10, members=[{"userid": "wmLost"}])
    fake_group(fake_wecom.url, f"/{chat_id}/quit", callback=False, at=T0 + 15, userids=["lisi"])  # missed too
    before = gets(fake_wecom)
    out = post(f"/{chat_id}/members", at=T0 + 30, members=[{"userid": "wmSeen"}])
    assert gets(fake_wecom) == before + 1  # LastMemVer was not ours: refetched, not applied blindly
    with runtime.Session() as s:
        group = group_row(s, chat_id)
        open_now = {m for m, _, quit, _, _ in stints(s, chat_id) if quit is None}
        assert open_now == {"zhangsan", "wmLost", "wmSeen"}
        assert (group.member_version, group.staff_count, group.external_count) == (out["member_version"], 1, 2)
        assert ("lisi", at(T0), at(T0 + 30), 1, None) in stints(s, chat_id)  # gone when we learnt it, how unknown


def test_a_change_count_that_disagrees_with_the_list_refetches(sender, post, fake_wecom, runtime) -> None:
    chat_id = make_group(post)
    out = fake_group(fake_wecom.url, f"/{chat_id}/members", callback=False, at=T0 + 10,
                     members=[{"userid": "wmA"}, {"userid": "wmB"}])
    cut = out["xml"].replace("<Item><![CDATA[wmB]]></Item>", "")  # WeCom cut the list short
    assert sender.post_xml(cut).status_code == 200
    with runtime.Session() as s:
        assert {m for m, *_ in stints(s, chat_id)} == {"zhangsan", "lisi", "wmA", "wmB"}


def test_name_owner_and_notice_changes_are_fetched(post, runtime) -> None:
    chat_id = make_group(post)
    post(f"/{chat_id}/change", name="新群名")
    post(f"/{chat_id}/change", notice="新公告")
    post(f"/{chat_id}/change", owner="lisi")
    with runtime.Session() as s:
        group = group_row(s, chat_id)
        assert (group.name, group.notice, group.owner_userid) == ("新群名", "新公告", "lisi")


def test_dismiss_closes_every_stint_once(post, runtime) -> None:
    chat_id = make_group(post)
    post(f"/{chat_id}/members", at=T0 + 10, members=[{"userid": "wmA"}])
    post(f"/{chat_id}/dismiss", at=T0 + 100)
    with runtime.Session() as s:
        group = group_row(s, chat_id)
        assert (group.dismissed_at, group.staff_count, group.external_count) == (at(T0 + 100), 0, 0)
        assert [quit for _, _, quit, _, _ in stints(s, chat_id)] == [at(T0 + 100)] * 3


def test_replaying_every_group_event_twice_changes_nothing(post, runtime) -> None:
    chat_id = make_group(post)
    post(f"/{chat_id}/members", at=T0 + 10, members=[{"userid": "wmA", "join_scene": 3, "state": "s1"}])
    post(f"/{chat_id}/members", at=T0 + 20, members=[{"userid": "wmB"}])
    post(f"/{chat_id}/quit", at=T0 + 30, userids=["wmA"], quit_scene=0)
    post(f"/{chat_id}/change", name="改名")
    post(f"/{chat_id}/members", at=T0 + 40, members=[{"userid": "wmA"}])
    other = make_group(post)
    post(f"/{other}/dismiss", at=T0 + 50)
    with runtime.Session() as s:
        before = snapshot(s)
        inbox = list(s.scalars(select(Inbox.id).where(Inbox.routing_key.like("change_external_chat/%"))))
    assert len(inbox) == 8
    for _ in range(2):
        for inbox_id in inbox:
            replay_event(inbox_id)
    with runtime.Session() as s:
        assert snapshot(s) == before
        assert set(s.scalars(select(Inbox.status).where(Inbox.id.in_(inbox)))) == {"processed"}


def test_a_quit_of_someone_never_seen_writes_no_stint(sender, post, fake_wecom, runtime) -> None:
    chat_id = make_group(post)
    with runtime.Session() as s:
        version, before = group_row(s, chat_id).member_version, snapshot(s)
    xml = event_xml(CORP_ID, chat_id, T0 + 5, {"ChangeType": "update", "UpdateDetail": "del_member", "QuitScene": 0,
                                               "MemChangeCnt": 1, "MemChangeList": ["wmNobody"],
                                               "LastMemVer": version, "CurMemVer": "next"})
    calls = gets(fake_wecom)
    assert sender.post_xml(xml).status_code == 200
    assert gets(fake_wecom) == calls + 1  # our list was wrong: the group was read again, and matched
    with runtime.Session() as s:
        assert snapshot(s) == before
        assert s.scalar(select(Inbox.status).order_by(Inbox.id.desc()).limit(1)) == "processed"


def test_a_dismiss_of_an_unknown_group_writes_nothing(sender, runtime, fake_wecom) -> None:
    xml = event_xml(CORP_ID, "wrNeverSeen", T0, {"ChangeType": "dismiss"})
    assert sender.post_xml(xml).status_code == 200
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(CustomerGroup)) == 0
        assert s.scalar(select(func.count()).select_from(Outbox)) == 0
        assert s.scalar(select(Inbox.status)) == "processed"
    assert gets(fake_wecom) == 0


def test_a_member_event_for_an_unknown_group_fetches_it(sender, fake_wecom, runtime) -> None:
    out = fake_group(fake_wecom.url, "", callback=False, owner="zhangsan", at=T0, members=[{"userid": "wmA"}])
    joined = fake_group(fake_wecom.url, f"/{out['chat_id']}/members", callback=False, at=T0 + 9,
                        members=[{"userid": "wmB"}])
    assert sender.post_xml(joined["xml"]).status_code == 200
    with runtime.Session() as s:
        assert {m for m, *_ in stints(s, out["chat_id"])} == {"zhangsan", "wmA", "wmB"}


@pytest.mark.parametrize("slug, corp_id, status", [("no-such-app", CORP_ID, 404), ("default", "wwOtherCorp", 403)])
def test_an_event_for_an_unknown_app_or_corp_is_refused_and_not_stored(client, runtime, slug, corp_id,
                                                                      status) -> None:
    from support import AES_KEY, TOKEN
    from wecom.crypto import CallbackCrypto
    from wecom.fake.sender import build_callback

    crypto = CallbackCrypto(TOKEN, AES_KEY, corp_id)  # another corp: encrypted for a receiver id not ours
    params, body = build_callback(crypto, event_xml(corp_id, "wrX", T0, {"ChangeType": "create"}))
    r = client.post(f"/wecom/callback/{slug}", query_string=params, data=body, content_type="text/xml")
    assert r.status_code == status
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(Inbox)) == 0
        assert s.scalar(select(func.count()).select_from(CustomerGroup)) == 0


def test_quit_notice_goes_to_the_owner_once_when_the_corp_turned_it_on(post, client, make_token, runtime,
                                                                       fake_wecom) -> None:
    def notices() -> list:  # type: ignore[type-arg]
        log = requests.get(f"{fake_wecom.url}/fake/app_messages", timeout=5).json()
        return [m for m in log["delivered"] if "退群提醒" in str(m)]

    chat_id = make_group(post)
    post(f"/{chat_id}/members", at=T0 + 1, members=[{"userid": "wmA", "name": "阿甲"}, {"userid": "wmB"}])
    post(f"/{chat_id}/quit", at=T0 + 2, userids=["wmA"])
    assert notices() == []  # off by default
    r = client.patch("/api/v1/settings", json={"notify_owner_on_group_quit": True}, headers=make_token("super_admin"))
    assert r.status_code == 200 and r.get_json()["notify_owner_on_group_quit"] is True
    post(f"/{chat_id}/quit", at=T0 + 3, userids=["wmB", "lisi"])
    with runtime.Session() as s:
        for inbox_id in s.scalars(select(Inbox.id)):
            replay_event(inbox_id)
    [notice] = notices()
    assert "zhangsan" in str(notice) and "wmB" in str(notice)


def test_a_staff_member_joining_is_staff_and_no_customer(post, runtime) -> None:
    chat_id = make_group(post)
    post(f"/{chat_id}/members", at=T0 + 1, members=[{"userid": "newhire", "type": 1}, {"userid": "wmGuest"}])
    with runtime.Session() as s:
        types = dict(s.execute(select(GroupMember.member_id, GroupMember.member_type)).all())
        assert (types["newhire"], types["wmGuest"]) == (1, 2)
        assert s.scalars(select(Customer.external_userid)).all() == ["wmGuest"]
        assert (group_row(s, chat_id).staff_count, group_row(s, chat_id).external_count) == (3, 1)


@pytest.mark.parametrize("chat_id", ["", "wr" + "x" * 80])
def test_an_event_without_a_usable_chat_id_writes_nothing(sender, runtime, fake_wecom, chat_id) -> None:
    for fields in ({"ChangeType": "create"}, {"ChangeType": "update", "UpdateDetail": "add_member", "MemChangeCnt": 1,
                                             "MemChangeList": ["wmA"]}, {"ChangeType": "dismiss"}):
        assert sender.post_xml(event_xml(CORP_ID, chat_id, T0, fields)).status_code == 200
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(CustomerGroup)) == 0
        assert s.scalar(select(func.count()).select_from(Outbox)) == 0
        assert set(s.scalars(select(Inbox.status))) == {"processed"}
    assert gets(fake_wecom) == 0
